import Foundation

/// A value handed from one thread to another exactly once; `wait()` blocks until it is there.
package final class OneShot<Value: Sendable>: @unchecked Sendable {
    // `value` is guarded by `condition`.
    private let condition = NSCondition()
    private var value: Value?

    /// An empty one.
    package init() {}

    /// Stores the value and wakes the waiters; later calls are ignored.
    package func fulfil(_ newValue: Value) {
        condition.lock()
        defer { condition.unlock() }
        guard value == nil else { return }
        value = newValue
        condition.broadcast()
    }

    /// The value if it is there, without waiting.
    package var current: Value? {
        condition.lock()
        defer { condition.unlock() }
        return value
    }

    /// Waits without blocking a thread (polling every millisecond) until the value is there.
    package func value() async throws -> Value {
        while true {
            if let value = current { return value }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Blocks the calling thread until the value is there.
    package func wait() -> Value {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let value { return value }
            condition.wait()
        }
    }
}
