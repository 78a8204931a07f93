#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads batch messages back from a `.lossrec` recording of either version, one record at a time.
///
/// The version comes from the file's magic. Two ways to read:
/// - ``next()`` returns each message verified (its checksum matched), as a single-threaded caller
///   wants;
/// - ``nextRecord()`` returns each record with its framing checked but its payload checksum not
///   yet: the caller runs ``RecordedMessage/verify()`` on a worker thread, so that several records
///   are verified at once.
///
/// Either way, frame counts and lengths are checked against ``WireLimits/maxMessageBytes`` and the
/// bytes left in the file before anything is allocated or touched, and for version 2 the header's
/// own CRC-32C is checked before its lengths are believed. The messages view the record's bytes in
/// place (``Access``). The reader stops at the first truncated or damaged record and throws an error
/// naming its byte offset and the number of good records before it; every earlier record has
/// already been returned. The error repeats on later calls. One owner at a time: a reader is not
/// `Sendable`; the messages and records it returns are.
public final class RecordingReader {
    /// Where the messages' bytes live.
    public enum Access: Sendable, Hashable, CaseIterable {
        /// The file is memory-mapped and messages view it: no copy, and no memory beyond the page
        /// cache. Version 2 frames are then 64-byte aligned in memory.
        case mapped
        /// Each record is read into a page-aligned buffer that is reused once its message is gone.
        case buffered

        /// What lossd uses: ``mapped``, the faster of the two on the measured machine
        /// (docs/PERFORMANCE.md, "Reading recordings").
        public static let `default` = Access.mapped
    }

    /// The file being read.
    public let path: String
    /// The limits records are checked against.
    public let limits: WireLimits
    /// The file's format version, from its magic.
    public let version: RecordingFormat.Version
    /// How records are read.
    public let access: Access
    /// The byte offset of the next record: after the last record returned.
    public private(set) var byteOffset: UInt64 = 0
    /// The number of records returned so far (by ``next()``, verified; by ``nextRecord()``, with
    /// their framing checked).
    public private(set) var goodRecords = 0

    /// Whether a mapped reader asks the kernel to map each record's pages in one call before
    /// handing the record out (measured: see docs/PERFORMANCE.md).
    var populatesPages = false

    private var fd: Int32
    private var knownFileSize: UInt64
    private var failure: RecordingError?
    private var map: MappedFile?
    private var input: BufferedInput
    private let pool = RecordBufferPool()
    /// Buffered reading: the header bytes of the record at `scratchOffset` read so far.
    private var scratch = [UInt8](repeating: 0, count: 256)
    private var scratchFilled = 0

