import Foundation

/// A value handed from one thread to another exactly once; `wait()` blocks until it is there.
final class OneShot<Value: Sendable>: @unchecked Sendable {
    // `value` is guarded by `condition`.
    private let condition = NSCondition()
    private var value: Value?

    /// Stores the value and wakes the waiters; later calls are ignored.
    func fulfil(_ newValue: Value) {
        condition.lock()
        defer { condition.unlock() }
        guard value == nil else { return }
        value = newValue
        condition.broadcast()
    }

    /// Blocks the calling thread until the value is there.
    func wait() -> Value {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let value { return value }
            condition.wait()
        }
    }
}
