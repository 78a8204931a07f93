import Foundation
import LossBench
import LossPipeline
import LossSynthesis

/// The kernel matrix (`lossd bench kernel --matrix`) as a table, Markdown rows or JSON lines.
extension BenchReport {
    /// A table with one row per combination, its target and verdict.
    static func table(_ rows: [KernelMatrix.Row]) -> String {
        var lines = [
            "kernel matrix (median of repetitions; each ratio against the floor of its own bytes)",
            "  layout   dtype     scores         mining  ms/batch  floor ms  bytes/box   ratio  target  verdict  path",
        ]
        for row in rows {
            let r = row.result
            let labels = [
                pad(r.spec.layout.rawValue, 8), pad(r.spec.dtype.rawValue, 9), pad(r.parameters.scores.rawValue, 14),
                pad(r.parameters.mining.rawValue, 7),
            ]
            let figures = String(
                format: "%8.2f  %8.2f  %9.0f  %5.2f×  ≤ %4.2f", r.kernel.median * 1e3, r.floor.median * 1e3,
                r.bytesPerBox, r.ratio, row.target)
            lines.append(
                "  " + labels.joined(separator: " ") + " " + figures + "  \(row.met ? "met    " : "NOT MET")  \(r.path)"
            )
        }
        let met = rows.filter(\.met).count
        lines.append("  \(met) of \(rows.count) combinations meet their targets")
        return lines.joined(separator: "\n")
    }

    /// The same rows as a Markdown table, to paste into docs/PERFORMANCE.md.
    static func markdown(_ rows: [KernelMatrix.Row]) -> String {
        var lines = [
            "| layout | dtype | scores | mining | ms/batch | floor ms | × floor | target | verdict | path |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in rows {
            let r = row.result
            let figures = String(
                format: "%.2f | %.2f | %.2f | ≤ %.2f", r.kernel.median * 1e3, r.floor.median * 1e3, r.ratio, row.target)
            lines.append(
                "| \(r.spec.layout) | \(r.spec.dtype) | \(r.parameters.scores) | \(r.parameters.mining) | \(figures) | "
                    + "\(row.met ? "met" : "**not met**") | \(r.path) |")
        }
        return lines.joined(separator: "\n")
    }

    /// One JSON object for a combination: the kernel's figures, its target and verdict.
    static func json(_ row: KernelMatrix.Row) -> String {
        let kernel = json(row.result)
        return String(kernel.dropLast()) + String(format: #","target":%.2f,"met":"#, row.target) + "\(row.met)}"
    }
}
