import Foundation

/// The outbox shared by the emitter, which appends records (waiting while it is full), and the
/// link thread, which sends them and forgets those the aggregator acknowledged as durable.
///
/// Every record goes to the spool, when there is one, before it is in the outbox, so that nothing
/// is sent that a restart could not send again.
///
/// `@unchecked Sendable`: every stored property is used only while `condition` is locked (the
/// spool too: it is written and trimmed under the lock, never by two threads at once).
final class LinkOutboxQueue: @unchecked Sendable {
    /// The link id the records are sent under.
    let link: String
    private let condition = NSCondition()
    private var outbox: LinkOutbox
    private let spool: LinkSpool?

    /// An outbox for `link`, holding what a spool gave back (if any).
    init(link: String, outbox: LinkOutbox, spool: LinkSpool?) {
        self.link = link
        self.outbox = outbox
        self.spool = spool
    }

    /// Appends `bytes`, waiting while the outbox is full until `giveUp()` says to stop waiting;
    /// returns false when it gave up (the record is not held).
    ///
    /// - Throws: ``LinkSpoolError`` when the spool cannot take the record (then it is not held).
    @available(*, noasync, message: "append(_:giveUp:) waits for room; call it from a thread of its own")
    func append(_ bytes: [UInt8], giveUp: () -> Bool) throws(LinkSpoolError) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !outbox.hasRoom(for: bytes.count) {
            if giveUp() { return false }
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.05))
        }
        try spool?.append(LinkOutbox.Entry(seq: outbox.nextSeq, bytes: bytes))
        outbox.append(bytes)
        return true
    }

    /// Forgets the records below `durable` (in memory and in the spool) and wakes an append
    /// waiting for room.
    func acknowledge(below durable: UInt64) {
        condition.lock()
        defer { condition.unlock() }
        guard outbox.acknowledge(below: durable) > 0 else { return }
        spool?.acknowledge(below: durable)
        condition.broadcast()
    }

    /// The record with `seq`, if still held.
    func entry(_ seq: UInt64) -> LinkOutbox.Entry? {
        condition.lock()
        defer { condition.unlock() }
        return outbox.entry(seq)
    }

    /// The oldest seq held (every one below was acknowledged) and the seq the next record gets.
    var bounds: (first: UInt64, next: UInt64) {
        condition.lock()
        defer { condition.unlock() }
        return (outbox.first, outbox.nextSeq)
    }

    /// How many records are held.
    var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return outbox.count
    }

    /// Waits until every record is acknowledged or `deadline` passes; returns how many are left.
    @available(*, noasync, message: "waitUntilEmpty(before:) blocks; call it from a thread of its own")
    func waitUntilEmpty(before deadline: ContinuousClock.Instant) -> Int {
        condition.lock()
        defer { condition.unlock() }
        while outbox.count > 0 && ContinuousClock.now < deadline {
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.05))
        }
        return outbox.count
    }

    /// Closes the spool (fsyncing what it holds); returns whether there was one.
    func closeSpool() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        spool?.close()
        return spool != nil
    }
}
