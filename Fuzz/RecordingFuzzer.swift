#if canImport(Glibc)
import Glibc
#endif
import LossWire
import SSDLoss

/// libFuzzer target: bytes → a `.lossrec` file → ``RecordingReader``, every message → ``BatchDecoder``.
///
/// The input is the whole file, magic included. It is written over one scratch file in `/dev/shm`
/// (memory, on Linux; `TMPDIR` elsewhere) that the reader opens by path, so the reader's public API
/// stays as it is and no disk is touched. The reader must never crash; it either reaches a clean end or throws an error
/// whose offset lies inside the file and after every good record; every message it returns is
/// decodable or rejected with a ``WireError``. A violated check traps, which libFuzzer reports.
/// Built by `scripts/fuzz.sh` together with the LossWire and SSDLoss sources.

/// The scratch file's path and descriptor, made on first use and removed at exit.
nonisolated(unsafe) private var scratch: (path: String, fd: Int32)?

private func writeScratchFile(_ input: UnsafeRawBufferPointer) -> String {
    if scratch == nil {
        let directory = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp")
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

/// libFuzzer's entry point: one input, always 0 (a failed check traps instead).
@_cdecl("LLVMFuzzerTestOneInput")
public func recordingFuzzerTestOneInput(_ data: UnsafeRawPointer?, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    let path = writeScratchFile(input)
    let limits = WireLimits(maxMessageBytes: 1 << 20)
    let reader: RecordingReader
    do {
        reader = try RecordingReader(path: path, limits: limits)
    } catch {
        guard case .notARecording = error else { preconditionFailure("unexpected open error: \(error)") }
        precondition(size < 8 || !input.starts(with: "LOSSREC1".utf8))
        return 0
    }
    var messages = 0
    var consumed: UInt64 = 8
    do {
        while let message = try reader.next() {
            messages += 1
            precondition((1...16).contains(message.frames.count))
            consumed += 16 + 8 * UInt64(message.frames.count) + UInt64(message.totalBytes)
            precondition(reader.byteOffset == consumed && consumed <= UInt64(size))
            _ = try? BatchDecoder.decode(message, defaults: LossParameters(), limits: limits)
        }
        precondition(reader.byteOffset == UInt64(size), "a clean end before the end of the file")
    } catch {
        switch error {
        case .truncated(_, let offset, let good), .damaged(_, let offset, let good, _):
            precondition(offset == consumed && offset < UInt64(size) && good == messages, "\(error)")
        default:
            preconditionFailure("unexpected read error: \(error)")
        }
    }
    precondition(reader.goodRecords == messages)
    return 0
}
