import LossWire
import SSDLoss

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer target: bytes → a `.lossrec` file of either version → ``RecordingReader``, every
/// message → ``BatchDecoder``.
///
/// The input is the whole file, magic included. It is written over one scratch file in `/dev/shm`
/// (memory, on Linux; `TMPDIR` elsewhere) that the reader opens by path, so the reader's public API
/// stays as it is and no disk is touched. The file is read twice: memory-mapped with ``RecordingReader/next()``,
/// and into reused buffers with ``RecordingReader/nextRecord()`` then ``RecordedMessage/verify()``;
/// both must see the same messages and end the same way. The reader must never crash; it either
/// reaches a clean end or throws an error whose offset lies inside the file and after every good
/// record; every message it returns is decodable or rejected with a ``WireError``. A violated check
/// traps, which libFuzzer reports. Built by `scripts/fuzz.sh` together with the LossWire, SSDLoss
/// and Checksums sources.

/// The scratch file's path and descriptor, made on first use and removed at exit.
nonisolated(unsafe) private var scratch: (path: String, fd: Int32)?

private func writeScratchFile(_ input: UnsafeRawBufferPointer) -> String {
    if scratch == nil {
        let directory =
            access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp")
        let path = "\(directory)/lossd-recording-fuzz-\(getpid()).lossrec"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        precondition(fd >= 0, "cannot create \(path): errno \(errno)")
        scratch = (path, fd)
        atexit { if let scratch { unlink(scratch.path) } }
    }
    let (path, fd) = scratch!
    precondition(ftruncate(fd, 0) == 0)
    var written = 0
    while written < input.count {
        let count = pwrite(fd, input.baseAddress! + written, input.count - written, off_t(written))
        precondition(count > 0, "pwrite failed: errno \(errno)")
        written += count
    }
    return path
}

/// The bytes a record with these frame lengths takes in the file.
private func recordBytes(_ message: WireMessage, version: RecordingFormat.Version) -> UInt64 {
    func aligned(_ count: Int) -> Int { (count + 63) / 64 * 64 }
    switch version {
    case .v1: return 16 + 8 * UInt64(message.frames.count) + UInt64(message.totalBytes)
    case .v2:
        return UInt64(aligned(28 + 8 * message.frames.count) + message.frames.reduce(0) { $0 + aligned($1.count) })
    }
}

/// How one pass over the file ended.
private enum Outcome: Equatable {
    case clean
    case failed(RecordingError)
}

/// Reads the whole file one way; returns the messages' frames and how it ended.
private func readAll(
    path: String, size: Int, access: RecordingReader.Access, verifyLater: Bool
) -> (frames: [[[UInt8]]], outcome: Outcome)? {
    let limits = WireLimits(maxMessageBytes: 1 << 20)
    let reader: RecordingReader
    do {
        reader = try RecordingReader(path: path, limits: limits, access: access)
    } catch {
        switch error {
        case .notARecording, .unsupportedVersion: return nil
        case .truncated(_, 0, 0), .damaged(_, 0, 0, _): return nil  // a bad version 2 file header
        default: preconditionFailure("unexpected open error: \(error)")
        }
    }
    var messages: [[[UInt8]]] = []
    var consumed = UInt64(reader.version.fileHeaderBytes)
    do {
        while true {
            let message: WireMessage
            if verifyLater {
                guard let record = try reader.nextRecord() else { break }
                precondition(record.offset == consumed && record.index == messages.count)
                try record.verify()
                message = record.message
            } else {
                guard let next = try reader.next() else { break }
                message = next
            }
            precondition((1...16).contains(message.frames.count))
            consumed += recordBytes(message, version: reader.version)
            precondition(reader.byteOffset == consumed && consumed <= UInt64(size))
            if reader.version == .v2 {
                precondition(message.frames.allSatisfy { Int(bitPattern: $0.baseAddress) % 64 == 0 || $0.isEmpty })
            }
            messages.append(message.frames.map { Array($0) })
            _ = try? BatchDecoder.decode(message, defaults: LossParameters(), limits: limits)
        }
        precondition(reader.byteOffset == UInt64(size), "a clean end before the end of the file")
        precondition(reader.goodRecords == messages.count)
        return (messages, .clean)
    } catch {
        switch error {
        case .truncated(_, let offset, let good), .damaged(_, let offset, let good, _):
            precondition(offset == consumed && offset < UInt64(size) && good == messages.count, "\(error)")
        default:
            preconditionFailure("unexpected read error: \(error)")
        }
        return (messages, .failed(error))
    }
}

/// libFuzzer's entry point: one input, always 0 (a failed check traps instead).
@_cdecl("LLVMFuzzerTestOneInput")
public func recordingFuzzerTestOneInput(_ data: UnsafeRawPointer?, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    let path = writeScratchFile(input)
    let mapped = readAll(path: path, size: size, access: .mapped, verifyLater: false)
    let buffered = readAll(path: path, size: size, access: .buffered, verifyLater: true)
    switch (mapped, buffered) {
    case (nil, nil):
        precondition(
            size < 8
                || !(input.starts(with: "LOSSREC1".utf8)
                    || input.starts(with: "LOSSREC2".utf8) && size >= 64
                        && input[8...].prefix(56).allSatisfy { $0 == 0 })
        )
    case let (mapped?, buffered?):
        precondition(mapped.frames == buffered.frames, "the two ways of reading disagree on the messages")
        precondition(
            mapped.outcome == buffered.outcome,
            "the two ways of reading end differently: \(mapped.outcome) and \(buffered.outcome)")
    default:
        preconditionFailure("one way of reading opened the file and the other did not")
    }
    return 0
}
