import Foundation
import LossBench
import LossPipeline
import LossSynthesis

/// Formats benchmark results as a table for people or JSON lines for programs.
enum BenchReport {
    /// A table with one row per kernel configuration.
    static func table(_ results: [KernelBenchmark.Result]) -> String {
        var lines = [
            "kernel (median of repetitions; min–max in brackets)",
            """
              shape            dtype     layout   scores         mining  ms/batch                 ns/box   floor ms \
                            ratio   path
            """,
        ]
        for r in results {
            let shape = "\(r.spec.shape.batch)×\(r.spec.shape.boxes)×\(r.spec.shape.classes)"
            let labels = [
                pad(shape, 16), pad(r.spec.dtype.rawValue, 9), pad(r.spec.layout.rawValue, 8),
                pad(r.parameters.scores.rawValue, 14), pad(r.parameters.mining.rawValue, 7),
            ]
            let figures = String(
                format: "%7.2f [%6.2f–%6.2f] %7.2f %7.2f [%6.2f–%6.2f] %6.2f×",
                r.kernel.median * 1e3, r.kernel.min * 1e3, r.kernel.max * 1e3, r.nanosecondsPerBox,
                r.floor.median * 1e3, r.floor.min * 1e3, r.floor.max * 1e3, r.ratio)
            lines.append("  " + labels.joined(separator: " ") + " " + figures + "  \(r.path)")
        }
        return lines.joined(separator: "\n")
    }

