import Foundation
import LossBench

extension BenchReport {
    /// The replay figures: the floors, each worker count's time and ratio, and the speed-up.
    static func table(_ r: ReplayBenchmark.Result) -> String {
        let megabytes = Double(r.fileBytes) / 1e6
        var lines = [
            "replay (median of \(r.read.samples.count) repetitions; min–max in brackets)",
            String(
                format: "  %@: format version %@, %d batches, %.0f MB, from the page cache",
                r.path, r.version.description, r.batches, megabytes),
            "  run                      ms                       ratio to read + kernel",
            String(
                format: "  read() (floor)     %7.1f [%7.1f–%7.1f]    (%.1f GB/s)", r.read.median * 1e3,
                r.read.min * 1e3, r.read.max * 1e3, r.readGigabytesPerSecond),
            String(
                format: "  kernel (floor)     %7.1f [%7.1f–%7.1f]    (%.2f ms per batch, one thread)",
                r.kernel.median * 1e3, r.kernel.min * 1e3, r.kernel.max * 1e3,
                r.kernel.median * 1e3 / Double(max(1, r.batches))),
        ]
        for (workers, times) in r.replays {
            lines.append(
                String(
                    format: "  replay, %d worker%@  %7.1f [%7.1f–%7.1f]    %.2f×", workers, workers == 1 ? " " : "s",
                    times.median * 1e3, times.min * 1e3, times.max * 1e3, r.ratio(workers: workers) ?? .nan))
        }
        let counts = r.replays.map(\.workers)
        if let fewest = counts.min(), let most = counts.max(), fewest < most,
            let speedup = r.speedup(from: fewest, to: most)
        {
            lines.append(String(format: "  %d workers against %d: %.2f× as fast", most, fewest, speedup))
        }
        return lines.joined(separator: "\n")
    }

    /// One JSON object describing the replay figures.
    static func json(_ r: ReplayBenchmark.Result) -> String {
        var object: [String: Any] = [
            "part": "replay", "path": r.path, "format_version": r.version.rawValue, "file_bytes": r.fileBytes,
            "batches": r.batches, "read_ms": r.read.median * 1e3, "read_ms_min": r.read.min * 1e3,
            "read_ms_max": r.read.max * 1e3, "kernel_ms": r.kernel.median * 1e3, "kernel_ms_min": r.kernel.min * 1e3,
            "kernel_ms_max": r.kernel.max * 1e3, "repetitions": r.read.samples.count,
            "replays": r.replays.map { workers, times in
                [
                    "workers": workers, "ms": times.median * 1e3, "ms_min": times.min * 1e3,
                    "ms_max": times.max * 1e3, "ratio": r.ratio(workers: workers) ?? Double.nan,
                ] as [String: Any]
            },
        ]
        let counts = r.replays.map(\.workers)
        if let fewest = counts.min(), let most = counts.max(), fewest < most {
            object["speedup"] = r.speedup(from: fewest, to: most)
        }
        return encoded(object)
    }

    /// The recording figures: batches/s of the four runs and the ratio.
    static func table(_ r: RecordBenchmark.Result) -> String {
        let b = r.benchmark
        let messages = Double(b.messages)
        func row(_ name: String, _ times: Timings) -> String {
            String(
                format: "  %@ %7.1f [%5.1f–%5.1f]", name.padding(toLength: 34, withPad: " ", startingAt: 0),
                messages / times.median, messages / times.max, messages / times.min)
        }
        return [
            "record (median of \(r.recording.samples.count) repetitions; min–max in brackets)",
            String(
                format: "  %d messages of %.1f MB, %d workers, format version %@, in %@",
                b.messages, Double(r.messageBytes) / 1e6, b.workers, b.version.description, b.directory),
            "  run                                batches/s",
            row("sidecar without --record", r.sidecar),
            row("write of the bytes, plain", r.write) + String(format: "   (%.0f MB/s)", r.megabytesPerSecond(r.write)),
            row("write of the bytes, write-behind", r.writeBehind)
                + String(format: "   (%.0f MB/s)", r.megabytesPerSecond(r.writeBehind)),
            row("sidecar with --record", r.recording),
            String(format: "  ratio to the lesser of the sidecar and the faster write: %.2f×", r.ratio),
        ].joined(separator: "\n")
    }

    /// One JSON object describing the recording figures.
    static func json(_ r: RecordBenchmark.Result) -> String {
        let b = r.benchmark
        return encoded([
            "part": "record", "messages": b.messages, "message_bytes": r.messageBytes, "workers": b.workers,
            "format_version": b.version.rawValue, "directory": b.directory, "recording_bytes": r.recordingBytes,
            "sidecar_batches_per_s": r.sidecarBatchesPerSecond,
            "recording_batches_per_s": r.recordingBatchesPerSecond, "write_batches_per_s": r.writeBatchesPerSecond,
            "write_mb_per_s": r.megabytesPerSecond(r.write),
            "write_behind_batches_per_s": r.writeBehindBatchesPerSecond,
            "write_behind_mb_per_s": r.megabytesPerSecond(r.writeBehind), "ratio": r.ratio,
            "repetitions": r.recording.samples.count,
        ])
    }

    private static func encoded(_ object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }
}
