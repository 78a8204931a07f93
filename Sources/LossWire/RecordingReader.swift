import Checksums
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads batch messages back from a `.lossrec` recording, one record at a time.
///
/// The reader never loads the whole file: it holds a small read buffer and the current record.
/// Before allocating a record it checks the frame count (1…16) and every frame length against the
/// bytes left in the file and against ``WireLimits/maxMessageBytes``. It stops at the first
/// truncated or damaged record and throws an error naming the byte offset and the number of good
/// records before it; every earlier record has already been returned. The error repeats on later
/// calls. One owner at a time: a reader is not `Sendable`.
public final class RecordingReader {
    /// The file being read.
    public let path: String
    /// The limits records are checked against.
    public let limits: WireLimits
    /// The byte offset of the next record (after the last good one).
    public private(set) var byteOffset: UInt64 = 0
    /// The number of good records returned so far.
    public private(set) var goodRecords = 0

    private var fd: Int32
    private var knownFileSize: UInt64
    private var input: BufferedInput
    private var failure: RecordingError?

    /// Opens `path` and checks the `LOSSREC1` magic.
    ///
    /// - Throws: ``RecordingError/openFailed(path:errno:)``, ``RecordingError/readFailed(path:offset:errno:)``
    ///   or ``RecordingError/notARecording(path:)``.
    public init(path: String, limits: WireLimits = WireLimits()) throws(RecordingError) {
        self.path = path
        self.limits = limits
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .openFailed(path: path, errno: errno) }
        self.fd = fd
        self.knownFileSize = PosixIO.fileSize(fd) ?? 0
        self.input = BufferedInput(fd: fd)
        let magicCount = RecordingFormat.magic.count
        var magic = [UInt8](repeating: 0, count: magicCount)
        let read = magic.withUnsafeMutableBytes { input.read(into: $0) }
        switch read {
        // `close()`, not a bare close of `fd`: once every property is set, a throwing init still
        // runs deinit, which would close the descriptor a second time — by then perhaps another
        // thread's newly opened file.
        case .failure(let error):
            close()
            throw .readFailed(path: path, offset: 0, errno: error.code)
        case .success(let count) where count < magicCount || magic != RecordingFormat.magic:
            close()
            throw .notARecording(path: path)
        case .success:
            break
        }
        byteOffset = UInt64(magicCount)
    }

    deinit {
        close()
    }

    /// Closes the file; later calls to ``next()`` return `nil`.
    public func close() {
        guard fd >= 0 else { return }
        PosixIO.closeFile(fd)
        fd = -1
        input.release()
    }

    /// The next message, or `nil` at a clean end of the file.
    ///
    /// - Throws: ``RecordingError/truncated(path:offset:goodRecords:)`` when the file ends inside a
    ///   record, ``RecordingError/damaged(path:offset:goodRecords:reason:)`` for a bad CRC, frame
    ///   count or length, ``RecordingError/readFailed(path:offset:errno:)`` for an I/O error.
    public func next() throws(RecordingError) -> WireMessage? {
        if let failure { throw failure }
        guard fd >= 0 else { return nil }
        do {
            let message = try readRecord()
            if message != nil { goodRecords += 1 }
            return message
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

    /// Whether a read filled `expected` bytes; `false` if the file ended first.
    private func complete(_ read: Result<Int, PosixErrno>, _ expected: Int, at offset: UInt64) throws(RecordingError) -> Bool {
        switch read {
        case .success(let count): return count == expected
        case .failure(let error): throw .readFailed(path: path, offset: offset, errno: error.code)
        }
    }

    private func readRecord() throws(RecordingError) -> WireMessage? {
        // Receive time and frame count.
        let fixedCount = RecordingFormat.fixedHeaderBytes
        var header = [UInt8](repeating: 0, count: fixedCount)
        switch header.withUnsafeMutableBytes({ input.read(into: $0) }) {
        case .failure(let error): throw .readFailed(path: path, offset: byteOffset, errno: error.code)
        case .success(0): return nil
        case .success(let count) where count < fixedCount: throw truncated()
        case .success: break
        }
        let receiveTimeNs = UInt64(littleEndian: header.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let frameCount = Int(UInt32(littleEndian: header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self) }))
        guard (1...RecordingFormat.maxFrames).contains(frameCount) else {
            throw damaged("its frame count is \(frameCount), not 1 to \(RecordingFormat.maxFrames)")
        }

        // Frame lengths, each checked before anything is allocated from them.
        var lengthBytes = [UInt8](repeating: 0, count: frameCount * 8)
        let lengthsRead = lengthBytes.withUnsafeMutableBytes { input.read(into: $0) }
        guard try complete(lengthsRead, lengthBytes.count, at: byteOffset) else { throw truncated() }
        header.append(contentsOf: lengthBytes)
        let headerBytes = UInt64(header.count)
        var lengths: [Int] = []
        lengths.reserveCapacity(frameCount)
        var payload: UInt64 = 0
        let maxBytes = UInt64(clamping: limits.maxMessageBytes)
        for index in 0..<frameCount {
            let length = UInt64(littleEndian: header.withUnsafeBytes {
                $0.loadUnaligned(fromByteOffset: fixedCount + index * 8, as: UInt64.self)
            })
            guard length <= maxBytes, payload + length <= maxBytes else {
                throw damaged(
                    "frame \(index) claims \(length) bytes, beyond max_message_bytes (\(limits.maxMessageBytes)); "
                        + "if the recording is intact, read it with a larger max_message_bytes")
            }
            payload += length
            let needed = byteOffset + headerBytes + payload + 4
            if needed > knownFileSize {
                knownFileSize = PosixIO.fileSize(fd) ?? knownFileSize  // the file may still be growing
                guard needed <= knownFileSize else { throw truncated() }
            }
            lengths.append(Int(length))
        }

        // The frames, each on an aligned offset of one allocation.
        let alignment = RecordingFormat.frameAlignment
        var offsets: [Int] = []
        var size = 0
        for length in lengths {
            size = (size + alignment - 1) / alignment * alignment
            offsets.append(size)
            size += length
        }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: alignment)
        var keep = false
        defer { if !keep { storage.deallocate() } }
        var crc = CRC32()
        header.withUnsafeBytes { crc.update($0) }
        var frames: [UnsafeRawBufferPointer] = []
        frames.reserveCapacity(frameCount)
        var position = byteOffset + headerBytes
        for (offset, length) in zip(offsets, lengths) {
            let frame = UnsafeMutableRawBufferPointer(rebasing: storage[offset..<(offset + length)])
            guard try complete(input.read(into: frame), length, at: position) else { throw truncated() }
            crc.update(UnsafeRawBufferPointer(frame))
            frames.append(UnsafeRawBufferPointer(frame))
            position += UInt64(length)
        }
        var stored: UInt32 = 0
        let crcRead = withUnsafeMutableBytes(of: &stored) { input.read(into: $0) }
        guard try complete(crcRead, 4, at: position) else { throw truncated() }
        stored = UInt32(littleEndian: stored)
        guard stored == crc.value else {
            throw damaged(
                "its CRC-32 is \(hex(stored)) but its bytes give \(hex(crc.value)) (the file was altered or corrupted)")
        }
        keep = true
        byteOffset = position + 4
        let owned = OwnedAllocation(storage)
        return WireMessage(frames: frames, receiveTimeNs: receiveTimeNs) { owned.free() }
    }

    private func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}

/// A read buffer over a file descriptor: small reads come from the buffer, large ones go straight
/// into the caller's memory.
struct BufferedInput {
    private let fd: Int32
    private var storage: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0

    init(fd: Int32, capacity: Int = 64 << 10) {
        self.fd = fd
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
                switch PosixIO.readFully(fd, UnsafeMutableRawBufferPointer(rebasing: target[filled...])) {
                case .success(let count): return .success(filled + count)
                case .failure(let error): return .failure(error)
                }
            }
            guard !storage.isEmpty else { return .success(filled) }
            switch PosixIO.readFully(fd, storage) {
            case .success(0): return .success(filled)
            case .success(let count):
                start = 0
                end = count
            case .failure(let error): return .failure(error)
            }
        }
        return .success(filled)
    }
}
