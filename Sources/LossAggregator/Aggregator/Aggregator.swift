import Foundation
public import LossWire
import Synchronization

/// The thread-safe front of an ``Aggregation``: one receiver thread ingests, any number of
/// readers (HTTP handlers, the snapshot writer) take snapshots.
///
/// Decoding happens outside the lock (``ingest(jsonLine:at:)`` decodes first, then locks for the
/// O(1) update), and a snapshot copies the state under the lock and derives its figures after
/// releasing it, so a reader holds the receiver up for no more than a copy-on-write copy.
public final class Aggregator: Sendable {
    private let state: Mutex<Aggregation>

    /// An aggregator starting from `aggregation` (empty, or loaded from a state file).
    public init(_ aggregation: Aggregation) {
        state = Mutex(aggregation)
    }

    /// An empty aggregator started at `startTime` (seconds since the Unix epoch).
    public convenience init(parameters: AggregationParameters = AggregationParameters(), startTime: Double) {
        self.init(Aggregation(parameters: parameters, startTime: startTime))
    }

    /// The parameters the statistics are kept with.
    public var parameters: AggregationParameters {
        state.withLock { $0.parameters }
    }

    /// Aggregates one decoded record that arrived at `time` (seconds since the Unix epoch).
    @discardableResult
    public func ingest(_ record: ResultRecord, at time: Double) -> Aggregation.Outcome {
        state.withLock { $0.ingest(record, at: time) }
    }

    /// Decodes one record line and aggregates it; a line that is not a v1 record is counted as
    /// invalid and its reason returned. The record's `per_item` is checked, not converted.
    ///
    /// - Returns: what became of the record, and why it was invalid when it was.
    @discardableResult
    public func ingest(
        jsonLine bytes: UnsafeRawBufferPointer, at time: Double
    ) -> (outcome: Aggregation.Outcome, problem: RecordDecodingError?) {
        do {
            // per_item is checked but not converted: the statistics never use it, and converting
            // B decimal numbers would be most of the cost of a record.
            let record = try ResultRecord(jsonLine: bytes, decodingPerItem: false)
            return (ingest(record, at: time), nil)
        } catch {
            ingestInvalid(at: time)
            return (.invalid, error)
        }
    }

    /// Takes one record that came over a record link as link seq `seq` of `link` (whose sender
    /// holds `first` on): decodes it, and in one step under the lock, admits it (each link seq is
    /// taken once, in order: ``Aggregation/admitLinkRecord(link:seq:first:at:)``) and aggregates
    /// it, so that a saved state never holds a link position without its records.
    ///
    /// - Returns: the admission, and for an admitted record what became of it and why it was
    ///   invalid when it was.
    public func ingest(
        linkRecord bytes: UnsafeRawBufferPointer, link: String, seq: UInt64, first: UInt64, at time: Double
    ) -> (admission: Aggregation.LinkAdmission, outcome: Aggregation.Outcome?, problem: RecordDecodingError?) {
        let decoded = Result { () throws(RecordDecodingError) in
            try ResultRecord(jsonLine: bytes, decodingPerItem: false)
        }
        return state.withLock { aggregation in
            let admission = aggregation.admitLinkRecord(link: link, seq: seq, first: first, at: time)
            guard admission == .ingest else { return (admission, nil, nil) }
            switch decoded {
            case .success(let record):
                return (admission, aggregation.ingest(record, at: time), nil)
            case .failure(let error):
                aggregation.ingestInvalid(at: time)
                return (admission, .invalid, error)
            }
        }
    }

    /// Notes a `sync` of `link`, whose sender holds `first` on; returns the next seq it must send.
    public func syncLink(_ link: String, first: UInt64, at time: Double) -> UInt64 {
        state.withLock { $0.syncLink(link, first: first, at: time) }
    }

    /// The next seq of `link`, or nil for a link not known.
    public func linkNext(_ link: String) -> UInt64? {
        state.withLock { $0.links[link]?.next }
    }

    /// Records taken over record links since start: when it moves, there is something to save
    /// and acknowledge.
    public var linkRecords: UInt64 {
        state.withLock { $0.linkRecords }
    }

    /// Counts a message that is not a valid v1 record.
    public func ingestInvalid(at time: Double) {
        state.withLock { $0.ingestInvalid(at: time) }
    }

    /// Counts every pending seq as lost (shutdown: every gap counts).
    public func countPendingAsLost() {
        state.withLock { $0.countPendingAsLost() }
    }

    /// Closes the steps whose timeout passed and retires idle streams, as of `time`.
    public func housekeeping(at time: Double) {
        state.withLock { $0.housekeeping(at: time) }
    }

    /// The steps that changed since the last call, per (run, split), for the TensorBoard writer.
    func takeStepChanges() -> [(key: SplitKey, changes: StepChanges)] {
        state.withLock { $0.takeStepChanges() }
    }

    /// The divergence events raised since the last call, oldest first, and how many were dropped
    /// meanwhile, for the writer.
    func takeEvents() -> (events: [DivergenceEvent], dropped: Int) {
        state.withLock { $0.takeEvents() }
    }

    /// A copy of the whole state, e.g. to save it.
    public var aggregation: Aggregation {
        state.withLock { $0 }
    }

    /// The derived statistics as of `time` (seconds since the Unix epoch), listing the last
    /// `steps` steps of each (run, split).
    public func snapshot(at time: Double, steps: Int = SplitSnapshot.defaultStepCount) -> AggregatorSnapshot {
        aggregation.snapshot(at: time, steps: steps)
    }

    /// The derived statistics as of now.
    public func snapshot(steps: Int = SplitSnapshot.defaultStepCount) -> AggregatorSnapshot {
        snapshot(at: Date().timeIntervalSince1970, steps: steps)
    }
}
