import Foundation
import LossSynthesis
import LossWire
import ZeroMQ

/// A built-in synthetic trainer: a thread that pushes batches over a real socket, like a
/// training job would, with predictions that improve so the loss falls.
final class DemoTrainer: Sendable {
    private let thread: SocketThread<Int>
    private let stopping: Latch<Void>

    /// Starts pushing batches of `generator` to `endpoint`, one every `interval`.
    ///
    /// - Parameter stepsPerBatch: Training steps between two batches, so the skill curve moves.
    init(
        name: String, generator: SyntheticBatchGenerator, endpoint: String, context: Context,
        interval: Duration, stepsPerBatch: Int, batchesPerEpoch: Int
    ) throws(ZeroMQError) {
        let stopping = Latch<Void>()
        self.stopping = stopping
        self.thread = try SocketThread(name: name) {
            let socket = try Socket(context, type: .push)
            defer { socket.close() }
            // A linger, so that batches already handed to the socket still reach the sidecar after stop().
            try socket.setOptions([.sendHighWaterMark(2), .linger(.seconds(10))])
            try socket.connect(endpoint)
            var sent = 0
            while !stopping.isOpen {
                let started = ContinuousClock.now
                let message = generator.message(
                    step: sent * stepsPerBatch, epoch: sent / max(1, batchesPerEpoch), seq: sent,
                    receiveTimeNs: UInt64(Date().timeIntervalSince1970 * 1e9))
                // Wait for room as a trainer would, but notice a stop within a fifth of a second.
                var delivered = false
                while !delivered && !stopping.isOpen {
                    do {
                        try socket.send(zeroCopy: message.frames, owner: message, mode: .timeout(.milliseconds(200)))
                        delivered = true
                    } catch ZeroMQError.timedOut {
                        continue
                    }
                }
                if delivered { sent += 1 }
                let rest = interval - started.duration(to: .now)
                if rest > .zero && !stopping.isOpen { Thread.sleep(forTimeInterval: rest / .seconds(1)) }
            }
            return sent
        }
    }

    /// Stops sending and returns the number of batches sent.
    func stop() async throws -> Int {
        stopping.open()
        return try await thread.value
    }
}
