import Foundation
import LossAggregator

/// The demo's table of running averages per (run, split), redrawn in place on a terminal.
struct LiveTable {
    /// The header, one row per (run, split), and a footer line.
    static func lines(_ snapshot: AggregatorSnapshot, title: String) -> [String] {
        var lines = [title, ""]
        lines.append(
            row(
                "run/split", "batches", "batch/s", "loss mean", "ema", "window", "last", "class ema", "loc ema",
                "errors", "lost"))
        for split in snapshot.splits {
            let lost = snapshot.sources.filter { $0.run == split.run }.reduce(0) { $0 + $1.lost }
            lines.append(
                row(
                    "\(split.run)/\(split.split)", "\(split.batches)", format(split.batchesPerSecond, digits: 1),
                    format(split.loss.mean), format(split.loss.ema), format(split.loss.window), format(split.loss.last),
                    format(split.classification.ema), format(split.localization.ema), "\(split.errorCount)", "\(lost)"))
        }
        if snapshot.splits.isEmpty { lines.append("  (waiting for the first records)") }
        return lines
    }

    /// One line per (run, split) for a log that is not a terminal.
    static func plainLines(_ snapshot: AggregatorSnapshot, elapsed: Double) -> [String] {
        snapshot.splits.map { split in
            String(format: "%6.1f s  ", elapsed) + "\(split.run)/\(split.split): batches=\(split.batches) "
                + "loss_mean=\(format(split.loss.mean)) loss_ema=\(format(split.loss.ema)) "
                + "loss_window=\(format(split.loss.window)) errors=\(split.errorCount)"
        }
    }

    /// ANSI: move up `count` lines and clear each as it is rewritten.
    static func redraw(_ lines: [String], previous: Int) -> String {
        var text = previous > 0 ? "\u{1B}[\(previous)A" : ""
        for line in lines { text += "\u{1B}[2K" + line + "\n" }
        return text
    }

    private static func row(_ cells: String...) -> String {
        let widths = [22, 8, 8, 10, 8, 8, 8, 10, 8, 7, 5]
        return zip(cells, widths).enumerated().map { index, pair in
            index == 0
                ? pair.0.padding(toLength: pair.1, withPad: " ", startingAt: 0)
                : String(repeating: " ", count: max(0, pair.1 - pair.0.count)) + pair.0
        }.joined(separator: " ")
    }

    static func format(_ value: Double?, digits: Int = 3) -> String {
        guard let value, value.isFinite else { return "–" }
        return String(format: "%.\(digits)f", value)
    }
}
