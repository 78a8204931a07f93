import Foundation

/// A flag one thread raises to end another's timed waits at once.
final class StopSignal: @unchecked Sendable {
    // `stopped` is guarded by `condition`.
    private let condition = NSCondition()
    private var stopped = false

    /// Raises the flag and wakes every waiter; later waits return at once.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Blocks the calling OS thread until `deadline` or the flag; returns whether the flag is up.
    func wait(until deadline: Date) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !stopped {
            if !condition.wait(until: deadline) { break }
        }
        return stopped
    }
}
