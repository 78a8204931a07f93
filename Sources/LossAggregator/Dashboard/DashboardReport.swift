import Foundation

/// What `lossd report` makes a page of: the panels of a state file or of a snapshots file.
///
/// A **state file** (`lossd aggregate --state`) carries each (run, split)'s downsampled history,
/// so its charts are those the live dashboard showed when it was saved, per-batch range included.
/// A **snapshots file** (`--snapshots`) carries one set of figures per interval; the charts are
/// built from the successive snapshots (``SnapshotHistoryReader``).
public struct DashboardReport: Sendable {
    /// The kind of input.
    public enum Kind: String, Sendable {
        /// A state file.
        case state
        /// A snapshots file.
        case snapshots
    }

    /// What the input was.
    public var kind: Kind
    /// The panels, sorted by run then split.
    public var panels: [DashboardPanel]
    /// When the figures were taken (the state's `saved_at`, the last snapshot's `time`).
    public var time: Double
    /// Facts for the page's header.
    public var facts: [(name: String, value: String)]
    /// Notes for whoever runs the command (lines skipped, snapshots superseded).
    public var notes: [String]

    /// Reads `path`, a state file or a snapshots file, telling them apart by their content.
    ///
    /// - Parameter historyPoints: the most points per series for a snapshots file (a state file
    ///   keeps the points it was saved with).
    /// - Throws: ``ReportError`` when the file cannot be read or is neither kind.
    public static func load(
        path: String, historyPoints: Int = AggregationParameters().historyPoints
    ) throws(ReportError) -> DashboardReport {
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
        return try parse(bytes, path: path, historyPoints: historyPoints)
    }

    /// Reads the contents of a state file or a snapshots file; `path` names it in messages.
    public static func parse(
        _ bytes: [UInt8], path: String, historyPoints: Int = AggregationParameters().historyPoints
    ) throws(ReportError) -> DashboardReport {
        // A state file is one JSON object of kind lossd-aggregate-state (it may span lines).
        if let saved = try? JSONFiles.decode(SavedStateSummary.self, from: bytes), saved.kind == Aggregation.stateKind {
            return try state(bytes, saved: saved, path: path)
        }
        var reader = SnapshotHistoryReader(capacity: historyPoints)
        reader.read(bytes)
        guard reader.used > 0, let time = reader.time else {
            throw .unrecognized(path: path, reason: reader.firstProblem ?? "it is empty")
        }
        var notes: [String] = []
        if reader.skipped > 0 {
            notes.append(
                "\(reader.skipped) line(s) were not snapshots and were skipped (first: \(reader.firstProblem ?? "?"))")
        }
        if reader.superseded > 0 {
            notes.append(
                """
                \(reader.superseded) snapshot(s) of an earlier aggregation (another start_time) were left out: the \
                charts show the latest one
                """
            )
        }
        let facts: [(name: String, value: String)] = [
            ("from", "\(reader.used) snapshots"),
            ("records", DashboardFormat.count(reader.records)),
            ("started", DashboardFormat.time(reader.startTime ?? time)),
        ]
        return DashboardReport(kind: .snapshots, panels: reader.panels, time: time, facts: facts, notes: notes)
    }

    /// What a report needs of a state file before restoring it: its kind, when it was saved and
    /// the parameters it was kept with.
    private struct SavedStateSummary: Decodable {
        var kind: String?
        var savedAt: Double?
        var parameters: AggregationParameters?

        enum CodingKeys: String, CodingKey {
            case kind, savedAt = "saved_at", parameters
        }
    }

    /// A state file's panels: its saved history and figures, with every key and point it holds.
    private static func state(
        _ bytes: [UInt8], saved: SavedStateSummary, path: String
    ) throws(ReportError) -> DashboardReport {
        var parameters = AggregationParameters(maxKeys: 1_000_000, historyPoints: 1_000_000)
        if let kept = saved.parameters {
            if kept.emaDecay >= 0, kept.emaDecay < 1 { parameters.emaDecay = kept.emaDecay }
            if kept.window >= 1, kept.window <= 1_000_000 { parameters.window = kept.window }
            if kept.reorderWindow >= 0, kept.reorderWindow <= AggregationParameters.maxReorderWindow {
                parameters.reorderWindow = kept.reorderWindow
            }
        }
        let aggregation: Aggregation
        do {
            aggregation = try Aggregation(stateJSON: bytes, parameters: parameters)
        } catch {
            throw .unrecognized(path: path, reason: "\(error)")
        }
        let savedAt = saved.savedAt ?? aggregation.startTime
        let facts: [(name: String, value: String)] = [
            ("from", "state saved \(DashboardFormat.time(savedAt))"),
            ("records", DashboardFormat.count(aggregation.records)),
            ("started", DashboardFormat.time(aggregation.startTime)),
        ]
        return DashboardReport(
            kind: .state, panels: DashboardPanel.panels(of: aggregation, at: savedAt, rates: false),
            time: savedAt, facts: facts, notes: [])
    }

    /// The report as a page that does not reload.
    public func page(title: String, source: String) -> DashboardPage {
        DashboardPage(
            title: title, panels: panels, time: time, refreshSeconds: nil, facts: facts,
            footer:
                """
                Made by lossd report from \(source) (\(kind.rawValue) file). The per-batch range is drawn only from \
                a state file; snapshots hold no per-batch values.
                """
        )
    }
}
