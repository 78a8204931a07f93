import Checksums

/// TFRecord framing: how TensorFlow's record files, TensorBoard's event files among them, store
/// each record.
///
/// ```
/// length:u64le  masked_crc32c(length):u32le  data  masked_crc32c(data):u32le
/// ```
///
/// Both checksums are CRC-32C masked as ``Checksums/CRC32C/masked(_:)`` describes, the one of the
/// length over its 8 bytes.
public enum TFRecord {
    /// The bytes a record adds around its data.
    public static let overheadBytes = 16

    /// Appends one record holding `data` to `buffer`.
    public static func append(_ data: [UInt8], to buffer: inout [UInt8]) {
        let lengthBytes = withUnsafeBytes(of: UInt64(data.count).littleEndian) { Array($0) }
        buffer.reserveCapacity(buffer.count + data.count + overheadBytes)
        buffer.append(contentsOf: lengthBytes)
        appendLittleEndian(CRC32C.maskedChecksum(lengthBytes), to: &buffer)
        buffer.append(contentsOf: data)
        appendLittleEndian(CRC32C.maskedChecksum(data), to: &buffer)
    }

    /// One record holding `data`.
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        var buffer: [UInt8] = []
        append(data, to: &buffer)
        return buffer
    }

    private static func appendLittleEndian(_ value: UInt32, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
    }
}
