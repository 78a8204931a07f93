/// The constants of the `.lossrec` recording format.
///
/// A recording is the 8 bytes `LOSSREC1`, then records. A record is a u64 LE receive time (ns since
/// the Unix epoch, 0 if unknown), a u32 LE frame count F (1…16), F u64 LE frame lengths, the frames'
/// bytes, and a u32 LE CRC-32 (``CRC32``) of every preceding byte of the record.
public enum RecordingFormat {
    /// The file's first 8 bytes.
    public static let magic: [UInt8] = Array("LOSSREC1".utf8)
    /// The most frames a record may hold.
    public static let maxFrames = 16
    /// The bytes of a record before its frame lengths: receive time and frame count.
    static let fixedHeaderBytes = 12
    /// The alignment of each frame in memory when a reader or copy allocates them.
    static let frameAlignment = 16
}
