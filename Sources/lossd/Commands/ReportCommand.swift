import ArgumentParser
import Foundation
import LossAggregator
import LossPipeline

/// `lossd report`: the dashboard's charts as one self-contained HTML file.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the dashboard's loss charts to one self-contained HTML file.",
        discussion: """
            Makes the page that lossd aggregate serves at GET /, frozen, from a file the \
            aggregator wrote, to attach to an experiment log: one panel per (run, split) with \
            its current figures and three charts (the loss with its EMA, window mean and \
            per-batch range; classification against localization; error records and lost \
            batches), against the split's batch count. The file has no script and fetches \
            nothing; it follows the reader's light or dark theme.

            The input is either kind, told apart by its content:
              a state file (lossd aggregate --state FILE): it carries each (run, split)'s \
            downsampled history, so the charts are those the dashboard showed when it was saved, \
            per-batch range included;
              a snapshots file (lossd aggregate --snapshots FILE): one line per \
            --snapshot-interval; each line adds one point to every curve, so the charts are as \
            fine as the interval. Only the lines since the aggregator's latest fresh start are \
            used (a restart that loaded its state continues the same curves). Long files are \
            downsampled to --history-points points per curve.

            Exit status: 0 when the report was written; 1 when the input cannot be read or is \
            neither kind, or the report cannot be written; 64 for usage errors.

            Examples:
              lossd report state.json -o report.html
              lossd report stats.jsonl -o ssd300-voc.html --title "ssd300-voc, lr 1e-3"
              lossd report state.json -o voc.html --run ssd300-voc --run ssd512-voc
            """
    )

    @Argument(help: "A state file (lossd aggregate --state) or a snapshots file (--snapshots).", completion: .file())
    var input: String

    @Option(name: .shortAndLong, help: "Where to write the HTML report.", completion: .file(extensions: ["html"]))
    var output: String = "report.html"

    @Option(help: "The page's heading (default: lossd report: INPUT's file name).")
    var title: String?

    @Option(name: .customLong("run"), help: "Only this run (repeat the option for several; default: every run).")
    var runs: [String] = []

    @Option(help: "The most points per curve when reading a snapshots file.")
    var historyPoints: Int = 2000

    func validate() throws {
        let range = AggregationParameters.historyPointsRange
        guard range.contains(historyPoints) else {
            throw ValidationError(
                "--history-points must be in \(range.lowerBound)…\(range.upperBound), not \(historyPoints).")
        }
        guard !output.isEmpty else { throw ValidationError("--output needs a path, such as report.html.") }
    }

    func run() throws {
        do {
            var report = try DashboardReport.load(path: input, historyPoints: historyPoints)
            if !runs.isEmpty {
                let wanted = Set(runs)
                report.panels = report.panels.filter { wanted.contains($0.run) }
                let missing = wanted.subtracting(report.panels.map(\.run))
                if !missing.isEmpty {
                    report.notes.append(
                        "no (run, split) of run(s) \(missing.sorted().joined(separator: ", ")) in \(input)")
                }
            }
            let name = URL(fileURLWithPath: input).lastPathComponent
            let page = report.page(title: title ?? "lossd report: \(name)", source: name)
            do {
                try Data(page.render().utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
            } catch {
                throw ReportError.unwritable(path: output, reason: error.localizedDescription)
            }
            for note in report.notes { Terminal.warn("note: \(note)") }
            let curves = report.panels.count
            Terminal.warn(
                """
                wrote \(output): \(curves) (run, split) panel\(curves == 1 ? "" : "s") from the \
                \(report.kind.rawValue) file \(input)
                """
            )
        } catch let error as ReportError {
            Terminal.warn("\(error)")
            throw ExitCode(1)
        }
    }
}
