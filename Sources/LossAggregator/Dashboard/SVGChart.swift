import Foundation

/// A line chart rendered as SVG text on the server: frame, grid, ticks and their labels, axis
/// labels, a legend, lines, bands and a title. No script, no external resource.
///
/// Colours and strokes come from CSS classes (``DashboardStyle`` defines them for the light and
/// dark themes), so the same SVG follows the page's theme. Every label is XML-escaped.
///
/// The plot area carries its mapping as data attributes (`data-x-min`, `data-x-max`,
/// `data-y-min`, `data-y-max` for the domain; `data-left`, `data-right`, `data-top`,
/// `data-bottom` for the pixels), so that a reader (or a test) can map a vertex back to values.
public struct SVGChart: Sendable {
    /// A colour of the palette; its CSS class is `c-<raw value>`.
    public enum Color: String, Sendable {
        /// Neutral: the mean since start.
        case mean
        /// The EMA: the curve to read first.
        case ema
        /// The window mean.
        case window
        /// Classification.
        case classification
        /// Localization.
        case localization
        /// Error records.
        case errors
        /// Lost batches.
        case lost
    }

    /// How a line is drawn.
    public enum Stroke: String, Sendable {
        /// A bold solid line, ending in a dot.
        case bold
        /// A solid line.
        case solid
        /// A dashed line.
        case dashed
        /// A thin solid line.
        case thin
        /// A staircase (for counters): horizontal, then vertical, ending in a dot.
        case steps
    }

    /// A line: its legend name, colour, stroke and values (nil breaks the line).
    public struct Line: Sendable {
        /// The legend's name for it.
        public var name: String
        /// Its colour.
        public var color: Color
        /// Its stroke.
        public var stroke: Stroke
        /// The points; a nil y leaves a gap.
        public var points: [(x: Double, y: Double?)]

        /// A line as given.
        public init(name: String, color: Color, stroke: Stroke, points: [(x: Double, y: Double?)]) {
            self.name = name
            self.color = color
            self.stroke = stroke
            self.points = points
        }
    }

    /// A shaded range between a low and a high value at each x (nil leaves a gap). Bands do not
    /// set the y domain; what falls outside it is clipped.
    public struct Band: Sendable {
        /// The legend's name for it.
        public var name: String
        /// Its colour (drawn translucent).
        public var color: Color
        /// The points.
        public var points: [(x: Double, low: Double?, high: Double?)]

        /// A band as given.
        public init(name: String, color: Color, points: [(x: Double, low: Double?, high: Double?)]) {
            self.name = name
            self.color = color
            self.points = points
        }
    }

    /// The title, drawn at the top left.
    public var title: String
    /// The x axis's label.
    public var xLabel: String
    /// The y axis's label.
    public var yLabel: String
    /// Lines, drawn in order over the bands.
    public var lines: [Line]
    /// Bands, drawn first.
    public var bands: [Band]
    /// The y values are counts: whole-number ticks starting at 0.
    public var counts: Bool
    /// The width of the SVG's coordinate system (it scales to its container).
    public var width: Double
    /// The height of the SVG's coordinate system.
    public var height: Double

    /// The plot area's margins inside the SVG.
    static let margins = (left: 58.0, right: 14.0, top: 48.0, bottom: 40.0)

