/// The constants and layout rules of the `.lossrec` recording formats (docs/PROTOCOL.md, §3).
///
/// **Version 1** (`LOSSREC1`): records packed back to back. A record is a u64 LE receive time
/// (ns since the Unix epoch, 0 if unknown), a u32 LE frame count F (1…16), F u64 LE frame lengths,
/// the frames' bytes, and a u32 LE CRC-32 (zlib) of every preceding byte of the record.
///
/// **Version 2** (`LOSSREC2`, what lossd writes): a 64-byte file header, then records that each
/// start on a multiple of 64 bytes. A record's header carries the record's total length, the
/// receive time, F, the CRC-32C of the payload, the F frame lengths and a CRC-32C of itself, and is
/// padded with zeros to a multiple of 64; each frame follows, padded with zeros to a multiple of 64.
/// So a reader can trust the lengths (the header's own checksum) before it touches the payload,
/// leave the payload's checksum to another thread, skip a record with one read, and hand out every
/// frame of a memory-mapped file as a 64-byte-aligned view.
public enum RecordingFormat {
    /// A version of the format, named by the last byte of the file's magic.
    public enum Version: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// `LOSSREC1`: records back to back, one CRC-32 (zlib) per record.
        case v1 = 1
        /// `LOSSREC2`: 64-byte-aligned records and frames, CRC-32C of each header and each payload.
        case v2 = 2

        /// The file's first 8 bytes.
        public var magic: [UInt8] { Array("LOSSREC\(rawValue)".utf8) }

        /// The bytes before the first record: the magic (v1), or the magic and 56 zero bytes (v2).
        public var fileHeaderBytes: Int { self == .v1 ? 8 : 64 }

        /// `"1"` or `"2"`.
        public var description: String { String(rawValue) }
    }

    /// The version lossd writes unless told otherwise.
    public static let currentVersion = Version.v2
    /// The magic of version 1 (kept for callers of the first API).
    public static let magic: [UInt8] = Version.v1.magic
    /// The first 7 bytes of every version's magic.
    static let magicPrefix: [UInt8] = Array("LOSSREC".utf8)
    /// The most frames a record may hold.
    public static let maxFrames = 16
    /// Version 2's alignment of records and frames in the file: a cache line, and the widest
    /// vector load, so that no load of a mapped tensor straddles two lines.
    public static let alignment = 64

    /// Version 1: the bytes of a record before its frame lengths (receive time and frame count).
    static let fixedHeaderBytes = 12

    /// Version 2: the bytes of a record header before its frame lengths: record length, receive
    /// time, frame count and payload CRC-32C.
    static let v2FixedHeaderBytes = 24

    /// Version 2: the bytes of a record header with `frameCount` frames, before its padding.
    static func v2HeaderBytes(frameCount: Int) -> Int { v2FixedHeaderBytes + 8 * frameCount + 4 }

    /// `count` rounded up to a multiple of ``alignment``.
    static func aligned(_ count: Int) -> Int { (count + alignment - 1) & ~(alignment - 1) }

    /// `count` rounded up to a multiple of ``alignment``, or `nil` past `UInt64.max`.
    static func aligned(_ count: UInt64) -> UInt64? {
        let (sum, overflow) = count.addingReportingOverflow(UInt64(alignment - 1))
        return overflow ? nil : sum & ~UInt64(alignment - 1)
    }
}
