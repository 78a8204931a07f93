import Foundation
import LossWire
import LossdTestSupport
import Testing

@testable import LossAggregator

@Suite("lossd report's inputs: state files and snapshots files")
struct DashboardReportTests {
    /// The snapshots file of an aggregation fed `batches` falling batches, one snapshot every `every`.
    private func snapshots(batches: Int, every: Int, startTime: Double = 10) -> [UInt8] {
        var aggregation = Aggregation(parameters: AggregationParameters(window: 20), startTime: startTime)
        var text: [UInt8] = []
        for n in 0..<batches {
            aggregation.ingest(
                Records.loss(step: n, batch: 2, loss: 1 + 9 * exp(-Double(n) / 200)), at: startTime + Double(n))
            if n % every == every - 1 {
                text += aggregation.snapshot(at: startTime + Double(n)).jsonLine() + [UInt8(ascii: "\n")]
            }
        }
        return text
    }

    @Test("a snapshots file becomes one point per line, downsampled to the bound, ending at the last snapshot")
    func fromSnapshots() throws {
        let report = try DashboardReport.parse(snapshots(batches: 5000, every: 10), path: "s.jsonl", historyPoints: 64)
        #expect(report.kind == .snapshots)
        let panel = try #require(report.panels.first)
        #expect(panel.run == "r" && panel.split == "train")
        #expect(panel.points.count <= 64 && panel.points.count >= 31)
        #expect(panel.points.first?.batches == 10)
        #expect(panel.points.last?.batches == 5000)
        #expect(panel.summary.batches == 5000)
        let emas = panel.points.compactMap(\.loss.ema)
        #expect(
            emas.count == panel.points.count && emas.first.map { $0 > 5 } == true && emas.last.map { $0 < 1.1 } == true)
        // Snapshots hold no per-batch values: no range.
        #expect(panel.points.allSatisfy { $0.loss.low == nil && $0.loss.high == nil })
        let page = try XMLTree(report.page(title: "t", source: "s.jsonl").render()).root
        #expect(page.elements("svg").count == 3)
    }

    @Test("only the lines of the latest start_time are used; lines that are not snapshots are skipped with a note")
    func restartsAndJunk() throws {
        let text =
            snapshots(batches: 300, every: 10, startTime: 10) + Array("not json\n\n{\"kind\":\"other\"}\n".utf8)
            + snapshots(batches: 100, every: 10, startTime: 5000)
        let report = try DashboardReport.parse(text, path: "s.jsonl")
        #expect(report.panels.first?.points.count == 10)
        #expect(report.panels.first?.points.last?.batches == 100)
        #expect(report.notes.count == 2)
        #expect(report.notes.contains { $0.contains("30 snapshot(s) of an earlier aggregation") })
        #expect(report.notes.contains { $0.hasPrefix("2 line(s) were not snapshots") })
    }

    @Test("a state file gives the saved history, per-batch range included; anything else is refused with a reason")
    func fromStateAndRefusals() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(window: 7, historyPoints: 100), startTime: 3)
        for n in 0..<1000 { aggregation.ingest(Records.loss(run: "a", batch: 1, loss: 5 - Double(n) / 500), at: 4) }
        let report = try DashboardReport.parse(aggregation.stateJSON(savedAt: 9), path: "state.json")
        #expect(report.kind == .state)
        #expect(report.time == 9)
        let panel = try #require(report.panels.first)
        let saved = try #require(aggregation.history(at: 9).first?.points)
        // Stored points are restored exactly; the live one up to the window's summation order.
        let sameStored = panel.points.dropLast() == saved.dropLast()
        #expect(sameStored && panel.points.count == saved.count)
        #expect(isClose(panel.points.last?.loss.window, try #require(saved.last?.loss.window), tolerance: 1e-12))
        #expect(panel.points.last?.loss.ema == saved.last?.loss.ema)
        #expect(panel.points.contains { $0.loss.low != nil })
        #expect(panel.summary.batchesPerSecond == nil)  // rates are not saved
        for bad in ["", "hello", "{\"kind\":\"lossd-aggregate-state\",\"v\":1}", "[1,2]"] {
            #expect(throws: ReportError.self) { try DashboardReport.parse(Array(bad.utf8), path: "x") }
        }
        #expect(throws: ReportError.self) { try DashboardReport.load(path: "/nonexistent/lossd/state.json") }
    }
}
