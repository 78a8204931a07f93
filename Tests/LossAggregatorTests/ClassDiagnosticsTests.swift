import Foundation
import LossWire
import SSDLoss
import Testing

@testable import LossAggregator

/// The per-class classification loss and the per-batch diagnostics of a (run, split): EMA over
/// the batches in which a class appears, window sums over the split's window, bounds, the state
/// file, `/metrics`, and the non-finite counts by tensor and kind.
@Suite("Per-class diagnostics")
struct ClassDiagnosticsTests {
    static func diagnostics(
        _ classes: [(Int, Double, Double)], without: Int = 0, share: Double = 0.5
    ) -> BatchDiagnostics {
        BatchDiagnostics(
            imagesWithoutPositives: without, maxPositiveShare: share,
            classes: classes.map {
                BatchDiagnostics.ClassFigures(classIndex: $0.0, positives: $0.1, classificationSum: $0.2)
            })
    }

    @Test("a class's EMA steps only in batches where it appears; its window sums its figures in the window")
    func emaAndWindow() {
        var statistics = DiagnosticStatistics(window: 3)
        let decay = 0.9
        statistics.add(Self.diagnostics([(1, 2, 3), (3, 4, 10)], without: 1, share: 0.7), classes: 5, decay: decay)
        statistics.add(Self.diagnostics([(1, 1, 4)], share: 0.25), classes: 5, decay: decay)
        statistics.add(nil, classes: 5, decay: decay)  // an older sidecar's record: a place in the window
        statistics.add(Self.diagnostics([(1, 5, 5)], share: 0.5), classes: 5, decay: decay)
        let snapshot = DiagnosticSnapshot(statistics)
        let one = snapshot.classes[0]
        let three = snapshot.classes[1]
        #expect(snapshot.classes.map(\.classIndex) == [1, 3])
        // class 1: values 1.5, 4, 1 over three batches
        var ema = 0.0
        for value in [1.5, 4, 1] { ema = decay * ema + (1 - decay) * value }
        #expect(isClose(one.ema, ema / (1 - decay * decay * decay)))
        #expect(one.batches == 3 && one.positives == 8 && one.last == 1)
        #expect(isClose(one.mean, 12.0 / 8))
        // the window holds the last three batches: (1, 1, 4), absent, (1, 5, 5)
        #expect(isClose(one.window, 9.0 / 6) && one.windowPositives == 6)
        // class 3 appeared once, in a batch that left the window
        #expect(isClose(three.ema, 2.5) && three.window == nil && three.windowPositives == 0)
        #expect(snapshot.batches == 3 && snapshot.windowBatches == 2)
        #expect(snapshot.imagesWithoutPositives == 1 && snapshot.windowImagesWithoutPositives == 0)
        #expect(snapshot.windowMaxPositiveShare == 0.5 && snapshot.lastMaxPositiveShare == 0.5)
    }

