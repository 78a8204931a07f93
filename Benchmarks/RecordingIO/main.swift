#if canImport(Glibc)
import Glibc
#endif
import Checksums
import Dispatch
@testable import LossWire

/// Measures what replaying a recording costs, piece by piece, in one run with alternating trials:
/// each checksum's throughput, and reading a recording mapped or into reused buffers, verified on
/// one thread or on two. Built and run by `scripts/measure-recording.sh`; see docs/PERFORMANCE.md,
/// "Reading recordings". The machine is shared, so every figure is the median of alternating
/// trials, with CPU time (user + system, this process) beside the wall time.

struct Sample {
    var wall: Double
    var cpu: Double
}

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

func cpuTime() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    func seconds(_ value: timeval) -> Double { Double(value.tv_sec) + Double(value.tv_usec) * 1e-6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

func measure(_ body: () -> Void) -> Sample {
    let wall = now(), cpu = cpuTime()
    body()
    return Sample(wall: now() - wall, cpu: cpuTime() - cpu)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

/// Runs every case `trials` times, alternating, and prints medians.
func compare(_ title: String, bytes: Int, trials: Int, _ cases: [(String, () -> Void)]) {
    var samples = [[Sample]](repeating: [], count: cases.count)
    for trial in 0..<trials {
        // Alternate the order so that no case always runs first (or after the same neighbour).
        let order = trial % 2 == 0 ? Array(cases.indices) : cases.indices.reversed()
        for index in order { samples[index].append(measure(cases[index].1)) }
    }
    print("\n\(title) (\(bytes) bytes, median of \(trials) alternating trials)")
    print(pad("  case", 44) + "wall ms    GB/s   cpu ms  GB/s of cpu")
    for (index, item) in cases.enumerated() {
        let wall = median(samples[index].map(\.wall)), cpu = median(samples[index].map(\.cpu))
        let row = pad("  \(item.0)", 44)
        print(row + format(wall * 1e3, 8, 1) + format(Double(bytes) / wall / 1e9, 8, 2) + format(cpu * 1e3, 9, 1) + format(Double(bytes) / cpu / 1e9, 9, 2))
    }
}

func pad(_ text: String, _ width: Int) -> String {
    text + String(repeating: " ", count: max(0, width - text.count))
}

func format(_ value: Double, _ width: Int, _ decimals: Int) -> String {
    var text = String(Int((value * pow(10, Double(decimals))).rounded()))
    if decimals > 0 {
        while text.count <= decimals { text = "0" + text }
        text.insert(".", at: text.index(text.endIndex, offsetBy: -decimals))
    }
    return String(repeating: " ", count: max(0, width - text.count)) + text
}

nonisolated(unsafe) var sink: UInt32 = 0

func checksums(trials: Int) {
    let count = 64 << 20
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 64)
    defer { buffer.deallocate() }
    var state: UInt64 = 1
    for index in stride(from: 0, to: count, by: 8) {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        buffer.storeBytes(of: state, toByteOffset: index, as: UInt64.self)
    }
    let bytes = UnsafeRawBufferPointer(buffer)
    print("CRC-32C instruction set: \(CRC32C.hardwareName ?? "none")")
    compare("Checksums over a 64 MiB buffer", bytes: count, trials: trials, [
        ("CRC-32C, CPU instruction (3 streams)", { sink ^= CRC32C.checksum(bytes, implementation: .hardware) }),
        ("CRC-32C, portable (slicing-by-8, C)", { sink ^= CRC32C.checksum(bytes, implementation: .portable) }),
        ("CRC-32 zlib, v1 (slicing-by-8, Swift)", { sink ^= CRC32.checksum(bytes) }),
    ])
}

/// Reads every record of `path`; verifies each on this thread, or afterwards on `threads` threads.
func read(_ path: String, access: RecordingReader.Access, populate: Bool = false, threads: Int = 1) {
    do {
        let reader = try RecordingReader(path: path, access: access)
        reader.populatesPages = populate
        if threads == 1 {
            while let record = try reader.nextRecord() {
                try record.verify()
                sink ^= UInt32(truncatingIfNeeded: record.message.totalBytes)
            }
        } else {
            // At most 2 × threads records in flight, as a replay's queue holds.
            var window: [RecordedMessage] = []
            func drain() {
                let records = window
                DispatchQueue.concurrentPerform(iterations: records.count) { index in
                    do { try records[index].verify() } catch { fatalError("\(error)") }
                }
                window.removeAll()
            }
            while let record = try reader.nextRecord() {
                window.append(record)
                if window.count == 2 * threads { drain() }
            }
            drain()
        }
    } catch {
        fatalError("\(error)")
    }
}

/// The floor: plain `read` calls into one reused 1 MiB buffer, as `dd` does.
func plainRead(_ path: String) {
    let fd = open(path, O_RDONLY)
    precondition(fd >= 0)
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 4096)
    while read(fd, buffer, 1 << 20) > 0 {}
    buffer.deallocate()
    close(fd)
}

func recordings(_ path: String, trials: Int) {
    var info = stat()
    precondition(stat(path, &info) == 0, "cannot stat \(path)")
    let bytes = Int(info.st_size)
    plainRead(path)  // into the page cache
    let reader = try? RecordingReader(path: path)
    let version = reader.map { "version \($0.version)" } ?? "?"
    compare("Reading \(path) (\(version)), from the page cache", bytes: bytes, trials: trials, [
        ("plain read() into a 1 MiB buffer (floor)", { plainRead(path) }),
        ("mapped, verify on 1 thread", { read(path, access: .mapped) }),
        ("mapped + MADV_POPULATE_READ, 1 thread", { read(path, access: .mapped, populate: true) }),
        ("buffered (reused buffers), 1 thread", { read(path, access: .buffered) }),
        ("mapped, verify on 2 threads", { read(path, access: .mapped, threads: 2) }),
        ("buffered, verify on 2 threads", { read(path, access: .buffered, threads: 2) }),
    ])
}

let arguments = CommandLine.arguments.dropFirst()
let trials = Int(getenv("TRIALS").map { String(cString: $0) } ?? "") ?? 7
checksums(trials: trials)
for path in arguments { recordings(path, trials: trials) }
if sink == 42 { print("") }  // keeps the checksums from being optimized away
