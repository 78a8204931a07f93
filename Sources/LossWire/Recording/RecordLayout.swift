import Checksums

/// Where one record's parts lie, relative to the record's first byte, read from its header.
///
/// Made by ``RecordLayout/parse(_:header:limits:)`` once the header is in memory: for version 2
/// only after the header's own CRC-32C matched, so every length here can be trusted; for version 1
/// the lengths are only bounded (by the limits), since its one CRC covers the whole record.
struct RecordLayout: Sendable {
    /// The record's bytes in the file, padding included.
    var totalBytes: UInt64
    /// The receive time in nanoseconds since the Unix epoch, 0 if unknown.
    var receiveTimeNs: UInt64
    /// Each frame's start and length.
    var frames: [(offset: Int, count: Int)]
    /// The bytes the record's checksum covers.
    var checked: Range<Int>
    /// Where the stored checksum lies (u32 LE).
    var storedChecksumOffset: Int
    /// Which checksum the record carries.
    var checksum: RecordChecksum

    /// The header bytes to read first, enough to learn the header's full size.
    static func leadingBytes(_ version: RecordingFormat.Version) -> Int {
        version == .v1 ? RecordingFormat.fixedHeaderBytes : RecordingFormat.v2FixedHeaderBytes
    }

    /// The full header's size, from its leading bytes; the frame count is checked here.
    static func headerBytes(
        _ version: RecordingFormat.Version, leading: UnsafeRawBufferPointer
    ) throws(LayoutProblem) -> Int {
        let countOffset = version == .v1 ? 8 : 16
        let frameCount = Int(UInt32(littleEndian: leading.loadUnaligned(fromByteOffset: countOffset, as: UInt32.self)))
        guard (1...RecordingFormat.maxFrames).contains(frameCount) else {
            throw LayoutProblem("its frame count is \(frameCount), not 1 to \(RecordingFormat.maxFrames)")
        }
        switch version {
        case .v1: return RecordingFormat.fixedHeaderBytes + 8 * frameCount
        case .v2: return RecordingFormat.aligned(RecordingFormat.v2HeaderBytes(frameCount: frameCount))
        }
    }

    /// The layout from a whole header (``headerBytes(_:leading:)`` bytes).
    static func parse(
        _ version: RecordingFormat.Version, header: UnsafeRawBufferPointer, limits: WireLimits
    ) throws(LayoutProblem) -> RecordLayout {
        switch version {
        case .v1: try parseV1(header, limits: limits)
        case .v2: try parseV2(header, limits: limits)
        }
    }

    private static func u64(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    private static func u32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Every length within the limit, and their sum too.
    private static func checkLengths(_ lengths: [UInt64], limits: WireLimits) throws(LayoutProblem) {
        let maxBytes = UInt64(clamping: limits.maxMessageBytes)
        var payload: UInt64 = 0
        for (index, length) in lengths.enumerated() {
            guard length <= maxBytes, payload + length <= maxBytes else {
                throw LayoutProblem(
                    "frame \(index) claims \(length) bytes, beyond max_message_bytes (\(limits.maxMessageBytes)); "
                        + "if the recording is intact, read it with a larger max_message_bytes")
            }
            payload += length
        }
    }

    /// Each frame's place after a header of `headerBytes`, one after the other, each padded to
    /// ``RecordingFormat/alignment`` if `padded`; and where the last one ends. The lengths are
    /// within max_message_bytes (an Int), so the sums cannot overflow.
    private static func place(
        _ lengths: [UInt64], after headerBytes: Int, padded: Bool
    ) -> (frames: [(offset: Int, count: Int)], end: Int) {
        var frames: [(offset: Int, count: Int)] = []
        frames.reserveCapacity(lengths.count)
        var offset = headerBytes
        for length in lengths {
            frames.append((offset, Int(length)))
            offset += padded ? RecordingFormat.aligned(Int(length)) : Int(length)
        }
        return (frames, offset)
    }

    private static func parseV1(
        _ header: UnsafeRawBufferPointer, limits: WireLimits
    ) throws(LayoutProblem) -> RecordLayout {
        let frameCount = (header.count - RecordingFormat.fixedHeaderBytes) / 8
        let lengths = (0..<frameCount).map { u64(header, RecordingFormat.fixedHeaderBytes + 8 * $0) }
        try checkLengths(lengths, limits: limits)
        let (frames, offset) = place(lengths, after: header.count, padded: false)
        return RecordLayout(
            totalBytes: UInt64(offset + 4), receiveTimeNs: u64(header, 0), frames: frames,
            checked: 0..<offset, storedChecksumOffset: offset, checksum: .crc32)
    }

    private static func parseV2(
        _ header: UnsafeRawBufferPointer, limits: WireLimits
    ) throws(LayoutProblem) -> RecordLayout {
        let frameCount = Int(u32(header, 16))
        let headerBytes = RecordingFormat.v2HeaderBytes(frameCount: frameCount)
        let stored = u32(header, headerBytes - 4)
        let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: header[..<(headerBytes - 4)]))
        guard stored == computed else {
            throw LayoutProblem(
                "its header's CRC-32C is \(hex(stored)) but the header gives \(hex(computed)) (the file was altered "
                    + "or corrupted)"
            )
        }
        guard header[headerBytes...].allSatisfy({ $0 == 0 }) else {
            throw LayoutProblem("the padding after its header is not zero")
        }
        let lengths = (0..<frameCount).map { u64(header, RecordingFormat.v2FixedHeaderBytes + 8 * $0) }
        try checkLengths(lengths, limits: limits)
        let (frames, offset) = place(lengths, after: header.count, padded: true)
        let declared = u64(header, 0)
        guard declared == UInt64(offset) else {
            throw LayoutProblem("its header gives a record length of \(declared) bytes but its frames take \(offset)")
        }
        return RecordLayout(
            totalBytes: declared, receiveTimeNs: u64(header, 8), frames: frames,
            checked: header.count..<offset, storedChecksumOffset: 20, checksum: .crc32c)
    }
}

/// The checksum a record carries.
enum RecordChecksum: Sendable, Hashable {
    /// CRC-32 (zlib), version 1.
    case crc32
    /// CRC-32C, version 2.
    case crc32c

    /// The checksum's name in messages.
    var name: String { self == .crc32 ? "CRC-32" : "CRC-32C" }
}

/// Why a record header is damaged, as a sentence; the reader adds the file, offset and count.
struct LayoutProblem: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

/// `value` as `0x` and 8 hex digits.
func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