    /// Opens `path`, reads its magic and, for version 2, checks the rest of the file header.
    ///
    /// - Throws: ``RecordingError/openFailed(path:errno:)``, ``RecordingError/readFailed(path:offset:errno:)``,
    ///   ``RecordingError/notARecording(path:)``, ``RecordingError/unsupportedVersion(path:version:)``,
    ///   or ``RecordingError/truncated(path:offset:goodRecords:)`` /
    ///   ``RecordingError/damaged(path:offset:goodRecords:reason:)`` at offset 0 for a bad version 2 file header.
    public init(path: String, limits: WireLimits = WireLimits(), access: Access = .default) throws(RecordingError) {
        self.path = path
        self.limits = limits
        self.access = access
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .openFailed(path: path, errno: errno) }
        // From here on, every throw closes the descriptor first (a throwing init whose stored
        // properties are all set also runs deinit; `fd = -1` keeps it from closing twice).
        func fail(_ error: RecordingError) -> RecordingError {
            PosixIO.closeFile(fd)
            return error
        }
        var header = [UInt8](repeating: 0, count: RecordingFormat.Version.v2.fileHeaderBytes)
        let count: Int
        switch header.withUnsafeMutableBytes({ PosixIO.readFully(fd, $0, at: 0) }) {
        case .failure(let error): throw fail(.readFailed(path: path, offset: 0, errno: error.code))
        case .success(let read): count = read
        }
        guard count >= 8, header.starts(with: RecordingFormat.magicPrefix) else {
            throw fail(.notARecording(path: path))
        }
        guard let version = RecordingFormat.Version.allCases.first(where: { header.starts(with: $0.magic) }) else {
            throw fail(.unsupportedVersion(path: path, version: String(decoding: [header[7]], as: UTF8.self)))
        }
        if version == .v2 {
            guard count == version.fileHeaderBytes else {
                throw fail(.truncated(path: path, offset: 0, goodRecords: 0))
            }
            guard header[8...].allSatisfy({ $0 == 0 }) else {
                throw fail(
                    .damaged(
                        path: path, offset: 0, goodRecords: 0,
                        reason: "the reserved bytes of its file header are not zero"))
            }
        }
        self.version = version
        self.fd = fd
        self.byteOffset = UInt64(version.fileHeaderBytes)
        self.knownFileSize = PosixIO.fileSize(fd) ?? 0
        self.input = BufferedInput(fd: fd, position: UInt64(version.fileHeaderBytes))
        if access == .mapped {
            switch MappedFile.map(fd: fd, size: Int(knownFileSize)) {
            case .success(let map): self.map = map
            case .failure(let error):
                close()
                throw .readFailed(path: path, offset: 0, errno: error.code)
            }
        }
    }

    deinit {
        close()
    }

    /// Closes the file; later calls to ``next()`` return `nil`. Messages already returned stay valid.
    public func close() {
        guard fd >= 0 else { return }
        PosixIO.closeFile(fd)
        fd = -1
        map = nil
        input.release()
    }

    /// The next message, verified, or `nil` at a clean end of the file.
    ///
    /// - Throws: ``RecordingError/truncated(path:offset:goodRecords:)`` when the file ends inside a
    ///   record, ``RecordingError/damaged(path:offset:goodRecords:reason:)`` for a bad checksum,
    ///   frame count or length, ``RecordingError/readFailed(path:offset:errno:)`` for an I/O error.
    public func next() throws(RecordingError) -> WireMessage? {
        guard let record = try nextRecord() else { return nil }
        do {
            try record.verify()
        } catch {
            // The record is not good after all: the reader ends before it.
            byteOffset = record.offset
            goodRecords -= 1
            failure = error
            throw error
        }
        return record.message
    }

    /// The next record with its framing checked and its payload not yet verified, or `nil` at a
    /// clean end of the file. Call ``RecordedMessage/verify()`` (on any thread) before using it.
    ///
    /// - Throws: as ``next()``, except that a payload checksum mismatch is thrown by
    ///   ``RecordedMessage/verify()`` instead.
    public func nextRecord() throws(RecordingError) -> RecordedMessage? {
        if let failure { throw failure }
        guard fd >= 0 else { return nil }
        do {
            guard let record = try readRecord() else { return nil }
            goodRecords += 1
            byteOffset = record.offset + record.byteCount
            return record
        } catch {
            failure = error
            throw error
        }
    }

    private func truncated() -> RecordingError {
        .truncated(path: path, offset: byteOffset, goodRecords: goodRecords)
    }

    private func damaged(_ reason: String) -> RecordingError {
        .damaged(path: path, offset: byteOffset, goodRecords: goodRecords, reason: reason)
    }

    /// Whether the file holds `end` bytes, looking again at its size if it seemed too short (a
    /// recording may still be growing while it is read).
    private func fileHolds(_ end: UInt64) -> Bool {
        if end <= knownFileSize { return true }
        knownFileSize = PosixIO.fileSize(fd) ?? knownFileSize
        return end <= knownFileSize
    }

    /// The first `count` bytes of the record at ``byteOffset``, `nil` if the file ends there.
    private func headerBytes(_ count: Int) throws(RecordingError) -> UnsafeRawBufferPointer? {
        let start = byteOffset
        let (end, overflow) = start.addingReportingOverflow(UInt64(count))
        guard !overflow, fileHolds(end) else {
            if fileHolds(start + 1) { throw truncated() }
            return nil
        }
        switch access {
        case .mapped:
            guard let map = try mapping(covering: end) else { throw truncated() }
            return UnsafeRawBufferPointer(rebasing: map.bytes[Int(start)..<Int(end)])
        case .buffered:
            if count > scratchFilled {
                let read = scratch.withUnsafeMutableBytes {
                    input.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[scratchFilled..<count]))
                }
                switch read {
                case .failure(let error):
                    throw .readFailed(path: path, offset: start + UInt64(scratchFilled), errno: error.code)
                case .success(let got) where got < count - scratchFilled: throw truncated()
                case .success: scratchFilled = count
                }
            }
            return scratch.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[..<count]) }
        }
    }

    /// The map, remade if the file has grown past it; `nil` if the file does not reach `end`.
    private func mapping(covering end: UInt64) throws(RecordingError) -> MappedFile? {
        if let map, UInt64(map.bytes.count) >= end { return map }
        guard fileHolds(end) else { return nil }
        switch MappedFile.map(fd: fd, size: Int(knownFileSize)) {
        case .success(let grown):
            map = grown
            return grown
        case .failure(let error): throw .readFailed(path: path, offset: byteOffset, errno: error.code)
        }
    }

    private func readRecord() throws(RecordingError) -> RecordedMessage? {
        let start = byteOffset
        scratchFilled = 0
        let layout: RecordLayout
        do {
            guard let leading = try headerBytes(RecordLayout.leadingBytes(version)) else { return nil }
            let headerCount = try RecordLayout.headerBytes(version, leading: leading)
            guard let header = try headerBytes(headerCount) else { throw truncated() }
            layout = try RecordLayout.parse(version, header: header, limits: limits)
        } catch let problem as LayoutProblem {
            throw damaged(problem.reason)
        } catch let error as RecordingError {
            throw error
        } catch {
            throw damaged("\(error)")
        }
        let (end, overflow) = start.addingReportingOverflow(layout.totalBytes)
        guard !overflow, fileHolds(end) else { throw truncated() }
        let total = Int(layout.totalBytes)

        let record: UnsafeRawBufferPointer
        let release: @Sendable () -> Void
        switch access {
        case .mapped:
            guard let map = try mapping(covering: end) else { throw truncated() }
            record = UnsafeRawBufferPointer(rebasing: map.bytes[Int(start)..<Int(end)])
            if populatesPages { map.populate(Int(start)..<Int(end)) }
            release = { withExtendedLifetime(map) {} }
        case .buffered:
            let buffer = pool.take(total)
            let pool = self.pool
            // The header is in `scratch` already; the rest goes straight into the buffer.
            scratch.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<scratchFilled])) }
            let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[scratchFilled..<total])
            switch input.read(into: rest) {
            case .failure(let error):
                pool.give(buffer)
                throw .readFailed(path: path, offset: start + UInt64(scratchFilled), errno: error.code)
            case .success(let got) where got < rest.count:
                pool.give(buffer)
                throw truncated()
            case .success: break
            }
            record = UnsafeRawBufferPointer(rebasing: buffer[..<total])
            let box = UnsafeMutableRawBufferPointerBox(buffer: buffer)
            release = { pool.give(box.buffer) }
        }
        guard let base = record.baseAddress else { throw truncated() }
        let frames = layout.frames.map { UnsafeRawBufferPointer(start: base + $0.offset, count: $0.count) }
        let message = WireMessage(frames: frames, receiveTimeNs: layout.receiveTimeNs, release: release)
        return RecordedMessage(
            message: message, path: path, offset: start, index: goodRecords, version: version, record: record,
            layout: layout)
    }
}

