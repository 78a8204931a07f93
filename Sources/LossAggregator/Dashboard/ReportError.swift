/// Why `lossd report` could not make a report.
public enum ReportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The input file could not be read.
    case unreadable(path: String, reason: String)
    /// The input is neither a state file nor a snapshots file.
    case unrecognized(path: String, reason: String)
    /// The report could not be written.
    case unwritable(path: String, reason: String)

    /// A sentence saying what went wrong and what to do.
    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            "cannot read \(path): \(reason). Check the path and its permissions."
        case .unrecognized(let path, let reason):
            """
            \(path) is not a lossd state file or snapshots file: \(reason). Give the file of lossd aggregate \
            --state (one JSON object, \"kind\":\"lossd-aggregate-state\") or of --snapshots (one \
            {\"kind\":\"stats\",…} line per interval).
            """
        case .unwritable(let path, let reason):
            """
            cannot write the report \(path): \(reason). Check that its folder exists and is writable, or choose \
            another path with -o.
            """
        }
    }
}
