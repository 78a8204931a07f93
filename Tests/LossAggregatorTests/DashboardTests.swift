import Foundation
import LossWire
import LossdTestSupport
import Testing

@testable import LossAggregator

@Suite("Dashboard: server-rendered SVG charts and the HTML page")
struct DashboardTests {
    /// Two runs: a falling loss with steps, errors and lost batches, and a run whose name needs escaping.
    private func aggregation(batches: Int = 3000) -> Aggregation {
        var aggregation = Aggregation(
            parameters: AggregationParameters(window: 50, reorderWindow: 4, historyPoints: 200), startTime: 100)
        var seq = 0
        for n in 0..<batches {
            let loss = 2 + 8 * exp(-Double(n) / 600) + 0.3 * sin(Double(n))
            aggregation.ingest(
                Records.loss(
                    source: "rank0", seq: seq, epoch: n / 1000, step: 10 * n, batch: 4, loss: loss,
                    classification: 0.7 * loss), at: 100 + Double(n) / 100)
            seq += n % 500 == 499 ? 10 : 1  // a gap now and then: lost batches
            if n % 700 == 0 { aggregation.ingest(Records.error(.nonfinite, source: nil), at: 100 + Double(n) / 100) }
        }
        aggregation.ingest(Records.loss(run: #"<script>&""#, split: "v'al", batch: 1, loss: 1), at: 200)
        aggregation.ingest(Records.loss(run: #"<script>&""#, split: "v'al", batch: 1, loss: 0.5), at: 201)
        return aggregation
    }

    private func panel(_ aggregation: Aggregation, run: String = "r") throws -> DashboardPanel {
        try #require(DashboardPanel.panels(of: aggregation, at: 300).first { $0.run == run })
    }

    @Test("each chart is well-formed SVG with a title, a legend, axis labels and ticks on both axes")
    func wellFormed() throws {
        let panel = try panel(aggregation())
        let charts = panel.charts
        #expect(charts.map(\.title) == ["Loss", "Classification and localization", "Errors and lost batches"])
        for (index, chart) in charts.enumerated() {
            let svg = try XMLTree(chart.render(id: "t\(index)")).root
            #expect(svg.name == "svg")
            #expect(svg.attributes["xmlns"] == "http://www.w3.org/2000/svg")
            #expect(svg.all.contains { $0.hasClass("chart-title") && $0.allText == chart.title })
            let xTicks = svg.all.filter { $0.hasClass("x-tick") }
            let yTicks = svg.all.filter { $0.hasClass("y-tick") }
            #expect(xTicks.count >= 3, "\(chart.title)")
            #expect(yTicks.count >= 3, "\(chart.title)")
            #expect(xTicks.allSatisfy { !$0.allText.isEmpty })
            // Tick labels are distinct and in order.
            let yValues = yTicks.compactMap { $0.number("data-value") }
            #expect(
                yValues == yValues.sorted() && Set(yTicks.map(\.allText)).count == yTicks.count,
                "\(yTicks.map(\.allText))")
            #expect(svg.all.first { $0.hasClass("x-label") }?.allText == "batches (steps 0–29990)")
            #expect(svg.all.first { $0.hasClass("y-label") }?.allText.isEmpty == false)
            let legend = svg.all.filter { $0.hasClass("legend-label") }.map(\.allText)
            #expect(legend == chart.bands.map(\.name) + chart.lines.map(\.name))
            let mapping = try #require(try ChartReader(svg).mapping)
            // Every y tick lies within the plot.
            #expect(yValues.allSatisfy { $0 >= mapping.yMin - 1e-9 && $0 <= mapping.yMax + 1e-9 })
        }
    }

    @Test("the vertices of every line map back to the history's values within a pixel")
    func pointsMatchHistory() throws {
        let panel = try panel(aggregation())
        let points = panel.points
        #expect(points.count <= 200 && points.count > 100)
        let expectations: [(chart: Int, series: String, value: (HistoryPoint) -> Double?)] = [
            (0, "EMA", { $0.loss.ema }), (0, "window", { $0.loss.window }), (0, "mean", { $0.loss.mean }),
            (1, "classification EMA", { $0.classification.ema }),
            (1, "localization window", { $0.localization.window }),
        ]
        let charts = panel.charts
        for expectation in expectations {
            let reader = try ChartReader(try XMLTree(charts[expectation.chart].render(id: "c")).root)
            let perPixel = try #require(reader.pixelsPerUnit)
            let drawn = reader.values(expectation.series)
            let wanted = points.compactMap { point in expectation.value(point).map { (x: Double(point.batches), y: $0) }
            }
            #expect(drawn.count == wanted.count, "\(expectation.series)")
            for (vertex, point) in zip(drawn, wanted) {
                #expect(abs(vertex.x - point.x) * perPixel.x <= 1, "\(expectation.series) x \(vertex.x) vs \(point.x)")
                #expect(abs(vertex.y - point.y) * perPixel.y <= 1, "\(expectation.series) y \(vertex.y) vs \(point.y)")
            }
        }
        // The counters are staircases ending at the current totals.
        let problems = try ChartReader(try XMLTree(charts[2].render(id: "p")).root)
        let errors = problems.values("error records")
        #expect(abs((errors.last?.y ?? -1) - Double(panel.summary.errorCount)) * (problems.pixelsPerUnit?.y ?? 0) <= 1)
        let lost = problems.values("lost batches (run)")
        #expect(abs((lost.last?.y ?? -1) - Double(panel.summary.lost)) * (problems.pixelsPerUnit?.y ?? 0) <= 1)
        #expect(panel.summary.lost == 5 * 9)
        #expect(panel.summary.errorCount == 5)
    }

    @Test("the loss chart's y axis follows the curves, and the falling EMA is drawn from high to low")
    func falling() throws {
        let panel = try panel(aggregation())
        let reader = try ChartReader(try XMLTree(panel.charts[0].render(id: "f")).root)
        let ema = reader.values("EMA")
        let first = try #require(ema.first), last = try #require(ema.last)
        #expect(first.y > 8 && last.y < 3)
        let mapping = try #require(reader.mapping)
        #expect(mapping.yMin <= 2 && mapping.yMin >= 0 && mapping.yMax >= 10 && mapping.yMax <= 15)
        // The per-batch range is drawn as a band behind the lines.
        #expect(reader.plot.all.contains { $0.name == "path" && $0.hasClass("band") })
    }

    @Test("run and split names are escaped everywhere: a run named <script>&\" stays text")
    func escaping() throws {
        let page = DashboardPage(
            title: "lossd <test>", panels: DashboardPanel.panels(of: aggregation(batches: 10), at: 300), time: 300,
            refreshSeconds: 5, facts: [("a&b", "<1>")], footer: "x < y", links: [("stats", "/stats?a=1&b=2")]
        ).render()
        #expect(!page.contains("<script"))
        #expect(page.contains("&lt;script&gt;&amp;&quot;"))
        #expect(page.contains("v&#39;al"))
        let html = try XMLTree(page).root
        let section = try #require(
            html.all.first { $0.name == "section" && $0.attributes["data-run"] == #"<script>&""# })
        #expect(section.attributes["data-split"] == "v'al")
        #expect(section.elements("h2").first?.allText == #"<script>&" / v'al"#)
        #expect(
            html.all.contains {
                $0.name == "meta" && $0.attributes["http-equiv"] == "refresh" && $0.attributes["content"] == "5"
            })
        #expect(html.all.first { $0.name == "a" }?.attributes["href"] == "/stats?a=1&b=2")
        // Control characters, which XML forbids, are replaced rather than breaking the page.
        #expect(XMLEscaping.escape("a\u{1}b\nc") == "a\u{FFFD}b\nc")
    }

    @Test("the page is self-contained: one panel per (run, split), three charts each, no script, no remote resource")
    func page() throws {
        let aggregation = aggregation()
        let text = AggregatorHTTPServer.dashboard(aggregation, at: 300, refreshSeconds: 0).render()
        let html = try XMLTree(text).root
        #expect(html.elements("section").count == 2)
        #expect(html.elements("svg").count == 6)
        #expect(html.elements("script").isEmpty)
        #expect(
            !text.contains("http://")
                || !text.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
        #expect(!text.contains("https://"))
        #expect(!html.all.contains { $0.name == "meta" && $0.attributes["http-equiv"] == "refresh" })
        #expect(text.contains("prefers-color-scheme: dark"))
        // Clip-path ids are unique in the page.
        let ids = html.all.compactMap { $0.name == "clipPath" ? $0.attributes["id"] : nil }
        #expect(Set(ids).count == 6)
        // The current figures.
        let figures = html.all.filter { $0.name == "dt" }.map(\.allText)
        for name in ["loss EMA", "window", "mean", "batches", "step", "errors", "lost (run)"] {
            #expect(figures.contains(name), "\(name)")
        }
        // An empty aggregation says what to do.
        let empty = AggregatorHTTPServer.dashboard(Aggregation(startTime: 0), at: 1, refreshSeconds: 5).render()
        #expect(try XMLTree(empty).root.all.contains { $0.hasClass("empty") })
    }

    @Test("nice ticks: round numbers, inside the domain, labelled without noise")
    func ticks() {
        let axis = ChartAxis(minimum: 0.83, maximum: 2.71, targetTicks: 5, widenToTicks: true)
        #expect(axis.lower <= 0.83 && axis.upper >= 2.71)
        #expect(axis.ticks.map(axis.label) == ["0.5", "1.0", "1.5", "2.0", "2.5", "3.0"])
        let counts = ChartAxis(minimum: 0, maximum: 3, integers: true, fromZero: true, widenToTicks: true)
        #expect(counts.ticks == [0, 1, 2, 3])
        let batches = ChartAxis(minimum: 1, maximum: 1_234_567, widenToTicks: false)
        #expect(batches.ticks.map(batches.label) == ["0.25M", "0.50M", "0.75M", "1.00M"])
        let thousands = ChartAxis(minimum: 1, maximum: 48_000, widenToTicks: false)
        #expect(thousands.ticks.map(thousands.label) == ["10k", "20k", "30k", "40k"])
        let flat = ChartAxis(minimum: 2, maximum: 2, widenToTicks: true)
        #expect(flat.lower < 2 && flat.upper > 2 && flat.ticks.count >= 2)
    }
}
