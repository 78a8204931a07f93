import Foundation

/// The dashboard as one HTML page: a header, then one panel per (run, split) with its current
/// figures and three server-rendered SVG charts. What `GET /` serves and `lossd report` writes.
///
/// The page is self-contained (inline CSS, inline SVG, no script, nothing fetched), follows the
/// reader's light or dark theme, and is well-formed XML. Every run and split name is escaped.
public struct DashboardPage: Sendable {
    /// The page's heading.
    public var title: String
    /// The panels, in order.
    public var panels: [DashboardPanel]
    /// When the figures were taken, in seconds since the Unix epoch.
    public var time: Double
    /// Seconds between automatic reloads (a `<meta http-equiv="refresh">`), or nil for a page
    /// that does not reload (a report).
    public var refreshSeconds: Int?
    /// Short facts shown beside the heading, e.g. ("records", "1,234").
    public var facts: [(name: String, value: String)]
    /// A line at the bottom of the page (plain text, escaped).
    public var footer: String
    /// Links in the footer, as (text, href); hrefs are escaped, so give plain URLs.
    public var links: [(text: String, href: String)]

    /// A page as given.
    public init(
        title: String, panels: [DashboardPanel], time: Double, refreshSeconds: Int? = nil,
        facts: [(name: String, value: String)] = [], footer: String = "", links: [(text: String, href: String)] = []
    ) {
        self.title = title
        self.panels = panels
        self.time = time
        self.refreshSeconds = refreshSeconds
        self.facts = facts
        self.footer = footer
        self.links = links
    }

    /// The page as HTML text.
    public func render() -> String {
        var html = "<!DOCTYPE html>\n"
        html += #"<html lang="en"><head><meta charset="utf-8"/>"#
        html += #"<meta name="viewport" content="width=device-width, initial-scale=1"/>"#
        html += #"<meta name="color-scheme" content="light dark"/>"#
        if let refreshSeconds, refreshSeconds > 0 {
            html += #"<meta http-equiv="refresh" content="\#(refreshSeconds)"/>"#
        }
        html += "<title>\(XMLEscaping.escape(title))</title>"
        html += "<style>\n\(DashboardStyle.css)\n</style></head><body>"
        html += #"<header class="page"><h1>\#(XMLEscaping.escape(title))</h1>"#
        html += #"<span class="meta">as of \#(XMLEscaping.escape(DashboardFormat.time(time)))</span>"#
        for fact in facts {
            html +=
                #"""
                <span class="meta">\#(XMLEscaping.escape(fact.name)): \#
                <strong>\#(XMLEscaping.escape(fact.value))</strong></span>
                """#
        }
        html += "</header>"
        if panels.isEmpty {
            html +=
                #"""
                <p class="empty">No loss records yet. Point a sidecar's --output at the aggregator's --input, and \#
                the charts appear here.</p>
                """#
        }
        for (index, panel) in panels.enumerated() {
            html += render(panel, index: index)
        }
        html += "<footer>"
        html += XMLEscaping.escape(footer)
        for link in links {
            html += #" · <a href="\#(XMLEscaping.escape(link.href))">\#(XMLEscaping.escape(link.text))</a>"#
        }
        html += "</footer></body></html>\n"
        return html
    }

    /// One panel: the heading, the current figures, the charts.
    private func render(_ panel: DashboardPanel, index: Int) -> String {
        let summary = panel.summary
        var html =
            #"""
            <section class="panel" data-run="\#(XMLEscaping.escape(panel.run))" \#
            data-split="\#(XMLEscaping.escape(panel.split))">
            """#
        html +=
            #"""
            <h2>\#(XMLEscaping.escape(panel.run)) <span class="split">/ \#
            \#(XMLEscaping.escape(panel.split))</span></h2>
            """#
        var figures: [(name: String, value: String, style: String)] = [
            ("loss EMA", DashboardFormat.value(summary.loss.ema), "main"),
            ("window", DashboardFormat.value(summary.loss.window), ""),
            ("mean", DashboardFormat.value(summary.loss.mean), ""),
            ("last", DashboardFormat.value(summary.loss.last), ""),
            ("min", DashboardFormat.value(summary.loss.min), ""),
            ("classification EMA", DashboardFormat.value(summary.classification.ema), ""),
            ("localization EMA", DashboardFormat.value(summary.localization.ema), ""),
            ("batches", DashboardFormat.count(summary.batches), ""),
        ]
        if let samples = summary.samples { figures.append(("images", DashboardFormat.count(samples), "")) }
        if let epoch = summary.epoch { figures.append(("epoch", "\(epoch)", "")) }
        if let step = summary.step { figures.append(("step", DashboardFormat.count(step), "")) }
        if let rate = summary.batchesPerSecond {
            figures.append(("batches/s", DashboardFormat.value(rate, digits: 3), ""))
        }
        if let previous = summary.loss.lastEpochMean {
            figures.append(("last epoch mean", DashboardFormat.value(previous), ""))
        }
        if let step = summary.lastCompleteStep {
            figures.append(("complete step", DashboardFormat.count(step.step), ""))
            figures.append(("step pooled", DashboardFormat.value(step.pooled.loss), ""))
            figures.append(("step mean", DashboardFormat.value(step.mean.loss), ""))
        }
        if summary.partialSteps > 0 {
            figures.append(("partial steps", DashboardFormat.count(summary.partialSteps), "bad"))
        }
        let errorText =
            summary.errors.isEmpty ? "0" : summary.errors.map { "\($0.count) \($0.code)" }.joined(separator: ", ")
        figures.append(("errors", errorText, summary.errorCount > 0 ? "bad" : ""))
        figures.append(("lost (run)", DashboardFormat.count(summary.lost), summary.lost > 0 ? "bad" : ""))
        if summary.nonfinite > 0 { figures.append(("non-finite", DashboardFormat.count(summary.nonfinite), "bad")) }
        let diagnostics = summary.diagnostics
        if diagnostics.batches > 0 {
            figures.append(
                (
                    "images without positives", DashboardFormat.count(diagnostics.imagesWithoutPositives),
                    diagnostics.windowImagesWithoutPositives > 0 ? "bad" : ""
                ))
            figures.append(("max positive share", DashboardFormat.value(diagnostics.windowMaxPositiveShare), ""))
        }
        if let last = summary.lastRecordTime {
            figures.append(("last record", DashboardFormat.age(time - last), ""))
        }
        html += #"<dl class="figures">"#
        for figure in figures {
            let style = figure.style.isEmpty ? "" : #" class="\#(figure.style)""#
            html +=
                "<div\(style)><dt>\(XMLEscaping.escape(figure.name))</dt>"
                + "<dd>\(XMLEscaping.escape(figure.value))</dd></div>"
        }
        html += "</dl>"
        html += #"<div class="charts">"#
        for (chartIndex, chart) in panel.charts.enumerated() {
            html += chart.render(id: "p\(index)-c\(chartIndex)")
        }
        html += "</div>"
        html += ClassLossTable(summary.diagnostics).render()
        html += "</section>"
        return html
    }
}
