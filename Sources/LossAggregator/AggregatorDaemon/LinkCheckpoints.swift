import Synchronization

/// The record links' positions in the latest saved state file: what the aggregator may
/// acknowledge as durable. The writer publishes after each save; the receiver, which owns the
/// ROUTER socket, sends the acks.
final class LinkCheckpoints: Sendable {
    private let saved = Mutex<(generation: Int, positions: [String: UInt64])>((0, [:]))

    /// Positions loaded from the state file at start (already durable).
    init(loaded positions: [String: UInt64] = [:]) {
        saved.withLock { $0.positions = positions }
    }

    /// Publishes the positions of a state just saved.
    func publish(_ positions: [String: UInt64]) {
        saved.withLock { value in
            value.generation += 1
            value.positions = positions
        }
    }

    /// The generation of the latest publication (changes with each).
    var generation: Int { saved.withLock { $0.generation } }

    /// The positions of the latest saved state.
    var positions: [String: UInt64] { saved.withLock { $0.positions } }
}
