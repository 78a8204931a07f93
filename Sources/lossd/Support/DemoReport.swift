import Foundation
import LossAggregator
import LossPipeline

/// The closing summary of `lossd demo`.
enum DemoReport {
    static func summary(_ summary: DemoSummary) -> String {
        let seconds = summary.elapsed / .seconds(1)
        var lines = ["", String(format: "summary after %.1f s", seconds)]
        let sidecar = summary.sidecar
        lines.append(
            """
              trainers sent \(summary.sent) batches; the sidecar received \(sidecar.received), computed \
            \(sidecar.computed), rejected \(sidecar.rejected)
            """
        )
        lines.append(
            "  the aggregator ingested \(summary.snapshot.records) records (invalid \(summary.snapshot.invalid))")
        for split in summary.snapshot.splits {
            let lost = summary.snapshot.sources.filter { $0.run == split.run }.reduce(0) { $0 + $1.lost }
            let first = summary.firstLoss[split.run].map { String(format: "%.3f", $0) } ?? "–"
            lines.append(
                """
                  \(split.run)/\(split.split): \(split.batches) batches, \(split.samples) images; loss fell from \
                \(first) (first mean) to 
                """
                    + """
                    \(fmt(split.loss.ema)) (ema), \(fmt(split.loss.window)) (window); mean over the run \
                    \(fmt(split.loss.mean)); 
                    """
                    + "errors \(split.errorCount), lost \(lost)")
        }
        lines.append(
            "  lossd serve runs this for real trainers; see README.md for sending batches from a training loop.")
        return lines.joined(separator: "\n")
    }

    private static func fmt(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "–" }
        return String(format: "%.3f", value)
    }
}
