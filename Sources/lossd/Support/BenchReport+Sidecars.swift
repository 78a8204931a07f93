import Foundation
import LossBench
import LossPipeline
import LossSynthesis

/// Sidecar processes side by side (`lossd bench pipeline --against-tunables`).
extension BenchReport {
    /// A table with one row per configuration and variant; each variant against the first.
    static func table(_ results: [SidecarProcessBench.Result]) -> String {
        var lines = [
            "sidecar processes (median of repetitions; each ratio against the default sidecar, run by run)",
            "  layout   dtype     transport workers  MB/message  variant           batches/s   × default",
        ]
        for r in results {
            let spec = r.bench.spec
            for (index, variant) in r.bench.variants.enumerated() {
                let labels = [
                    pad(spec.layout.rawValue, 8), pad(spec.dtype.rawValue, 9), pad(r.bench.transport.rawValue, 9),
                    pad("\(r.bench.workers)", 7),
                ]
                let figures =
                    String(format: "%10.1f  ", Double(r.messageBytes) / 1e6) + pad(variant.label, 16)
                    + String(format: "  %9.1f  %9.2f×", r.batchesPerSecond(index), r.relativeToDefault(index))
                lines.append("  " + labels.joined(separator: " ") + " " + figures)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// One JSON object per configuration, with every variant's batches/s.
    static func json(_ r: SidecarProcessBench.Result) -> String {
        let spec = r.bench.spec
        let variants: [[String: Any]] = r.bench.variants.indices.map { index in
            [
                "label": r.bench.variants[index].label, "batches_per_s": r.batchesPerSecond(index),
                "relative_to_default": r.relativeToDefault(index),
            ]
        }
        let object: [String: Any] = [
            "part": "sidecar_processes", "batch": spec.shape.batch, "boxes": spec.shape.boxes,
            "classes": spec.shape.classes,
            "dtype": spec.dtype.rawValue, "layout": spec.layout.rawValue, "scores": spec.scores.rawValue,
            "mining": "batch",
            "transport": r.bench.transport.rawValue, "workers": r.bench.workers, "messages": r.bench.messages,
            "message_bytes": r.messageBytes, "repetitions": r.bench.repetitions, "variants": variants,
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }
}
