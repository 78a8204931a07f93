import DequeModule
import Foundation

/// Runs work on dedicated threads and hands the results to one emitter thread in submission order.
///
/// The pool is the shape shared by `replay` and the sidecar: a producer calls ``submit(_:)``;
/// `workers` threads transform inputs concurrently; one emitter thread receives the outputs in
/// exactly the order they were submitted. At most `capacity` items are in flight (queued, being
/// worked on, or finished and waiting for an earlier one to be emitted), and ``submit(_:)`` blocks
/// while the pool is full: that is the backpressure that reaches the producer.
///
/// None of the threads belongs to Swift's cooperative pool, so blocking work (a socket send, a
/// file write) is fine in the worker and emitter closures. Each worker and the emitter are made
/// on their own thread by the factories given to ``init(name:workers:capacity:makeWorker:makeEmitter:)``,
/// so they may own non-`Sendable` state such as a scratch buffer or a socket.
public final class OrderedWorkerPool<Input: Sendable, Output: Sendable>: Sendable {
    private let state: LockedState

    /// Starts `workers` worker threads and one emitter thread.
    ///
    /// - Parameters:
    ///   - name: A prefix for the thread names (`name-worker-0`, `name-emitter`).
    ///   - workers: The number of worker threads (at least 1).
    ///   - capacity: The most items in flight at once; at least `workers`.
    ///   - makeWorker: Called once on each worker thread; returns the function that thread applies.
    ///   - makeEmitter: Called once on the emitter thread; returns what receives the outputs in
    ///     submission order, and what runs on that thread after the last one.
    public init(
        name: String,
        workers: Int,
        capacity: Int,
        makeWorker: @escaping @Sendable () -> (Input) -> Output,
        makeEmitter: @escaping @Sendable () -> PoolEmitter<Output>
    ) {
        let workerCount = max(1, workers)
        self.state = LockedState(capacity: max(workerCount, capacity), threads: workerCount + 1)
        let state = self.state
        for index in 0..<workerCount {
            let thread = Thread {
                let work = makeWorker()
                while let (sequence, input) = state.takeJob() {
                    state.complete(sequence, with: work(input))
                }
                state.threadExited()
            }
            thread.name = "\(name)-worker-\(index)"
            thread.start()
        }
        let emitterThread = Thread {
            let emitter = makeEmitter()
            while let output = state.takeNextResult() {
                emitter.emit(output)
                state.emitted()
            }
            emitter.finish()
            state.threadExited()
        }
        emitterThread.name = "\(name)-emitter"
        emitterThread.start()
    }

    /// Queues one input, blocking while `capacity` items are already in flight.
    ///
    /// Must not be called after ``finish()``.
    @available(*, noasync, message: "submit(_:) blocks while the pool is full; call it from a thread of its own")
    public func submit(_ input: Input) {
        state.enqueue(input)
    }

    /// The number of items submitted and not yet emitted.
    public var inFlight: Int { state.inFlightCount }

    /// The number of items emitted so far.
    public var emittedCount: Int { state.emittedTotal }

    /// Waits until every submitted item has been emitted, then stops and joins all threads.
    @available(*, noasync, message: "finish() blocks until every item is emitted; call it from a thread of its own")
    public func finish() {
        state.closeAndJoin()
    }
}

/// The receiving end of an ``OrderedWorkerPool``, made on and used only by the emitter thread.
public struct PoolEmitter<Output> {
    /// Receives each output, in submission order.
    public var emit: (Output) -> Void
    /// Runs on the emitter thread after the last output (closing a socket it owns, for instance).
    public var finish: () -> Void

    /// Creates an emitter.
    public init(emit: @escaping (Output) -> Void, finish: @escaping () -> Void = {}) {
        self.emit = emit
        self.finish = finish
    }
}

extension OrderedWorkerPool {
    /// The pool's queues and counters behind one condition lock.
    private final class LockedState: @unchecked Sendable {
        // Every stored property below is read and written only while `condition` is locked.
        private let condition = NSCondition()
        private let capacity: Int
        // A taken job must leave the queue at once: the input may hold a large message.
        private var jobs = Deque<(Int, Input)>()
        private var results: [Int: Output] = [:]
        private var nextSubmitted = 0
        private var nextToEmit = 0
        private var emittedItems = 0
        private var closed = false
        private var liveThreads: Int

        init(capacity: Int, threads: Int) {
            self.capacity = capacity
            self.liveThreads = threads
        }

        private func locked<T>(_ body: () -> T) -> T {
            condition.lock()
            defer { condition.unlock() }
            return body()
        }

        var inFlightCount: Int { locked { nextSubmitted - emittedItems } }
        var emittedTotal: Int { locked { emittedItems } }

        func enqueue(_ input: Input) {
            locked {
                precondition(!closed, "OrderedWorkerPool.submit called after finish()")
                while nextSubmitted - emittedItems >= capacity {
                    condition.wait()
                }
                jobs.append((nextSubmitted, input))
                nextSubmitted += 1
                condition.broadcast()
            }
        }

        func takeJob() -> (Int, Input)? {
            locked {
                while jobs.isEmpty && !closed {
                    condition.wait()
                }
                return jobs.popFirst()
            }
        }

        func complete(_ sequence: Int, with output: Output) {
            locked {
                results[sequence] = output
                condition.broadcast()
            }
        }

        func takeNextResult() -> Output? {
            locked {
                while results[nextToEmit] == nil {
                    if closed && nextToEmit == nextSubmitted { return nil }
                    condition.wait()
                }
                let output = results.removeValue(forKey: nextToEmit)
                nextToEmit += 1
                return output
            }
        }

        func emitted() {
            locked {
                emittedItems += 1
                condition.broadcast()
            }
        }

        func threadExited() {
            locked {
                liveThreads -= 1
                condition.broadcast()
            }
        }

        func closeAndJoin() {
            locked {
                closed = true
                condition.broadcast()
                while liveThreads > 0 {
                    condition.wait()
                }
            }
        }
    }
}