    /// One JSON object describing a kernel result.
    static func json(_ r: KernelBenchmark.Result) -> String {
        let object: [String: Any] = [
            "part": "kernel", "batch": r.spec.shape.batch, "boxes": r.spec.shape.boxes, "classes": r.spec.shape.classes,
            "dtype": r.spec.dtype.rawValue, "layout": r.spec.layout.rawValue, "scores": r.parameters.scores.rawValue,
            "mining": r.parameters.mining.rawValue, "ms_per_batch": r.kernel.median * 1e3,
            "ms_min": r.kernel.min * 1e3, "ms_max": r.kernel.max * 1e3, "floor_ms": r.floor.median * 1e3,
            "floor_ms_min": r.floor.min * 1e3, "floor_ms_max": r.floor.max * 1e3, "ratio": r.ratio,
            "ns_per_box": r.nanosecondsPerBox, "bytes_per_box": r.bytesPerBox, "repetitions": r.kernel.samples.count,
            "loss": r.loss, "cold_cache": r.coldCache, "path": r.path.rawValue,
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// A table with one row per pipeline configuration.
    static func table(_ results: [PipelineBenchmark.Result]) -> String {
        var lines = [
            "pipeline (median of repetitions; min–max in brackets)",
            """
              shape            dtype     layout   scores         transport workers  bytes/box  bare batches/s       \
             sidecar batches/s     ratio
            """,
        ]
        for r in results {
            let spec = r.benchmark.spec
            let shape = "\(spec.shape.batch)×\(spec.shape.boxes)×\(spec.shape.classes)"
            let labels = [
                pad(shape, 16), pad(spec.dtype.rawValue, 9), pad(spec.layout.rawValue, 8),
                pad(spec.scores.rawValue, 14), pad(r.benchmark.transport.rawValue, 9), pad("\(r.benchmark.workers)", 7),
            ]
            let messages = Double(r.benchmark.messages)
            let figures = String(
                format: "%9.1f %7.1f [%5.1f–%5.1f] %7.1f [%5.1f–%5.1f] %6.2f×",
                r.bytesPerBox, r.bareBatchesPerSecond, messages / r.bare.max, messages / r.bare.min,
                r.batchesPerSecond, messages / r.sidecar.max, messages / r.sidecar.min, r.ratio)
            lines.append("  " + labels.joined(separator: " ") + " " + figures)
        }
        return lines.joined(separator: "\n")
    }

    /// One JSON object describing a pipeline result.
    static func json(_ r: PipelineBenchmark.Result) -> String {
        let spec = r.benchmark.spec
        let object: [String: Any] = [
            "part": "pipeline", "batch": spec.shape.batch, "boxes": spec.shape.boxes, "classes": spec.shape.classes,
            "dtype": spec.dtype.rawValue, "layout": spec.layout.rawValue, "scores": spec.scores.rawValue,
            "mining": "batch",
            "transport": r.benchmark.transport.rawValue, "workers": r.benchmark.workers,
            "messages": r.benchmark.messages,
            "batches_per_s": r.batchesPerSecond, "bare_batches_per_s": r.bareBatchesPerSecond, "ratio": r.ratio,
            "bytes_per_box": r.bytesPerBox, "message_bytes": r.messageBytes, "repetitions": r.sidecar.samples.count,
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// A table of the aggregator's figures.
    static func table(_ r: AggregatorBenchmark.Result) -> String {
        [
            """
            aggregate over the record link (one thread; median of \(r.total.samples.count) repetitions, min–max in \
            brackets; plain: a bare line from a PUSH producer)
            """,
            String(
                format: "  records  batch  bytes/record  records/s                      ns/record  plain ns  decode ns"
                    + "  ingest ns"),
            String(
                format: "  %7d  %5d  %12.0f  %9.0f [%9.0f–%9.0f]  %9.0f  %8.0f  %9.0f  %9.0f",
                r.records, r.batch, r.bytesPerRecord, r.recordsPerSecond,
                Double(r.records) / max(r.total.max, 1e-12), Double(r.records) / max(r.total.min, 1e-12),
                r.nanosecondsPerRecord, r.plainNanosecondsPerRecord, r.decodeNanosecondsPerRecord,
                r.ingestNanosecondsPerRecord),
        ].joined(separator: "\n")
    }

    /// One JSON object describing the aggregator's figures.
    static func json(_ r: AggregatorBenchmark.Result) -> String {
        let object: [String: Any] = [
            "part": "aggregate", "records": r.records, "batch": r.batch, "bytes_per_record": r.bytesPerRecord,
            // Records carry no tensors: the batch-shape keys every bench line has are null here.
            "boxes": NSNull(), "classes": NSNull(), "dtype": NSNull(), "layout": NSNull(), "scores": NSNull(),
            "mining": NSNull(),
            "records_per_s": r.recordsPerSecond, "records_per_s_min": Double(r.records) / max(r.total.max, 1e-12),
            "records_per_s_max": Double(r.records) / max(r.total.min, 1e-12), "ns_per_record": r.nanosecondsPerRecord,
            "decode_ns_per_record": r.decodeNanosecondsPerRecord, "ingest_ns_per_record": r.ingestNanosecondsPerRecord,
            "plain_ns_per_record": r.plainNanosecondsPerRecord, "path": "link",
            "repetitions": r.total.samples.count,
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// One SPEC §7 target and what was measured for it.
    struct TargetRow {
        var what: String
        var measured: Double
        var unit: String
        var target: String
        var met: Bool
    }

    /// The targets with their measured figures and verdicts.
    static func table(_ rows: [TargetRow]) -> String {
        var lines = ["SPEC §7 targets"]
        for row in rows {
            let figure =
                row.measured >= 1000 ? String(format: "%.0f", row.measured) : String(format: "%.2f", row.measured)
            lines.append(
                "  \(row.met ? "met    " : "NOT MET") \(pad(row.what, 78)) \(figure) \(row.unit) (target \(row.target))"
            )
        }
        return lines.joined(separator: "\n")
    }

    /// One JSON object for a target's verdict.
    static func json(_ row: TargetRow) -> String {
        let object: [String: Any] = [
            "part": "target", "what": row.what, "measured": row.measured, "unit": row.unit, "target": row.target,
            "met": row.met,
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }
}
