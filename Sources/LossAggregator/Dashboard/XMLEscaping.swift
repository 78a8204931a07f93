/// Escaping of text put into the dashboard's HTML and SVG.
///
/// Run and split names are user input: everything taken from a record goes through
/// ``escape(_:)`` before it reaches a page, so a run named `<script>` shows as text. The pages are
/// also well-formed XML (tests parse them with `XMLParser`), so characters XML 1.0 forbids (C0
/// controls other than tab, newline and carriage return) become U+FFFD.
public enum XMLEscaping {
    /// `text` with `&`, `<`, `>`, `"` and `'` escaped, safe in element content and in quoted
    /// attribute values.
    public static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            case "\t", "\n", "\r": result.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    result += "\u{FFFD}"
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result
    }
}
