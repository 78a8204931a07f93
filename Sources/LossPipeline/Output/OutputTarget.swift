public import ZeroMQ

/// Where a stage sends its records: a ZeroMQ endpoint list, standard output, or a JSON Lines file.
public enum OutputTarget: Sendable, Hashable, CustomStringConvertible {
    /// These endpoints (a bare endpoint connects): the record link or a plain PUSH, as ``OutputMode`` says.
    case zeromq([Endpoint])
    /// JSON Lines on standard output.
    case standardOutput
    /// JSON Lines in a file (created or truncated).
    case file(String)

    /// Parses `-`, a path ending in `.jsonl`, or a CZMQ-style endpoint list.
    public init(parsing text: String) throws(SettingsError) {
        let trimmed = text.trimmingWhitespace
        if trimmed == "-" {
            self = .standardOutput
        } else if trimmed.hasSuffix(".jsonl") {
            self = .file(trimmed)
        } else {
            do {
                self = .zeromq(try Endpoint.parseList(trimmed, defaultRole: .connect))
            } catch {
                throw SettingsError.invalid(
                    key: "output", value: text,
                    reason:
                        "expected -, a path ending in .jsonl, or an endpoint such as >tcp://127.0.0.1:5556 (\(error))")
            }
        }
    }

    /// The text form, as accepted by ``init(parsing:)``.
    public var description: String {
        switch self {
        case .zeromq(let endpoints): endpoints.map(\.description).joined(separator: ",")
        case .standardOutput: "-"
        case .file(let path): path
        }
    }
}

extension String {
    var trimmingWhitespace: String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
