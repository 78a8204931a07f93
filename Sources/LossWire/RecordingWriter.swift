import Checksums

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes batch messages to a `.lossrec` recording, exactly as they came off the wire.
///
/// Writes format version 2 (``RecordingFormat/currentVersion``) unless told to write version 1,
/// which only tests and tools that must make files for older readers need.
///
/// One owner at a time: a writer is not `Sendable`; keep it on the thread that receives messages.
/// Writes are buffered; large frames bypass the buffer. Call ``close()`` to flush and close;
/// `deinit` does the same but cannot report failure. After a write error the writer refuses further
/// appends, because the file then ends with a partial record.
public final class RecordingWriter {
    /// The file being written.
    public let path: String
    /// The number of records appended so far.
    public private(set) var recordCount = 0
    /// The number of records whose every byte has been handed to the file (the rest are still in
    /// the buffer, or were lost with it when a write failed): what a reader will find.
    public private(set) var writtenRecordCount = 0
    /// The file's size once everything appended so far is flushed.
    public private(set) var byteCount: UInt64 = 0
    /// The format version being written.
    public let version: RecordingFormat.Version

    private var fd: Int32
    private var buffer: [UInt8] = []
    private let bufferCapacity: Int
    private var failed = false

    /// Creates (or truncates) `path` and writes the file header: the magic, and for version 2 56
    /// zero bytes.
    ///
    /// - Parameters:
    ///   - path: the recording's path.
    ///   - version: the format version to write.
    ///   - bufferCapacity: bytes gathered before a `write` call; frames at least half this size are
    ///     written directly.
    /// - Throws: ``RecordingError/openFailed(path:errno:)``.
    public init(
        path: String, version: RecordingFormat.Version = RecordingFormat.currentVersion, bufferCapacity: Int = 1 << 20
    ) throws(RecordingError) {
        self.path = path
        self.version = version
        self.bufferCapacity = max(bufferCapacity, 4096)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .openFailed(path: path, errno: errno) }
        self.fd = fd
        buffer.reserveCapacity(self.bufferCapacity)
        buffer.append(contentsOf: version.magic)
        buffer.append(contentsOf: repeatElement(0, count: version.fileHeaderBytes - version.magic.count))
        byteCount = UInt64(version.fileHeaderBytes)
    }

    deinit {
        if fd >= 0 {
            if !failed { _ = buffer.withUnsafeBytes { PosixIO.writeAll(fd, $0) } }
            PosixIO.closeFile(fd)
        }
    }

    /// Appends one message as a record.
    public func append(_ message: WireMessage) throws(RecordingError) {
        try append(frames: message.frames, receiveTimeNs: message.receiveTimeNs)
    }

    /// Appends one record made of `frames`.
    ///
    /// - Throws: ``RecordingError/invalidMessage(reason:)`` for 0 or more than 16 frames (nothing is
    ///   written), ``RecordingError/writeFailed(path:errno:)``, ``RecordingError/closed(path:)``.
    public func append(frames: [UnsafeRawBufferPointer], receiveTimeNs: UInt64) throws(RecordingError) {
        guard fd >= 0, !failed else { throw .closed(path: path) }
        guard (1...RecordingFormat.maxFrames).contains(frames.count) else {
            throw .invalidMessage(
                reason: "a record holds 1 to \(RecordingFormat.maxFrames) frames, not \(frames.count)")
        }
        switch version {
        case .v1: try appendV1(frames: frames, receiveTimeNs: receiveTimeNs)
        case .v2: try appendV2(frames: frames, receiveTimeNs: receiveTimeNs)
        }
        recordCount += 1
        if buffer.count >= bufferCapacity { try flushBuffer() }
    }

    /// Version 1: time, count, lengths, frames, CRC-32 of all of it.
    private func appendV1(frames: [UnsafeRawBufferPointer], receiveTimeNs: UInt64) throws(RecordingError) {
        var crc = CRC32()
        let headerStart = buffer.count
        appendLittleEndian(receiveTimeNs)
        appendLittleEndian(UInt32(frames.count))
        for frame in frames { appendLittleEndian(UInt64(frame.count)) }
        buffer.withUnsafeBytes { crc.update(UnsafeRawBufferPointer(rebasing: $0[headerStart...])) }
        var recordBytes = UInt64(buffer.count - headerStart)
        for frame in frames {
            crc.update(frame)
            try appendFrame(frame)
            recordBytes += UInt64(frame.count)
        }
        appendLittleEndian(crc.value)
        recordBytes += 4
        byteCount += recordBytes
    }

    /// Version 2: a checksummed header padded to 64 bytes, then each frame padded to 64 bytes.
    private func appendV2(frames: [UnsafeRawBufferPointer], receiveTimeNs: UInt64) throws(RecordingError) {
        let zeros = Self.zeros
        var payloadCRC = CRC32C()
        var recordBytes = RecordingFormat.aligned(RecordingFormat.v2HeaderBytes(frameCount: frames.count))
        for frame in frames {
            payloadCRC.update(frame)
            let padding = RecordingFormat.aligned(frame.count) - frame.count
            zeros.withUnsafeBytes { payloadCRC.update(UnsafeRawBufferPointer(rebasing: $0[..<padding])) }
            recordBytes += frame.count + padding
        }
        let headerStart = buffer.count
        appendLittleEndian(UInt64(recordBytes))
        appendLittleEndian(receiveTimeNs)
        appendLittleEndian(UInt32(frames.count))
        appendLittleEndian(payloadCRC.value)
        for frame in frames { appendLittleEndian(UInt64(frame.count)) }
        let headerCRC = buffer.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[headerStart...])) }
        appendLittleEndian(headerCRC)
        buffer.append(
            contentsOf: zeros[..<(RecordingFormat.aligned(buffer.count - headerStart) - (buffer.count - headerStart))])
        for frame in frames {
            try appendFrame(frame)
            buffer.append(contentsOf: zeros[..<(RecordingFormat.aligned(frame.count) - frame.count)])
        }
        byteCount += UInt64(recordBytes)
    }

    /// The bytes that pad a version 2 header or frame.
    private static let zeros = [UInt8](repeating: 0, count: RecordingFormat.alignment)

    /// Buffers `frame`, or writes it directly if it is large.
    private func appendFrame(_ frame: UnsafeRawBufferPointer) throws(RecordingError) {
        if frame.count >= bufferCapacity / 2 {
            try flushBuffer()
            try writeDirect(frame)
        } else {
            if buffer.count + frame.count > bufferCapacity { try flushBuffer() }
            buffer.append(contentsOf: frame)
        }
    }

    /// Writes buffered bytes to the file (to the kernel; no `fsync`).
    public func flush() throws(RecordingError) {
        guard fd >= 0, !failed else { throw .closed(path: path) }
        try flushBuffer()
    }

    /// Flushes and closes the file. Further appends throw ``RecordingError/closed(path:)``.
    public func close() throws(RecordingError) {
        guard fd >= 0 else { return }
        defer {
            PosixIO.closeFile(fd)
            fd = -1
        }
        if !failed { try flushBuffer() }
    }

    private func appendLittleEndian<Value: FixedWidthInteger>(_ value: Value) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
    }

    private func flushBuffer() throws(RecordingError) {
        guard !buffer.isEmpty else {
            // Nothing buffered: every record so far is in the file (a version 2 record whose last
            // frame was written directly and needs no padding leaves the buffer empty).
            writtenRecordCount = recordCount
            return
        }
        let failure = buffer.withUnsafeBytes { PosixIO.writeAll(fd, $0) }
        buffer.removeAll(keepingCapacity: true)
        if let failure {
            failed = true
            throw .writeFailed(path: path, errno: failure)
        }
        // A flush inside append comes before that record is counted, so this never claims a
        // record whose last bytes are not written yet.
        writtenRecordCount = recordCount
    }

    private func writeDirect(_ bytes: UnsafeRawBufferPointer) throws(RecordingError) {
        if let failure = PosixIO.writeAll(fd, bytes) {
            failed = true
            throw .writeFailed(path: path, errno: failure)
        }
    }
}
