import Foundation
import LossWire
import LossdTestSupport
import Testing

@testable import LossAggregator

/// The dashboard's chart of the loss per step across ranks: drawn against the step number, not
/// arrival order; a partial step is a gap.
@Suite("Dashboard: the chart over steps")
struct StepChartTests {
    @Test("steps that arrive out of order are drawn in step order, with pooled and mean at their values")
    func stepChart() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(stepTimeout: 5), startTime: 0)
        // Steps arrive 3, 0, 2, 1 (two ranks); step 4 only from rank 0, closed partial at its timeout.
        for step in [3, 0, 2, 1] {
            for rank in 0..<2 {
                aggregation.ingest(
                    Records.rank(
                        rank, of: 2, step: step, stream: "s\(rank)", batch: 2 + rank,
                        classificationSum: Double(10 - step) * Double(1 + rank), localizationSum: 1, positives: 2),
                    at: 1)
            }
        }
        aggregation.ingest(
            Records.rank(0, of: 2, step: 4, stream: "s0", classificationSum: 1, localizationSum: 1, positives: 1), at: 1
        )
        aggregation.housekeeping(at: 10)
        let panel = try #require(DashboardPanel.panels(of: aggregation, at: 10).first)
        #expect(panel.charts.map(\.title).last == "Loss per step, all ranks")
        let chart = try #require(panel.stepChart)
        #expect(chart.xLabel == "steps 0–4, 1 partial (gaps)")
        let reader = try ChartReader(try XMLTree(chart.render(id: "s")).root)
        let perPixel = try #require(reader.pixelsPerUnit)
        let steps = aggregation.snapshot(at: 10, steps: 10).splits[0].steps
        for (series, value) in [
            ("pooled", { (s: StepSnapshot) in s.pooled.loss }), ("mean of ranks", { $0.mean.loss }),
        ] {
            let drawn = reader.values(series)
            let wanted = steps.filter { $0.status == .complete }.compactMap { step in
                value(step).map { (Double(step.step), $0) }
            }
            #expect(drawn.count == 4 && wanted.count == 4, "\(series)")
            for (vertex, point) in zip(drawn, wanted) {
                #expect(abs(vertex.x - point.0) * perPixel.x <= 1 && abs(vertex.y - point.1) * perPixel.y <= 1)
            }
        }
        #expect(aggregation.snapshot(at: 10).splits[0].stepCounts.partial == 1)
        let html = HTTPDashboard.render(aggregation)
        #expect(html.contains("complete step") && html.contains("partial steps"))
    }

    @Test("a split whose records carry no ranks has no chart over steps")
    func noSteps() throws {
        var aggregation = Aggregation(startTime: 0)
        aggregation.ingest(Records.loss(step: 1, loss: 1), at: 1)
        let panel = try #require(DashboardPanel.panels(of: aggregation, at: 2).first)
        #expect(panel.stepChart == nil && panel.charts.count == 3)
    }
}

/// The dashboard page as the HTTP server renders it.
enum HTTPDashboard {
    static func render(_ aggregation: Aggregation) -> String {
        AggregatorHTTPServer.dashboard(aggregation, at: 10, refreshSeconds: 0).render()
    }
}
