import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

/// A parsed XML document as a tree of elements, for checking the dashboard's SVG and HTML.
public final class XMLTree {
    /// One element: its name, attributes, children and the text directly inside it.
    public final class Element {
        /// The element's name, e.g. `svg`.
        public let name: String
        /// Its attributes by name.
        public let attributes: [String: String]
        /// The elements directly inside it, in document order.
        public var children: [Element] = []
        /// The text directly inside it.
        public var text = ""

        /// An element without children or text yet.
        public init(name: String, attributes: [String: String]) {
            self.name = name
            self.attributes = attributes
        }

        /// This element and every element below it, in document order.
        public var all: [Element] { [self] + children.flatMap(\.all) }

        /// Every element below (and including) this one named `name`.
        public func elements(_ name: String) -> [Element] { all.filter { $0.name == name } }

        /// The text of this element and of every element below it.
        public var allText: String { text + children.map(\.allText).joined() }

        /// Whether the `class` attribute holds `name`.
        public func hasClass(_ name: String) -> Bool {
            (attributes["class"] ?? "").split(separator: " ").contains { $0 == name }
        }

        /// A numeric attribute.
        public func number(_ attribute: String) -> Double? { attributes[attribute].flatMap(Double.init) }
    }

    /// Why a text is not well-formed XML.
    public struct Malformed: Error, CustomStringConvertible {
        /// Where the parser stopped, and why.
        public var description: String
    }

    /// The root element.
    public let root: Element

    /// Parses `text`; throws when it is not well-formed XML.
    public init(_ text: String) throws {
        let parser = XMLParser(data: Data(text.utf8))
        let builder = Builder()
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else {
            throw Malformed(
                description:
                    """
                    line \(parser.lineNumber), column \(parser.columnNumber): \
                    \(parser.parserError.map { "\($0)" } ?? "no root element")
                    """
            )
        }
        self.root = root
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var root: Element?
        var stack: [Element] = []

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            let element = Element(name: elementName, attributes: attributes)
            if let parent = stack.last { parent.children.append(element) } else { root = element }
            stack.append(element)
        }

        func parser(
            _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?
        ) {
            stack.removeLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            stack.last?.text += string
        }
    }
}

/// Reading a chart back: its plot's mapping and its paths' vertices as data values.
public struct ChartReader {
    /// The chart.
    public let svg: XMLTree.Element
    /// Its plot area (`<g class="plot">`).
    public let plot: XMLTree.Element

    /// Reads `svg`; fails the test when it has no plot area.
    public init(_ svg: XMLTree.Element) throws {
        self.svg = svg
        plot = try #require(svg.all.first { $0.name == "g" && $0.hasClass("plot") })
    }

    /// The domain and pixel bounds of the plot.
    public var mapping:
        (
            xMin: Double, xMax: Double, yMin: Double, yMax: Double, left: Double, right: Double, top: Double,
            bottom: Double
        )?
    {
        guard let xMin = plot.number("data-x-min"), let xMax = plot.number("data-x-max"),
            let yMin = plot.number("data-y-min"), let yMax = plot.number("data-y-max"),
            let left = plot.number("data-left"), let right = plot.number("data-right"),
            let top = plot.number("data-top"), let bottom = plot.number("data-bottom")
        else { return nil }
        return (xMin, xMax, yMin, yMax, left, right, top, bottom)
    }

    /// The pixel size of one unit of x and of y.
    public var pixelsPerUnit: (x: Double, y: Double)? {
        guard let m = mapping else { return nil }
        return ((m.right - m.left) / (m.xMax - m.xMin), (m.bottom - m.top) / (m.yMax - m.yMin))
    }

    /// The vertices of the line named `series`, in pixels, one array per `M` run.
    public func pixels(_ series: String) -> [[(x: Double, y: Double)]] {
        plot.all.filter { $0.name == "path" && $0.hasClass("line") && $0.attributes["data-series"] == series }.flatMap {
            path in
            Self.runs(path.attributes["d"] ?? "")
        }
    }

    /// The vertices of the line named `series` mapped back to data values.
    public func values(_ series: String) -> [(x: Double, y: Double)] {
        guard let m = mapping else { return [] }
        var result: [(x: Double, y: Double)] = []
        for point in pixels(series).flatMap({ $0 }) {
            let x: Double = m.xMin + (point.x - m.left) / (m.right - m.left) * (m.xMax - m.xMin)
            let y: Double = m.yMin + (m.bottom - point.y) / (m.bottom - m.top) * (m.yMax - m.yMin)
            result.append((x, y))
        }
        return result
    }

    /// Splits path data `M1,2L3,4M…` into runs of vertices.
    public static func runs(_ d: String) -> [[(x: Double, y: Double)]] {
        var runs: [[(x: Double, y: Double)]] = []
        var command: Character = "M"
        var token = ""
        func flush() {
            defer { token = "" }
            let parts = token.split(separator: ",").compactMap { Double($0) }
            guard parts.count == 2 else { return }
            if command == "M" || runs.isEmpty { runs.append([]) }
            runs[runs.count - 1].append((parts[0], parts[1]))
        }
        for character in d {
            if character == "M" || character == "L" || character == "Z" {
                flush()
                command = character
            } else {
                token.append(character)
            }
        }
        flush()
        return runs
    }
}
