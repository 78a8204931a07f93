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
/// Frames are never copied once they are large: a frame of ``directFrameBytes`` or more goes to the
/// file from where it lies, in the same `writev` call as the record's header, padding and small
/// frames, so a record of SSD-sized tensors is one large sequential write. Small frames and headers
/// are gathered in a buffer of `bufferCapacity` bytes, so that a stream of small records still
/// makes few, large writes. A record with a large frame is written whole before ``append(_:)``
/// returns; small records wait in the buffer until it fills, ``flush()`` or ``close()``.
///
/// One owner at a time: a writer is not `Sendable` (the sidecar keeps it on a thread of its own).
/// `deinit` flushes and closes, but cannot report failure: call ``close()``. After a write error
/// the writer refuses further appends, because the file then ends with a partial record.
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
    /// Frames of at least this many bytes are written from the caller's memory, never copied.
    public let directFrameBytes: Int
    /// How the file's pages leave the page cache, or `nil` to leave them to the kernel.
    public private(set) var writeBehind: WriteBehind?

    private var fd: Int32
    private var failed = false
    /// The bytes handed to the file so far.
    private var flushedBytes: UInt64 = 0
    /// Gathered headers, padding and small frames.
    private let buffer: UnsafeMutableRawBufferPointer
    private var buffered = 0
    /// What the next write sends, in file order.
    private var pieces: [Piece] = []
    private var hasDirectPiece = false
    /// ``RecordingFormat/alignment`` zero bytes: the padding of version 2.
    private let zeros: UnsafeMutableRawBufferPointer

    /// A run of bytes to write: from the buffer, or from a frame where it lies.
    private enum Piece {
        case buffered(Range<Int>)
        case direct(UnsafeRawBufferPointer)
    }

    /// Creates (or truncates) `path` and writes the file header: the magic, and for version 2 56
    /// zero bytes.
    ///
    /// - Parameters:
    ///   - path: the recording's path.
    ///   - version: the format version to write.
    ///   - bufferCapacity: bytes of headers and small frames gathered before a write (at least 4096).
    ///     Frames of at least half of it, or of 64 KiB, whichever is less, are never copied.
    ///   - writeBehind: keeps the recording from filling the page cache (``WriteBehind``); by
    ///     default the kernel decides, so that a file read soon after it is written stays cached.
    /// - Throws: ``RecordingError/openFailed(path:errno:)``.
    public init(
        path: String, version: RecordingFormat.Version = RecordingFormat.currentVersion, bufferCapacity: Int = 1 << 20,
        writeBehind: WriteBehind? = nil
    ) throws(RecordingError) {
        self.path = path
        self.version = version
        self.writeBehind = writeBehind
        let capacity = max(bufferCapacity, 4096)
        self.directFrameBytes = min(capacity / 2, 64 << 10)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .openFailed(path: path, errno: errno) }
        self.fd = fd
        buffer = .allocate(byteCount: capacity, alignment: RecordingFormat.alignment)
        zeros = .allocate(byteCount: RecordingFormat.alignment, alignment: RecordingFormat.alignment)
        zeros.initializeMemory(as: UInt8.self, repeating: 0)
        let header = version.fileHeaderBytes
        UnsafeMutableRawBufferPointer(rebasing: buffer[..<header]).initializeMemory(as: UInt8.self, repeating: 0)
        version.magic.withUnsafeBytes { buffer.copyMemory(from: $0) }
        buffered = header
        pieces = [.buffered(0..<header)]
        byteCount = UInt64(header)
    }

    deinit {
        if fd >= 0 {
            // Only buffered pieces can be pending here: a direct one is written before append returns.
            if !failed { _ = writePieces() }
            PosixIO.closeFile(fd)
        }
        buffer.deallocate()
        zeros.deallocate()
    }

    /// Appends one message as a record.
    public func append(_ message: WireMessage) throws(RecordingError) {
        try append(frames: message.frames, receiveTimeNs: message.receiveTimeNs)
    }

    /// Appends one record made of `frames`, which must stay valid until this call returns.
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
        // Direct pieces point into the caller's frames: they are written before this call returns.
        if hasDirectPiece { try flushPieces(completing: recordCount + 1) }
        recordCount += 1
    }

    /// Version 1: time, count, lengths, frames, CRC-32 of all of it.
    private func appendV1(frames: [UnsafeRawBufferPointer], receiveTimeNs: UInt64) throws(RecordingError) {
        let headerBytes = RecordingFormat.fixedHeaderBytes + 8 * frames.count
        try reserve(headerBytes)
        let headerStart = buffered
        put(receiveTimeNs)
        put(UInt32(frames.count))
        for frame in frames { put(UInt64(frame.count)) }
        var crc = CRC32()
        crc.update(UnsafeRawBufferPointer(rebasing: buffer[headerStart..<buffered]))
        var recordBytes = UInt64(headerBytes)
        for frame in frames {
            crc.update(frame)
            try appendFrame(frame)
            recordBytes += UInt64(frame.count)
        }
        try reserve(4)
        put(crc.value)
        byteCount += recordBytes + 4
    }

    /// Version 2: a checksummed header padded to 64 bytes, then each frame padded to 64 bytes.
    private func appendV2(frames: [UnsafeRawBufferPointer], receiveTimeNs: UInt64) throws(RecordingError) {
        let zeros = UnsafeRawBufferPointer(self.zeros)
        var payloadCRC = CRC32C()
        let headerBytes = RecordingFormat.v2HeaderBytes(frameCount: frames.count)
        let paddedHeaderBytes = RecordingFormat.aligned(headerBytes)
        var recordBytes = paddedHeaderBytes
        for frame in frames {
            payloadCRC.update(frame)
            let padding = RecordingFormat.aligned(frame.count) - frame.count
            payloadCRC.update(UnsafeRawBufferPointer(rebasing: zeros[..<padding]))
            recordBytes += frame.count + padding
        }
        try reserve(paddedHeaderBytes)
        let headerStart = buffered
        put(UInt64(recordBytes))
        put(receiveTimeNs)
        put(UInt32(frames.count))
        put(payloadCRC.value)
        for frame in frames { put(UInt64(frame.count)) }
        put(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[headerStart..<buffered])))
        try appendBuffered(UnsafeRawBufferPointer(rebasing: zeros[..<(paddedHeaderBytes - headerBytes)]))
        for frame in frames {
            try appendFrame(frame)
            try appendBuffered(
                UnsafeRawBufferPointer(rebasing: zeros[..<(RecordingFormat.aligned(frame.count) - frame.count)]))
        }
        byteCount += UInt64(recordBytes)
    }

    /// Queues `frame`: by reference if it is large, else copied into the buffer.
    private func appendFrame(_ frame: UnsafeRawBufferPointer) throws(RecordingError) {
        guard frame.count >= directFrameBytes else {
            try appendBuffered(frame)
            return
        }
        pieces.append(.direct(frame))
        hasDirectPiece = true
    }

    /// Copies `bytes` (smaller than the buffer) into the buffer, writing what is queued first if
    /// they do not fit.
    private func appendBuffered(_ bytes: UnsafeRawBufferPointer) throws(RecordingError) {
        guard !bytes.isEmpty else { return }
        try reserve(bytes.count)
        UnsafeMutableRawBufferPointer(rebasing: buffer[buffered..<(buffered + bytes.count)]).copyMemory(from: bytes)
        extendBufferedPiece(by: bytes.count)
    }

    /// Makes room for `count` contiguous bytes in the buffer, writing what is queued if needed.
    private func reserve(_ count: Int) throws(RecordingError) {
        if buffered + count > buffer.count { try flushPieces() }
    }

    /// Stores `value` little-endian at the end of the buffer; ``reserve(_:)`` made room.
    private func put<Value: FixedWidthInteger>(_ value: Value) {
        buffer.storeBytes(of: value.littleEndian, toByteOffset: buffered, as: Value.self)
        extendBufferedPiece(by: MemoryLayout<Value>.size)
    }

    /// Counts `count` more bytes at the end of the buffer into the last piece, or a new one.
    private func extendBufferedPiece(by count: Int) {
        if case .buffered(let range)? = pieces.last, range.upperBound == buffered {
            pieces[pieces.count - 1] = .buffered(range.lowerBound..<(buffered + count))
        } else {
            pieces.append(.buffered(buffered..<(buffered + count)))
        }
        buffered += count
    }

    /// Writes buffered bytes to the file (to the kernel; no `fsync`).
    public func flush() throws(RecordingError) {
        guard fd >= 0, !failed else { throw .closed(path: path) }
        try flushPieces()
    }

    /// Flushes and closes the file. Further appends throw ``RecordingError/closed(path:)``.
    public func close() throws(RecordingError) {
        guard fd >= 0 else { return }
        defer {
            PosixIO.closeFile(fd)
            fd = -1
        }
        if !failed { try flushPieces() }
    }

    /// Writes what is queued; then the first `records` records (by default, those appended
    /// before the one being appended, if any) are in the file.
    private func flushPieces(completing records: Int? = nil) throws(RecordingError) {
        guard !pieces.isEmpty else {
            // Nothing queued: every record before the one being appended is in the file (a
            // version 2 record whose last frame went out directly leaves the queue empty).
            writtenRecordCount = records ?? recordCount
            return
        }
        if let failure = writePieces() {
            failed = true
            throw .writeFailed(path: path, errno: failure)
        }
        writtenRecordCount = records ?? recordCount
    }

    /// Writes every queued piece in order with `writev` and empties the queue; returns `errno` on failure.
    private func writePieces() -> Int32? {
        var bytes: UInt64 = 0
        var vectors = pieces.map { piece -> iovec in
            switch piece {
            case .buffered(let range):
                bytes += UInt64(range.count)
                return iovec(iov_base: buffer.baseAddress.map { $0 + range.lowerBound }, iov_len: range.count)
            case .direct(let frame):
                bytes += UInt64(frame.count)
                return iovec(
                    iov_base: frame.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }, iov_len: frame.count)
            }
        }
        pieces.removeAll(keepingCapacity: true)
        buffered = 0
        hasDirectPiece = false
        if let failure = PosixIO.writeAll(fd, &vectors) { return failure }
        flushedBytes += bytes
        writeBehind?.written(fd: fd, upTo: flushedBytes)
        return nil
    }
}
