/// The "loss by class" part of a dashboard panel: the classes with the largest EMA of the
/// classification loss per positive anchor, as a table with a bar per class.
///
/// A class whose loss per positive stays high while the others fall is one the model does not
/// learn: too few examples, labels that contradict each other, or boxes the anchors do not fit.
/// The table lists at most ``maxRows`` classes (of possibly hundreds), largest first, each with
/// its window figure and its positives in the window.
struct ClassLossTable: Sendable {
    /// The most classes listed.
    static let maxRows = 10

    /// The rows, largest EMA first.
    var rows: [ClassSnapshot]
    /// How many classes the split has in all.
    var classCount: Int

    /// The table of a split's diagnostics.
    init(_ diagnostics: DiagnosticSnapshot) {
        rows = diagnostics.largestClasses(Self.maxRows)
        classCount = diagnostics.classes.count
    }

    /// The table as HTML, or an empty string when no class has a figure.
    func render() -> String {
        guard let largest = rows.first?.ema, largest > 0 else { return "" }
        let shown =
            classCount > rows.count ? "the largest \(rows.count) of \(classCount) classes" : "\(classCount) classes"
        var html = #"<div class="classes"><h3>Loss by class <span class="meta">\#(shown), by EMA</span></h3>"#
        html += #"<table><thead><tr><th>class</th><th class="bar">loss per positive, EMA</th>"#
        html += "<th>EMA</th><th>window</th><th>positives (window)</th></tr></thead><tbody>"
        for row in rows {
            let share = max(0, min(1, (row.ema ?? 0) / largest))
            let width = DashboardFormat.value(share * 100, digits: 3)
            html += "<tr><td>\(row.classIndex)</td>"
            html += #"<td class="bar"><span style="width: \#(width)%"></span></td>"#
            html += "<td>\(XMLEscaping.escape(DashboardFormat.value(row.ema)))</td>"
            html += "<td>\(XMLEscaping.escape(DashboardFormat.value(row.window)))</td>"
            html += "<td>\(XMLEscaping.escape(DashboardFormat.tally(row.windowPositives)))</td></tr>"
        }
        html += "</tbody></table></div>"
        return html
    }
}
