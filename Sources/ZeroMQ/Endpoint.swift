/// One place a socket attaches, in CZMQ's notation: `@tcp://127.0.0.1:5555` binds,
/// `>tcp://127.0.0.1:5556` connects, and a bare `tcp://…` takes the default role its caller gives.
///
/// Parsing checks what can be checked without the network (the transport, a non-empty address, a
/// port on tcp) so that a mistyped flag fails at start-up with a sentence, not later with an errno.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    /// Whether the socket listens at the address or dials it.
    public enum Role: Sendable, Hashable {
        /// `zmq_bind`: the stable end, e.g. the sidecar's input.
        case bind
        /// `zmq_connect`: the transient end, e.g. a trainer.
        case connect
    }

    /// The transports lossd supports.
    public enum Transport: String, Sendable, Hashable, CaseIterable {
        /// TCP: `tcp://host:port`, `tcp://127.0.0.1:*` for a port chosen by the system.
        case tcp
        /// Unix domain sockets: `ipc:///path/to/socket`.
        case ipc
        /// Within one process (one ``Context``): `inproc://name`.
        case inproc
    }

    /// Bind or connect.
    public var role: Role
    /// The transport, taken from the address's scheme.
    public var transport: Transport
    /// The address as libzmq takes it, without the role prefix, e.g. `tcp://127.0.0.1:5555`.
    public var address: String

    /// Creates an endpoint from its parts; `address` must carry the transport's scheme.
    public init(role: Role, address: String) throws(ZeroMQError) {
        self = try Endpoint(parsing: address, defaultRole: role)
        self.role = role
    }

    /// Parses one endpoint; a leading `@` or `>` overrides `defaultRole`.
    ///
    /// Surrounding whitespace is ignored. Throws ``ZeroMQError/invalidEndpoint(_:reason:)`` for an
    /// empty string, a missing or unknown transport, an empty address, or a tcp address without a
    /// port.
    public init(parsing text: String, defaultRole: Role) throws(ZeroMQError) {
        let trimmed = Endpoint.trim(text)
        var rest = Substring(trimmed)
        var role = defaultRole
        if rest.first == "@" {
            role = .bind
            rest = rest.dropFirst()
        } else if rest.first == ">" {
            role = .connect
            rest = rest.dropFirst()
        }
        guard !rest.isEmpty else {
            throw .invalidEndpoint(text, reason: "it is empty; write e.g. @tcp://127.0.0.1:5555")
        }
        guard let separator = rest.firstRange(of: "://") else {
            throw .invalidEndpoint(
                text, reason: "it has no transport; write tcp://host:port, ipc:///path or inproc://name")
        }
        let scheme = String(rest[..<separator.lowerBound])
        guard let transport = Transport(rawValue: scheme) else {
            let known = Transport.allCases.map(\.rawValue).joined(separator: ", ")
            throw .invalidEndpoint(text, reason: "unknown transport \"\(scheme)\"; lossd supports \(known)")
        }
        let location = rest[separator.upperBound...]
        guard !location.isEmpty else {
            throw .invalidEndpoint(text, reason: "the \(scheme) address after \"://\" is empty")
        }
        if transport == .tcp {
            guard let colon = location.lastIndex(of: ":"),
                !location[location.index(after: colon)...].isEmpty,
                colon != location.startIndex
            else {
                throw .invalidEndpoint(
                    text, reason: "a tcp address needs a host and a port, e.g. tcp://127.0.0.1:5555")
            }
        }
        self.role = role
        self.transport = transport
        self.address = String(rest)
    }

    /// Parses a comma-separated list such as `@tcp://127.0.0.1:5555,>ipc:///tmp/lossd.sock`.
    ///
    /// Each item is parsed with ``init(parsing:defaultRole:)``; an empty list or an empty item
    /// (two commas in a row) is an error.
    public static func parseList(_ text: String, defaultRole: Role) throws(ZeroMQError) -> [Endpoint] {
        guard !trim(text).isEmpty else {
            throw .invalidEndpoint(text, reason: "no endpoint given; write e.g. @tcp://127.0.0.1:5555")
        }
        var endpoints: [Endpoint] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !trim(String(item)).isEmpty else {
                throw .invalidEndpoint(text, reason: "the list has an empty item (check the commas)")
            }
            endpoints.append(try Endpoint(parsing: String(item), defaultRole: defaultRole))
        }
        return endpoints
    }

    /// The CZMQ notation with an explicit role, e.g. `@tcp://127.0.0.1:5555`; parses back to `self`.
    public var description: String {
        (role == .bind ? "@" : ">") + address
    }

    /// `text` without leading and trailing spaces, tabs and newlines.
    private static func trim(_ text: String) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = text.firstIndex(where: { !isSpace($0) }),
            let last = text.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(text[first...last])
    }
}
