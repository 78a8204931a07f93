#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A gate that opens once, with a value, for every thread and task waiting on it.
///
/// The one waiting primitive of lossd: a thread hands a result to another (``SocketThread`` its
/// outcome, a receiver "bound" or the reason it could not bind), or raises a stop request that
/// ends another thread's timed waits. ``open(_:)`` stores the value and wakes every waiter; the
/// first call wins and later ones change nothing.
///
/// - OS threads block in ``wait()`` or ``wait(timeout:)``, which are unavailable from async code:
///   they would hold a thread of Swift's cooperative pool.
/// - Tasks suspend in ``wait()-(async)`` (ended early by cancellation) or read ``value`` (which
///   waits however long it takes, for owners that must outlive what they wait for).
///
/// `@unchecked Sendable`: `stored` and `waiters` are read and written only with `mutex` held, and
/// the pthread objects live at stable heap addresses for the latch's lifetime.
public final class Latch<Value: Sendable>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var stored: Value?
    private var waiters: [Int: Waiter] = [:]
    private var nextWaiter = 0

    /// A closed latch.
    public init() {
        Self.check(pthread_mutex_init(mutex, nil), "pthread_mutex_init")
        #if canImport(Darwin)
        Self.check(pthread_cond_init(condition, nil), "pthread_cond_init")
        #else
        // Timed waits measure against the monotonic clock, so that setting the wall clock does not
        // stretch or cut them.
        var attributes = pthread_condattr_t()
        Self.check(pthread_condattr_init(&attributes), "pthread_condattr_init")
        Self.check(pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC), "pthread_condattr_setclock")
        Self.check(pthread_cond_init(condition, &attributes), "pthread_cond_init")
        Self.check(pthread_condattr_destroy(&attributes), "pthread_condattr_destroy")
        #endif
    }

    deinit {
        Self.check(pthread_cond_destroy(condition), "pthread_cond_destroy")
        Self.check(pthread_mutex_destroy(mutex), "pthread_mutex_destroy")
        condition.deallocate()
        mutex.deallocate()
    }

    /// Opens the latch with `value` and wakes every waiter.
    ///
    /// - Returns: `true` if this call opened it, `false` if it was already open (the value it holds
    ///   stays).
    @discardableResult
    public func open(_ value: Value) -> Bool {
        let resumed: [Waiter]? = locked {
            guard stored == nil else { return nil }
            stored = value
            Self.check(pthread_cond_broadcast(condition), "pthread_cond_broadcast")
            defer { waiters = [:] }
            return Array(waiters.values)
        }
        guard let resumed else { return false }
        for waiter in resumed { waiter.resume(with: value) }
        return true
    }

    /// The value once the latch is open, without waiting; nil while it is closed.
    public var current: Value? { locked { stored } }

    /// Whether the latch is open.
    public var isOpen: Bool { current != nil }

    /// Blocks the calling OS thread until the latch opens, then returns its value.
    @available(*, noasync, message: "wait() blocks its thread; use `try await latch.wait()` in async code")
    public func wait() -> Value {
        locked {
            while true {
                if let stored { return stored }
                Self.check(pthread_cond_wait(condition, mutex), "pthread_cond_wait")
            }
        }
    }

    /// Blocks the calling OS thread until the latch opens or `timeout` passes.
    ///
    /// - Returns: the value, or nil if the latch was still closed after `timeout`.
    @available(*, noasync, message: "wait(timeout:) blocks its thread; use `try await latch.wait()` in async code")
    public func wait(timeout: Duration) -> Value? {
        let deadline = Self.monotonicDeadline(after: timeout)
        return locked {
            while true {
                if let stored { return stored }
                #if canImport(Darwin)
                var remaining = Self.timespec(ContinuousClock.now.duration(to: deadline))
                let status = pthread_cond_timedwait_relative_np(condition, mutex, &remaining)
                #else
                var until = deadline
                let status = pthread_cond_timedwait(condition, mutex, &until)
                #endif
                if status == ETIMEDOUT { return stored }
                Self.check(status, "pthread_cond_timedwait")
            }
        }
    }

    /// Suspends the calling task until the latch opens, then returns its value.
    ///
    /// - Throws: `CancellationError` as soon as the task is cancelled; the latch is unchanged.
    public func wait() async throws -> Value {
        let id = locked {
            nextWaiter += 1
            return nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let outcome: Result<Value, CancellationError>? = locked {
                    if let stored { return .success(stored) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    waiters[id] = .cancellable(continuation)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            if case .cancellable(let continuation)? = locked({ waiters.removeValue(forKey: id) }) {
                continuation.resume(throwing: CancellationError())
            }
        }
    }

    /// The value, once the latch opens, however long that takes: cancelling the task does not end
    /// the wait. For owners that must outlive what they wait for, such as a thread's result.
    public var value: Value {
        get async {
            await withCheckedContinuation { continuation in
                let ready: Value? = locked {
                    if let stored { return stored }
                    nextWaiter += 1
                    waiters[nextWaiter] = .patient(continuation)
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }

    /// A suspended task: one that cancellation wakes early, or one that waits for the value whatever happens.
    private enum Waiter {
        case cancellable(CheckedContinuation<Value, any Error>)
        case patient(CheckedContinuation<Value, Never>)

        func resume(with value: Value) {
            switch self {
            case .cancellable(let continuation): continuation.resume(returning: value)
            case .patient(let continuation): continuation.resume(returning: value)
            }
        }
    }

    #if canImport(Darwin)
    private static func monotonicDeadline(after timeout: Duration) -> ContinuousClock.Instant {
        ContinuousClock.now.advanced(by: timeout)
    }

    private static func timespec(_ duration: Duration) -> timespec {
        let (seconds, attoseconds) = max(duration, .zero).components
        return Darwin.timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    }
    #else
    /// `CLOCK_MONOTONIC` now plus `timeout` (negative counts as zero), as `pthread_cond_timedwait` takes it.
    private static func monotonicDeadline(after timeout: Duration) -> timespec {
        var now = timespec()
        Self.check(clock_gettime(CLOCK_MONOTONIC, &now), "clock_gettime")
        // At most about a century ahead, so that the sum cannot overflow.
        let (seconds, attoseconds) = min(max(timeout, .zero), .seconds(1 << 32)).components
        var nanoseconds = Int(now.tv_nsec) + Int(attoseconds / 1_000_000_000)
        var wholeSeconds = Int(now.tv_sec) + Int(seconds)
        if nanoseconds >= 1_000_000_000 {
            nanoseconds -= 1_000_000_000
            wholeSeconds += 1
        }
        return timespec(tv_sec: wholeSeconds, tv_nsec: nanoseconds)
    }
    #endif

    private func locked<Result>(_ body: () throws -> Result) rethrows -> Result {
        Self.check(pthread_mutex_lock(mutex), "pthread_mutex_lock")
        defer { Self.check(pthread_mutex_unlock(mutex), "pthread_mutex_unlock") }
        return try body()
    }

    /// Stops the program on a pthread failure: with valid objects, these calls fail only on a
    /// programming error (a destroyed or foreign mutex), which no caller could recover from.
    private static func check(_ status: Int32, _ call: StaticString) {
        precondition(status == 0, "\(call) failed with error \(status)")
    }
}

extension Latch where Value == Void {
    /// Opens the latch; see ``open(_:)``.
    @discardableResult
    public func open() -> Bool { open(()) }
}
