import ArgumentParser
import Foundation
import LossBench
import SSDLoss

/// `lossd bench diagnostics`: the kernel with the per-batch diagnostics off and on, in one run.
struct DiagnosticsBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnostics",
        abstract: "Time the loss kernel without and with the per-batch diagnostics of every loss record.",
        discussion: """
            Every loss record carries diagnostics (images without positives, the largest share \
            of positives in one image, positives and classification loss per class), computed in \
            the kernel's pass. This times the same batch with them off (the kernel as it was \
            before them) and on (as the sidecar runs it), alternating, and prints the median over \
            back-to-back pairs of on / off with its verdict: at most 1.05 (5 % slower). Runs \
            keras float32 probabilities, compact float16 logits, keras float32 logits and compact \
            float32 probabilities.

            Examples:
              lossd bench diagnostics
              lossd bench diagnostics --repeat 31 --path baseline
              lossd bench diagnostics --json
            """
    )

    @Option(help: "The batch shape as B,N,C.", transform: BatchShape.parse)
    var shape: BatchShape = BatchShape(batch: 32, boxes: 8732, classes: 21)

    @Option(name: .customLong("repeat"), help: "Timed repetitions of each of off and on.")
    var repetitions: Int = 15

    @Option(
        help: "The kernel's machine code: auto, avx2 or baseline (default: the process's).",
        transform: KernelPathChoice.parse)
    var path: KernelPath = .active

    @Flag(help: "One JSON object per configuration instead of a table.")
    var json = false

    func validate() throws {
        guard repetitions >= 1 else { throw ValidationError("--repeat must be at least 1.") }
    }

    func run() throws {
        let rows = try DiagnosticsCost(KernelSweep(shape: shape, repetitions: repetitions, path: path)).run { row in
            if json { print(BenchReport.json(row)) }
        }
        if !json { print(BenchReport.table(rows)) }
    }
}

extension BenchReport {
    /// A table with one row per configuration: off and on, their ratio, target and verdict.
    static func table(_ rows: [DiagnosticsCost.Row]) -> String {
        var lines = [
            "diagnostics cost (median ms per batch; ratio = median over back-to-back pairs of on / off)",
            "  layout   dtype     scores         off ms    on ms   on/off  target  verdict  path",
        ]
        for row in rows {
            let r = row.on
            let labels = [
                pad(r.spec.layout.rawValue, 8), pad(r.spec.dtype.rawValue, 9), pad(r.parameters.scores.rawValue, 14),
            ]
            let figures = String(
                format: "%7.2f  %7.2f  %6.3f×  ≤ %4.2f", row.off.kernel.median * 1e3, r.kernel.median * 1e3,
                row.ratio, DiagnosticsCost.target)
            lines.append(
                "  " + labels.joined(separator: " ") + " " + figures + "  \(row.met ? "met    " : "NOT MET")  \(r.path)"
            )
        }
        let met = rows.filter(\.met).count
        lines.append("  \(met) of \(rows.count) configurations within \(Int((DiagnosticsCost.target - 1) * 100)) %")
        return lines.joined(separator: "\n")
    }

    /// One JSON object for a configuration: both timings, the ratio, target and verdict.
    static func json(_ row: DiagnosticsCost.Row) -> String {
        let r = row.on
        let object: [String: Any] = [
            "what": "diagnostics", "layout": r.spec.layout.rawValue, "dtype": r.spec.dtype.rawValue,
            "scores": r.parameters.scores.rawValue, "off_ms": row.off.kernel.median * 1e3,
            "on_ms": r.kernel.median * 1e3, "ratio": row.ratio, "target": DiagnosticsCost.target, "met": row.met,
            "repetitions": r.kernel.samples.count, "path": r.path.rawValue,
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }
}
