import Foundation
import Synchronization
import Testing

@testable import LossPipeline

@Suite("OrderedWorkerPool")
struct OrderedWorkerPoolTests {
    @Test("emits every result in submission order whatever the workers' timing", arguments: [1, 2, 4, 8])
    func emitsInOrder(workers: Int) {
        let emitted = Mutex<[Int]>([])
        let pool = OrderedWorkerPool<Int, Int>(
            name: "test", workers: workers, capacity: workers * 2,
            makeWorker: {
                { value in
                    // Later items often finish first: a deterministic, uneven amount of work.
                    usleep(UInt32((7 * value) % 5) * 200)
                    return value * 10
                }
            },
            makeEmitter: { PoolEmitter(emit: { value in emitted.withLock { $0.append(value) } }) }
        )
        for value in 0..<200 { pool.submit(value) }
        pool.finish()
        #expect(emitted.withLock { $0 } == (0..<200).map { $0 * 10 })
        #expect(pool.emittedCount == 200)
        #expect(pool.inFlight == 0)
    }

    @Test("never holds more than its capacity in flight")
    func boundsInFlight() {
        let capacity = 3
        let highest = Mutex(0)
        let inFlight = Mutex(0)
        let pool = OrderedWorkerPool<Int, Int>(
            name: "bound", workers: 2, capacity: capacity,
            makeWorker: { { value in value } },
            makeEmitter: {
                PoolEmitter(emit: { _ in
                    usleep(500)  // a slow sink
                    inFlight.withLock { $0 -= 1 }
                })
            }
        )
        for value in 0..<50 {
            pool.submit(value)
            let now = inFlight.withLock { count in
                count += 1
                return count
            }
            highest.withLock { $0 = max($0, now) }
        }
        pool.finish()
        // submit() returns only once there is room, so at most `capacity` items were ever queued
        // and not yet emitted (one more may be counted between submit and the emitter's decrement).
        #expect(highest.withLock { $0 } <= capacity + 1)
        #expect(inFlight.withLock { $0 } == 0)
    }

    @Test("finish with nothing submitted returns at once")
    func finishEmpty() {
        let pool = OrderedWorkerPool<Int, Int>(
            name: "empty", workers: 2, capacity: 2,
            makeWorker: { { $0 } }, makeEmitter: { PoolEmitter(emit: { _ in }) })
        pool.finish()
        #expect(pool.emittedCount == 0)
    }

    @Test("an input is released as soon as its output is made, not kept by the queue")
    func releasesInputs() {
        let highest = Mutex(0)
        let tracker = LiveTracker()
        let pool = OrderedWorkerPool<TrackedInput, Int>(
            name: "release", workers: 2, capacity: 3,
            makeWorker: { { input in input.value } },
            makeEmitter: {
                PoolEmitter(emit: { _ in
                    usleep(200)
                    let now = tracker.live
                    highest.withLock { $0 = max($0, now) }
                })
            })
        for value in 0..<300 { pool.submit(TrackedInput(value, tracker: tracker)) }
        pool.finish()
        // At most `capacity` inputs exist at once (plus the one being submitted).
        #expect(highest.withLock { $0 } <= 4)
        #expect(tracker.live == 0)
    }
}

/// Counts the `TrackedInput`s alive.
final class LiveTracker: Sendable {
    private let count = Mutex(0)
    var live: Int { count.withLock { $0 } }
    func add(_ delta: Int) { count.withLock { $0 += delta } }
}

/// An input whose lifetime the tracker sees.
final class TrackedInput: Sendable {
    let value: Int
    let tracker: LiveTracker
    init(_ value: Int, tracker: LiveTracker) {
        self.value = value
        self.tracker = tracker
        tracker.add(1)
    }
    deinit { tracker.add(-1) }
}
