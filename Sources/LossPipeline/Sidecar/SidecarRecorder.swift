import Foundation
import Logging
import LossWire
import ZeroMQ

/// The `--record` recording, written on a thread of its own (`sidecar-record`) so that checksums
/// and disk writes stay off the receive path.
///
/// The receiver hands each message over with ``record(_:)``, which returns as soon as the writer
/// thread has taken it: a hand-off with no queue. While the writer is busy with one message the
/// receiver goes on (receives the next, submits it to the pool) and then waits at the hand-off, so
/// the disk is never idle when it is the bottleneck, a slow disk slows the receiver (and through it
/// the trainer) instead of piling messages up, and a recording adds one message to the sidecar's
/// memory: the one being written. The message is written as it arrived, without a copy of its
/// frames (``RecordingWriter``), and the recording keeps at most
/// ``Sidecar/recordingPageCacheWindow`` bytes in the page cache (``WriteBehind``).
///
/// A failed write (a full disk) is logged once; the writer then takes and drops every later
/// message, so the receiver never waits for it, and ``finish()`` returns how many records reached
/// the file, from which the sidecar counts `recording_failures`.
final class SidecarRecorder: Sendable {
    private let handoff: Handoff

    /// Opens `path` (created or emptied) on a new writer thread.
    ///
    /// - Throws: ``RecordingError`` when the file cannot be created; no thread is left running.
    @available(*, noasync, message: "start blocks until the recording is open; call it from a thread of its own")
    static func start(
        path: String, version: RecordingFormat.Version, counters: SidecarCounters, logger: Logger
    ) throws(RecordingError) -> SidecarRecorder {
        let handoff = Handoff()
        let opened = Latch<RecordingError?>()
        let thread = Thread {
            let writer: RecordingWriter
            do throws(RecordingError) {
                writer = try RecordingWriter(
                    path: path, version: version, writeBehind: WriteBehind(window: Sidecar.recordingPageCacheWindow))
            } catch {
                opened.open(error)
                handoff.finish(written: 0)
                return
            }
            opened.open(nil)
            var failed = false
            func log(_ error: RecordingError) {
                // After a failed write the writer takes nothing more (it throws `closed`): one line.
                guard !failed else { return }
                failed = true
                logger.error("cannot append to the recording", metadata: ["error": "\(error)"])
            }
            // With nothing waiting, the buffered small records go to the file: it is never more
            // than one hand-off behind the receiver.
            while let message = handoff.take(whenIdle: {
                do throws(RecordingError) { try writer.flush() } catch { log(error) }
                counters.setRecorded(writer.writtenRecordCount)
            }) {
                do throws(RecordingError) { try writer.append(message) } catch { log(error) }
                counters.setRecorded(writer.writtenRecordCount)
            }
            do { try writer.close() } catch {
                logger.error("closing the recording failed", metadata: ["error": "\(error)"])
            }
            counters.setRecorded(writer.writtenRecordCount)
            handoff.finish(written: writer.writtenRecordCount)
        }
        thread.name = "sidecar-record"
        thread.start()
        if let error = opened.wait() { throw error }
        return SidecarRecorder(handoff: handoff)
    }

    private init(handoff: Handoff) {
        self.handoff = handoff
    }

    /// Hands `message` to the writer thread; returns once the thread has taken it.
    @available(*, noasync, message: "record(_:) waits for the writer thread; call it from a thread of its own")
    func record(_ message: WireMessage) {
        handoff.give(message)
    }

    /// Lets the writer write what it holds, closes the file and joins the thread; returns the
    /// number of records written whole. Call once, after the last ``record(_:)``.
    @available(*, noasync, message: "finish() waits for the writer thread; call it from a thread of its own")
    func finish() -> Int {
        handoff.closeAndWait()
    }
}

extension SidecarRecorder {
    /// The hand-off slot and the thread's end, behind one condition lock.
    ///
    /// `@unchecked Sendable`: every stored property is read and written only while `condition` is
    /// locked.
    private final class Handoff: @unchecked Sendable {
        private let condition = NSCondition()
        private var slot: WireMessage?
        private var closed = false
        private var written: Int?

        /// Puts `message` in the slot and waits until the writer has taken it (or has ended).
        func give(_ message: WireMessage) {
            condition.lock()
            defer { condition.unlock() }
            precondition(!closed, "SidecarRecorder.record called after finish()")
            slot = message
            condition.broadcast()
            while slot != nil && written == nil { condition.wait() }
            slot = nil
        }

        /// The next message, or `nil` once closed and empty; runs `whenIdle` (unlocked) first when
        /// no message is waiting.
        func take(whenIdle: () -> Void) -> WireMessage? {
            condition.lock()
            defer { condition.unlock() }
            if slot == nil && !closed {
                condition.unlock()
                whenIdle()
                condition.lock()
            }
            while slot == nil && !closed { condition.wait() }
            let message = slot
            slot = nil
            condition.broadcast()
            return message
        }

        /// Marks the writer thread as ended, with the records it wrote.
        func finish(written: Int) {
            condition.lock()
            defer { condition.unlock() }
            self.written = written
            condition.broadcast()
        }

        /// Closes the slot and waits for the writer thread to end; returns the records written.
        func closeAndWait() -> Int {
            condition.lock()
            defer { condition.unlock() }
            closed = true
            condition.broadcast()
            while written == nil { condition.wait() }
            return written ?? 0
        }
    }
}
