import Checksums

/// One record handed out by ``RecordingReader/nextRecord()``: its message, where it lay in the
/// file, and the checksum still to be verified.
///
/// The reader has checked the framing (for version 2, the header's own CRC-32C; for both versions,
/// frame counts and lengths against the limits and the file's size) but not the payload's
/// checksum: call ``verify()`` before using ``message``, on any thread. Verifying records on
/// several worker threads is the point of the split; handling the results in record order (the
/// first failure in file order is the one to report) is the caller's job.
///
/// `@unchecked Sendable` is honest: every property is a `let`, and `checked` views immutable bytes
/// kept alive by `message` (a mapped file or a read buffer), which is itself `Sendable`.
public struct RecordedMessage: @unchecked Sendable {
    /// The batch message, viewing the record's bytes in place. Not verified until ``verify()``
    /// returns.
    public let message: WireMessage
    /// The recording's path, for errors.
    public let path: String
    /// The byte offset of the record in the file.
    public let offset: UInt64
    /// The record's bytes in the file, padding included: the next record starts at
    /// `offset + byteCount`.
    public let byteCount: UInt64
    /// How many records come before this one in the file.
    public let index: Int
    /// The format version of the file.
    public let version: RecordingFormat.Version

    private let checked: UnsafeRawBufferPointer
    private let stored: UInt32
    private let checksum: RecordChecksum

    init(
        message: WireMessage, path: String, offset: UInt64, index: Int, version: RecordingFormat.Version,
        record: UnsafeRawBufferPointer, layout: RecordLayout
    ) {
        self.message = message
        self.path = path
        self.offset = offset
        self.byteCount = layout.totalBytes
        self.index = index
        self.version = version
        checked = UnsafeRawBufferPointer(rebasing: record[layout.checked])
        stored = UInt32(
            littleEndian: record.loadUnaligned(fromByteOffset: layout.storedChecksumOffset, as: UInt32.self))
        checksum = layout.checksum
    }

    /// Checks the record's checksum: CRC-32 (zlib) over the whole record for version 1, CRC-32C
    /// over the frames and their padding for version 2.
    ///
    /// Thread-safe, and as fast as the CPU's CRC instruction allows for version 2.
    ///
    /// - Throws: ``RecordingError/damaged(path:offset:goodRecords:reason:)`` naming this record's
    ///   offset and, as good records, the records before it (true once those verified).
    public func verify() throws(RecordingError) {
        let computed = checksum == .crc32 ? CRC32.checksum(checked) : CRC32C.checksum(checked)
        guard computed == stored else {
            throw .damaged(
                path: path, offset: offset, goodRecords: index,
                reason:
                    "its \(checksum.name) is \(hex(stored)) but its bytes give \(hex(computed)) (the file was "
                    + "altered or corrupted)"
            )
        }
    }
}