    /// A chart as given; nothing is drawn until ``render(id:)``.
    public init(
        title: String, xLabel: String, yLabel: String, lines: [Line], bands: [Band] = [],
        counts: Bool = false, width: Double = 460, height: Double = 260
    ) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.lines = lines
        self.bands = bands
        self.counts = counts
        self.width = width
        self.height = height
    }

    /// The chart as one `<svg>` element; `id` must be unique in the page (it names the clip path).
    public func render(id: String) -> String {
        let left = Self.margins.left, right = width - Self.margins.right
        let legendBlock = legend(x: left - 50, y: 34, maxX: right)
        let top = Self.margins.top + Double(legendBlock.rows - 1) * Self.legendRowHeight,
            bottom = height - Self.margins.bottom
        let xs = lines.flatMap { $0.points.map(\.x) } + bands.flatMap { $0.points.map(\.x) }
        let ys = lines.flatMap { $0.points.compactMap(\.y) }.filter(\.isFinite)
        let xAxis = ChartAxis(
            minimum: xs.min() ?? 0, maximum: xs.max() ?? 1, targetTicks: 5, integers: true, widenToTicks: false)
        let yAxis = ChartAxis(
            minimum: ys.min() ?? 0, maximum: ys.max() ?? 1, targetTicks: 5, integers: counts, fromZero: counts,
            widenToTicks: true)
        let px = { (x: Double) in xAxis.position(x, from: left, to: right) }
        let py = { (y: Double) in yAxis.position(y, from: bottom, to: top) }
        let safeID = XMLEscaping.escape(id)

        var svg = ""
        svg.reserveCapacity(4096 + lines.reduce(0) { $0 + $1.points.count * 16 })
        svg +=
            #"""
            <svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 \#(Self.number(width)) \#
            \#(Self.number(height))" role="img" aria-label="\#(XMLEscaping.escape(title))">
            """#
        svg += "<title>\(XMLEscaping.escape(title))</title>"
        svg +=
            #"""
            <defs><clipPath id="clip-\#(safeID)"><rect x="\#(Self.number(left))" y="\#(Self.number(top))" \#
            width="\#(Self.number(right - left))" height="\#(Self.number(bottom - top))"/></clipPath></defs>
            """#
        svg += #"<text class="chart-title" x="\#(Self.number(left - 50))" y="16">\#(XMLEscaping.escape(title))</text>"#
        svg += legendBlock.svg

        // Grid, ticks and tick labels.
        svg += #"<g class="axes">"#
        for tick in yAxis.ticks {
            let y = Self.number(py(tick))
            svg += #"<line class="grid" x1="\#(Self.number(left))" x2="\#(Self.number(right))" y1="\#(y)" y2="\#(y)"/>"#
            svg +=
                #"""
                <text class="tick y-tick" x="\#(Self.number(left - 6))" y="\#(y)" dy="0.32em" text-anchor="end" \#
                data-value="\#(tick)">\#(yAxis.label(tick))</text>
                """#
        }
        for tick in xAxis.ticks {
            let x = Self.number(px(tick))
            svg += #"<line class="grid" x1="\#(x)" x2="\#(x)" y1="\#(Self.number(top))" y2="\#(Self.number(bottom))"/>"#
            svg +=
                #"""
                <line class="tick-mark" x1="\#(x)" x2="\#(x)" y1="\#(Self.number(bottom))" \#
                y2="\#(Self.number(bottom + 4))"/>
                """#
            svg +=
                #"""
                <text class="tick x-tick" x="\#(x)" y="\#(Self.number(bottom + 16))" text-anchor="middle" \#
                data-value="\#(tick)">\#(xAxis.label(tick))</text>
                """#
        }
        svg +=
            #"""
            <rect class="frame" x="\#(Self.number(left))" y="\#(Self.number(top))" \#
            width="\#(Self.number(right - left))" height="\#(Self.number(bottom - top))"/>
            """#
        svg +=
            #"""
            <text class="axis-label x-label" x="\#(Self.number((left + right) / 2))" \#
            y="\#(Self.number(height - 6))" text-anchor="middle">\#(XMLEscaping.escape(xLabel))</text>
            """#
        svg +=
            #"""
            <text class="axis-label y-label" transform="translate(13 \#(Self.number((top + bottom) / 2))) \#
            rotate(-90)" text-anchor="middle">\#(XMLEscaping.escape(yLabel))</text>
            """#
        svg += "</g>"

        // The data, clipped to the plot area.
        svg +=
            #"""
            <g class="plot" clip-path="url(#clip-\#(safeID))" data-x-min="\#(xAxis.lower)" \#
            data-x-max="\#(xAxis.upper)" data-y-min="\#(yAxis.lower)" data-y-max="\#(yAxis.upper)" \#
            data-left="\#(left)" data-right="\#(right)" data-top="\#(top)" data-bottom="\#(bottom)">
            """#
        for band in bands {
            for polygon in Self.polygons(band, px: px, py: py) {
                svg +=
                    #"""
                    <path class="band c-\#(band.color.rawValue)" data-series="\#(XMLEscaping.escape(band.name))" \#
                    d="\#(polygon)"/>
                    """#
            }
        }
        for line in lines {
            let path = Self.path(line, px: px, py: py)
            guard !path.isEmpty else { continue }
            svg +=
                #"""
                <path class="line c-\#(line.color.rawValue) s-\#(line.stroke.rawValue)" \#
                data-series="\#(XMLEscaping.escape(line.name))" d="\#(path)"/>
                """#
        }
        for line in lines where line.stroke == .bold || line.stroke == .steps {
            if let last = line.points.last(where: { $0.y?.isFinite == true }), let y = last.y {
                svg +=
                    #"""
                    <circle class="end c-\#(line.color.rawValue)" cx="\#(Self.number(px(last.x)))" \#
                    cy="\#(Self.number(py(y)))" r="3"><title>\#(XMLEscaping.escape(line.name)): \#
                    \#(ChartAxis.format(y, step: yAxis.step / 100))</title></circle>
                    """#
            }
        }
        svg += "</g>"
        if ys.isEmpty {
            svg +=
                #"""
                <text class="empty" x="\#(Self.number((left + right) / 2))" y="\#(Self.number((top + bottom) / 2))" \#
                text-anchor="middle">no values yet</text>
                """#
        }
        svg += "</svg>"
        return svg
    }

    /// The legend: a sample stroke and the name of each band and line, in rows that wrap at
    /// `maxX`, the first row's baseline at `y`. Returns the SVG and the number of rows.
    private func legend(x start: Double, y: Double, maxX: Double) -> (svg: String, rows: Int) {
        var svg = #"<g class="legend">"#
        var x = start, rowY = y, rows = 1
        var items: [(name: String, sample: (Double, Double) -> String)] = []
        for band in bands {
            items.append(
                (
                    band.name,
                    { x, y in
                        #"""
                        <rect class="band c-\#(band.color.rawValue)" x="\#(Self.number(x))" \#
                        y="\#(Self.number(y - 7))" width="18" height="8"/>
                        """#
                    }
                ))
        }
        for line in lines {
            items.append(
                (
                    line.name,
                    { x, y in
                        #"""
                        <line class="line c-\#(line.color.rawValue) s-\#(line.stroke.rawValue)" \#
                        x1="\#(Self.number(x))" x2="\#(Self.number(x + 18))" y1="\#(Self.number(y - 3))" \#
                        y2="\#(Self.number(y - 3))"/>
                        """#
                    }
                ))
        }
        for item in items {
            let itemWidth = 30 + Self.textWidth(item.name)
            if x > start, x + itemWidth - 8 > maxX {
                x = start
                rowY += Self.legendRowHeight
                rows += 1
            }
            svg += item.sample(x, rowY)
            svg +=
                #"""
                <text class="legend-label" x="\#(Self.number(x + 22))" \#
                y="\#(Self.number(rowY))">\#(XMLEscaping.escape(item.name))</text>
                """#
            x += itemWidth
        }
        return (svg + "</g>", rows)
    }

    /// The distance between two rows of the legend.
    static let legendRowHeight = 14.0

    /// An estimate of a legend label's width at the legend's font size.
    private static func textWidth(_ text: String) -> Double {
        Double(text.count) * 6.6
    }

    /// The path data of a line: `M` starts each run of values, `L` continues it; steps go
    /// horizontally to the next x, then vertically to its value.
    static func path(_ line: Line, px: (Double) -> Double, py: (Double) -> Double) -> String {
        var d = ""
        var drawing = false
        var previousY = 0.0
        for point in line.points {
            guard let y = point.y, y.isFinite, point.x.isFinite else {
                drawing = false
                continue
            }
            let x = px(point.x), yy = py(y)
            if !drawing {
                d += "M\(number(x)),\(number(yy))"
                drawing = true
            } else if line.stroke == .steps {
                d += "L\(number(x)),\(number(previousY))L\(number(x)),\(number(yy))"
            } else {
                d += "L\(number(x)),\(number(yy))"
            }
            previousY = yy
        }
        return d
    }

    /// One closed path per run of points that have both a low and a high: along the highs, back
    /// along the lows.
    static func polygons(_ band: Band, px: (Double) -> Double, py: (Double) -> Double) -> [String] {
        var result: [String] = []
        var run: [(x: Double, low: Double, high: Double)] = []
        func flush() {
            defer { run.removeAll(keepingCapacity: true) }
            guard run.count >= 2 else { return }
            var d = "M\(number(px(run[0].x))),\(number(py(run[0].high)))"
            for point in run.dropFirst() { d += "L\(number(px(point.x))),\(number(py(point.high)))" }
            for point in run.reversed() { d += "L\(number(px(point.x))),\(number(py(point.low)))" }
            result.append(d + "Z")
        }
        for point in band.points {
            if let low = point.low, let high = point.high, low.isFinite, high.isFinite {
                run.append((point.x, low, high))
            } else {
                flush()
            }
        }
        flush()
        return result
    }

    /// A coordinate with at most two decimals (integer arithmetic: a chart has thousands).
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let hundredths = Int((Swift.min(Swift.max(value, -1e9), 1e9) * 100).rounded())
        let sign = hundredths < 0 ? "-" : ""
        let magnitude = abs(hundredths)
        let whole = magnitude / 100, fraction = magnitude % 100
        if fraction == 0 { return "\(sign)\(whole)" }
        if fraction % 10 == 0 { return "\(sign)\(whole).\(fraction / 10)" }
        return "\(sign)\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
