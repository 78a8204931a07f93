/// Where the HTTP server listens: `host:port`, `[ipv6]:port`; port 0 lets the system choose.
public struct HTTPAddress: Sendable, Hashable, CustomStringConvertible {
    /// The host name or address to bind, e.g. `127.0.0.1`, `0.0.0.0`, `::1`.
    public var host: String
    /// The TCP port, 0…65535.
    public var port: Int

    /// Creates an address from its parts.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[ipv6]:port`.
    ///
    /// - Throws: ``HTTPAddressError`` naming what is missing.
    public init(parsing text: String) throws(HTTPAddressError) {
        let trimmed = text.trimmingSpaces
        let host: Substring
        let portText: Substring
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]"), trimmed[trimmed.index(after: close)...].hasPrefix(":") else {
                throw HTTPAddressError(text: text, reason: "an IPv6 address is written [address]:port, e.g. [::1]:9180")
            }
            host = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
            portText = trimmed[trimmed.index(close, offsetBy: 2)...]
        } else {
            guard let colon = trimmed.lastIndex(of: ":") else {
                throw HTTPAddressError(text: text, reason: "it has no port; write host:port, e.g. 127.0.0.1:9180")
            }
            host = trimmed[..<colon]
            portText = trimmed[trimmed.index(after: colon)...]
        }
        guard !host.isEmpty else {
            throw HTTPAddressError(
                text: text, reason: "it has no host; write e.g. 127.0.0.1:9180 (0.0.0.0 listens on every interface)")
        }
        guard let port = Int(portText), (0...65_535).contains(port) else {
            throw HTTPAddressError(text: text, reason: "the port '\(portText)' is not a number in 0…65535")
        }
        self.host = String(host)
        self.port = port
    }

    /// `host:port`, with brackets around an IPv6 host; parses back to `self`.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// An HTTP address that cannot be parsed.
public struct HTTPAddressError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text given.
    public var text: String
    /// What is wrong with it.
    public var reason: String

    /// "invalid HTTP address '…': …".
    public var description: String { "invalid HTTP address '\(text)': \(reason)" }
}

extension String {
    var trimmingSpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return self[first...last]
    }
}