/// A read buffer over a file descriptor from a given position: small reads come from the buffer,
/// large ones go straight into the caller's memory.
struct BufferedInput {
    private let fd: Int32
    private var storage: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    /// The file offset of `storage[end]`.
    private var position: UInt64

    init(fd: Int32, position: UInt64, capacity: Int = 64 << 10) {
        self.fd = fd
        self.position = position
        storage = .allocate(byteCount: capacity, alignment: 16)
    }

    mutating func release() {
        storage.deallocate()
        storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        start = 0
        end = 0
    }

    /// Fills `target` from the buffer and the file; returns the bytes read (fewer only at end of file).
    mutating func read(into target: UnsafeMutableRawBufferPointer) -> Result<Int, PosixErrno> {
        var filled = 0
        while filled < target.count {
            if start < end {
                let count = min(end - start, target.count - filled)
                UnsafeMutableRawBufferPointer(rebasing: target[filled..<(filled + count)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: storage[start..<(start + count)]))
                start += count
                filled += count
                continue
            }
            let remaining = target.count - filled
            if remaining >= storage.count {
                switch PosixIO.readFully(fd, UnsafeMutableRawBufferPointer(rebasing: target[filled...]), at: position) {
                case .success(let count):
                    position += UInt64(count)
                    return .success(filled + count)
                case .failure(let error): return .failure(error)
                }
            }
            guard !storage.isEmpty else { return .success(filled) }
            switch PosixIO.readFully(fd, storage, at: position) {
            case .success(0): return .success(filled)
            case .success(let count):
                start = 0
                end = count
                position += UInt64(count)
            case .failure(let error): return .failure(error)
            }
        }
        return .success(filled)
    }
}