    @Test("records decoded from JSON lines feed the figures; a line without diagnostics takes a window place")
    func fromRecords() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(emaDecay: 0.5, window: 2), startTime: 0)
        func line(_ diagnostics: String) throws -> ResultRecord {
            let text =
                #"{"v":1,"kind":"loss","batch":2,"boxes":8,"classes":4,"loss":1,"classification":1,"#
                + #""localization":0,"per_item":[1,1],"positives":3,"negatives":9,"negatives_available":9"#
                + diagnostics + "}"
            return try ResultRecord(jsonLine: Array(text.utf8))
        }
        aggregation.ingest(
            try line(
                #","diagnostics":{"images_without_positives":1,"max_positive_share":0.25,"classes":["#
                    + #"{"class":1,"positives":2,"classification_sum":3},"#
                    + #"{"class":3,"positives":1,"classification_sum":4}]}"#
            ), at: 0)
        aggregation.ingest(try line(""), at: 1)
        aggregation.ingest(
            try line(
                #","diagnostics":{"images_without_positives":0,"max_positive_share":0.125,"classes":["#
                    + #"{"class":1,"positives":1,"classification_sum":0.5}]}"#), at: 2)
        let split = aggregation.snapshot(at: 3).splits[0]
        #expect(split.batches == 3 && split.diagnostics.batches == 2)
        #expect(split.diagnostics.imagesWithoutPositives == 1 && split.diagnostics.windowImagesWithoutPositives == 0)
        #expect(split.diagnostics.windowBatches == 1 && split.diagnostics.windowMaxPositiveShare == 0.125)
        let one = split.diagnostics.classes[0]
        // values 1.5 then 0.5 with d = 0.5: raw 0.75, then 0.625; debiased by 1 − 0.25
        #expect(isClose(one.ema, 0.625 / 0.75) && one.window == 0.5 && one.windowPositives == 1)
        #expect(split.diagnostics.classes[1].classIndex == 3 && split.diagnostics.classes[1].window == nil)
    }

    @Test("class figures outside 1…C−1, repeated, without positives or past the cap are dropped and counted")
    func bounds() {
        var statistics = DiagnosticStatistics(window: 4)
        statistics.add(
            Self.diagnostics([(0, 1, 1), (2, 1, 1), (2, 1, 1), (4, 1, 1), (5, 1, 1), (3, 0, 1)]), classes: 5,
            decay: 0.9)
        #expect(statistics.classes.indices == [2, 4])
        #expect(statistics.droppedClasses == 4)
        var many = DiagnosticStatistics(window: 1)
        let count = DiagnosticStatistics.maxClasses + 5
        many.add(
            Self.diagnostics((1..<count).map { ($0, 1, 1) }), classes: count, decay: 0.9)
        #expect(many.classes.count == DiagnosticStatistics.maxClasses)
        #expect(many.droppedClasses == count - 1 - DiagnosticStatistics.maxClasses)
    }

    @Test("the state file keeps every figure exactly; a state without diagnostics restores none")
    func state() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(window: 3), startTime: 0)
        for index in 0..<5 {
            aggregation.ingest(Records.loss(loss: Double(index) + 0.5), at: Double(index))
        }
        let key = SplitKey(run: "r", split: "train")
        aggregation.splits[key]?.diagnostics.add(
            Self.diagnostics([(1, 2, 3.3), (2, 0.5, .infinity)], without: 2, share: 0.3), classes: 4, decay: 0.98)
        aggregation.splits[key]?.diagnostics.add(Self.diagnostics([(1, 1, 0.1)]), classes: 4, decay: 0.98)
        let saved = aggregation.stateJSON(savedAt: 10)
        let restored = try Aggregation(stateJSON: saved, parameters: aggregation.parameters)
        let before = try #require(aggregation.splits[key]?.diagnostics)
        let after = try #require(restored.splits[key]?.diagnostics)
        #expect(after.classes == before.classes && after.window.orderedEntries == before.window.orderedEntries)
        #expect(restored.stateJSON(savedAt: 10) == saved)
        #expect(restored.snapshot(at: 11).splits[0].diagnostics == aggregation.snapshot(at: 11).splits[0].diagnostics)

        // Without the key (an older lossd's state), the window is padded to the batches it holds.
        var plain = Aggregation(parameters: AggregationParameters(window: 3), startTime: 0)
        for index in 0..<5 { plain.ingest(Records.loss(loss: 1), at: Double(index)) }
        var older = try Aggregation(stateJSON: plain.stateJSON(savedAt: 1), parameters: plain.parameters)
        #expect(older.splits[key]?.diagnostics.isEmpty == true)
        older.splits[key]?.diagnostics.add(Self.diagnostics([(1, 1, 2)]), classes: 4, decay: 0.98)
        #expect(older.splits[key]?.diagnostics.window.count == 3)
        #expect(older.snapshot(at: 2).splits[0].diagnostics.windowBatches == 1)
    }

    @Test("a wider window after a restart keeps the diagnostics' window aligned with the batches'")
    func resize() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(window: 2), startTime: 0)
        let key = SplitKey(run: "r", split: "train")
        for index in 0..<3 {
            aggregation.ingest(Records.loss(loss: 1), at: Double(index))
            aggregation.splits[key]?.diagnostics.add(Self.diagnostics([(1, 1, Double(index))]), classes: 4, decay: 0.5)
        }
        let wider = try Aggregation(
            stateJSON: aggregation.stateJSON(savedAt: 3), parameters: AggregationParameters(window: 10))
        #expect(wider.splits[key]?.diagnostics.window.capacity == 10)
        #expect(wider.splits[key]?.diagnostics.window.count == wider.splits[key]?.window.entries.count)
    }

    @Test("non-finite counts by tensor and kind; a record with per-tensor counts only counts as unknown")
    func nonfiniteValues() {
        var aggregation = Aggregation(startTime: 0)
        let labels = BatchLabels(run: "r", split: "train", source: "s")
        aggregation.ingest(
            .error(
                WireError(
                    code: .nonfinite, message: "m", labels: labels,
                    details: [
                        "nonfinite": .object(["y_pred": .int(2), "y_true": .int(1)]),
                        "nonfinite_kinds": .object([
                            "y_pred": .object(["class_score": .int(1), "pred_offset": .int(1)]),
                            "y_true": .object(["gt_offset": .int(1)]),
                        ]),
                    ])), at: 1)
        aggregation.ingest(.error(WireError.nonfinite(counts: ["y_pred": 3, "y_true": 0], labels: labels)), at: 2)
        aggregation.ingest(
            .error(
                WireError(
                    code: .nonfinite, message: "m", labels: labels,
                    details: ["nonfinite_kinds": .object(["made_up": .object(["weird": .int(4)])])])), at: 3)
        aggregation.ingest(Records.error(.badFrames), at: 4)
        let values = aggregation.snapshot(at: 5).splits[0].nonfiniteValues
        #expect(
            values == [
                NonfiniteValueCount(tensor: "other", kind: "other", count: 4),
                NonfiniteValueCount(tensor: "y_pred", kind: "class_score", count: 1),
                NonfiniteValueCount(tensor: "y_pred", kind: "pred_offset", count: 1),
                NonfiniteValueCount(tensor: "y_pred", kind: "unknown", count: 3),
                NonfiniteValueCount(tensor: "y_true", kind: "gt_offset", count: 1),
            ])
        let text = String(decoding: PrometheusExposition.render(aggregation.snapshot(at: 5)), as: UTF8.self)
        #expect(text.contains(#"lossd_nonfinite_values_total{run="r",split="train",tensor="y_pred",kind="unknown"} 3"#))
        #expect(
            text.contains(#"lossd_nonfinite_values_total{run="r",split="train",tensor="y_true",kind="gt_offset"} 1"#))
        let restored = try? Aggregation(
            stateJSON: aggregation.stateJSON(savedAt: 5), parameters: aggregation.parameters)
        #expect(restored?.snapshot(at: 5).splits[0].nonfiniteValues == values)
    }

    @Test("/metrics and /stats carry the class figures; a split without diagnostics has none of them")
    func exposition() throws {
        var aggregation = Aggregation(startTime: 0)
        aggregation.ingest(Records.loss(run: "plain", loss: 1), at: 0)
        aggregation.ingest(Records.loss(run: "diag", loss: 1), at: 0)
        aggregation.splits[SplitKey(run: "diag", split: "train")]?.diagnostics.add(
            Self.diagnostics([(2, 4, 2), (3, 1, 0.5)], without: 1, share: 0.75), classes: 4, decay: 0.98)
        let snapshot = aggregation.snapshot(at: 1)
        let text = String(decoding: PrometheusExposition.render(snapshot), as: UTF8.self)
        #expect(text.contains(#"lossd_class_loss_ema{run="diag",split="train",class="2"} 0.5"#))
        #expect(text.contains(#"lossd_class_loss_window{run="diag",split="train",class="3"} 0.5"#))
        #expect(text.contains(#"lossd_class_positives_total{run="diag",split="train",class="2"} 4"#))
        #expect(text.contains(#"lossd_images_without_positives_total{run="diag",split="train"} 1"#))
        #expect(text.contains(#"lossd_max_positive_share_window{run="diag",split="train"} 0.75"#))
        #expect(!text.contains(#"lossd_diagnosed_batches_total{run="plain""#))
        let json = try JSONSerialization.jsonObject(with: Data(snapshot.jsonLine())) as? [String: Any]
        let splits = json?["splits"] as? [[String: Any]] ?? []
        let diag = splits.first { $0["run"] as? String == "diag" }
        let classes = diag?["classes"] as? [String: [String: Any]]
        #expect(classes?["2"]?["ema"] as? Double == 0.5 && classes?["2"]?["positives"] as? Double == 4)
        #expect((diag?["diagnostics"] as? [String: Any])?["images_without_positives"] as? Int == 1)
        let plain = splits.first { $0["run"] as? String == "plain" }
        #expect((plain?["classes"] as? [String: Any])?.isEmpty == true)
        // and read back (lossd report)
        let decoded = try JSONDecoder().decode(AggregatorSnapshot.self, from: Data(snapshot.jsonLine()))
        #expect(
            decoded.split(run: "diag", split: "train")?.diagnostics
                == snapshot.split(run: "diag", split: "train")?.diagnostics)
    }

    @Test("the dashboard lists the ten classes with the largest EMA, largest first")
    func dashboard() {
        var aggregation = Aggregation(startTime: 0)
        aggregation.ingest(Records.loss(loss: 1), at: 0)
        aggregation.splits[SplitKey(run: "r", split: "train")]?.diagnostics.add(
            Self.diagnostics((1...12).map { ($0, 1, Double($0)) }), classes: 13, decay: 0.98)
        let page = DashboardPage(title: "t", panels: DashboardPanel.panels(of: aggregation, at: 1), time: 1).render()
        #expect(page.contains("Loss by class"))
        #expect(page.contains("the largest 10 of 12 classes"))
        let rows = page.components(separatedBy: "<tr><td>").dropFirst().map { $0.prefix { $0 != "<" } }
        #expect(rows == ["12", "11", "10", "9", "8", "7", "6", "5", "4", "3"])
        // positives are counts: "1", not "1.0000"
        let table = page.components(separatedBy: "Loss by class").last?.components(separatedBy: "</table>").first ?? ""
        let positives = table.components(separatedBy: "</td></tr>").dropLast().map { $0.split(separator: ">").last }
        #expect(positives.count == 10 && positives.allSatisfy { $0 == "1" }, "\(positives)")
        var plain = Aggregation(startTime: 0)
        plain.ingest(Records.loss(loss: 1), at: 0)
        #expect(
            !DashboardPage(title: "t", panels: DashboardPanel.panels(of: plain, at: 1), time: 1).render()
                .contains("Loss by class"))
    }
}
