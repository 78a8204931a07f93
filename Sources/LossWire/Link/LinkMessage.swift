/// One message of lossd's acknowledged record link (docs/PROTOCOL.md, "The record link").
///
/// The link joins a sidecar's DEALER socket to an aggregator's ROUTER socket. Every message is
/// multipart: a command frame (`record`, `sync` or `ack`), the link id, a frame of little-endian
/// u64 numbers, and for `record` the record's JSON line, byte for byte what a PULL sink gets. The
/// ROUTER adds (on receipt) and takes (on sending) the peer's routing id in front; this type never
/// sees it.
public enum LinkMessage: Sendable, Hashable {
    /// sidecar → aggregator: the record with link sequence number `seq`; `first` is the oldest
    /// seq the sidecar still holds (everything below was acknowledged as durable).
    case record(link: String, seq: UInt64, first: UInt64)
    /// sidecar → aggregator: "I hold `first ..< next`; tell me where you are". Answered by an ack
    /// with ``LinkAck/rewind`` set.
    case sync(link: String, first: UInt64, next: UInt64)
    /// aggregator → sidecar: how far the link has been ingested and saved.
    case ack(LinkAck)

    /// The command frame of each kind.
    public enum Command: String, Sendable, CaseIterable {
        case record, sync, ack
    }

    /// The longest link id accepted, in bytes.
    public static let maxLinkBytes = 64

    /// The link this message belongs to.
    public var link: String {
        switch self {
        case .record(let link, _, _), .sync(let link, _, _): link
        case .ack(let ack): ack.link
        }
    }

    /// The frames of a `sync` or `ack`, or the first three frames of a `record` (its JSON line
    /// follows as the fourth).
    public var frames: [[UInt8]] {
        switch self {
        case .record(let link, let seq, let first):
            [Array(Command.record.rawValue.utf8), Array(link.utf8), Self.numbers([seq, first])]
        case .sync(let link, let first, let next):
            [Array(Command.sync.rawValue.utf8), Array(link.utf8), Self.numbers([first, next])]
        case .ack(let ack):
            [
                Array(Command.ack.rawValue.utf8), Array(ack.link.utf8),
                Self.numbers([ack.next, ack.durable, ack.credit, ack.rewind ? 1 : 0]),
            ]
        }
    }

    /// Decodes `frames` (without the ROUTER's routing id). For a `record`, the JSON line is
    /// `frames[3]`, left where it is for the caller.
    public init(frames: [UnsafeRawBufferPointer]) throws(LinkProtocolError) {
        guard let commandFrame = frames.first else { throw .frames(0, command: nil) }
        guard let command = Command(rawValue: String(decoding: commandFrame, as: UTF8.self)) else {
            throw .unknownCommand(String(decoding: commandFrame.prefix(32), as: UTF8.self))
        }
        let expectedFrames = command == .record ? 4 : 3
        guard frames.count == expectedFrames else { throw .frames(frames.count, command: command) }
        let linkFrame = frames[1]
        guard !linkFrame.isEmpty, linkFrame.count <= Self.maxLinkBytes,
            let link = String(validating: linkFrame, as: UTF8.self)
        else { throw .badLink(bytes: linkFrame.count) }
        let wanted = command == .ack ? 4 : 2
        guard frames[2].count == 8 * wanted else {
            throw .numbers(command: command, bytes: frames[2].count, expected: 8 * wanted)
        }
        let numbers = (0..<wanted).map { index in
            UInt64(littleEndian: frames[2].loadUnaligned(fromByteOffset: 8 * index, as: UInt64.self))
        }
        switch command {
        case .record:
            self = .record(link: link, seq: numbers[0], first: numbers[1])
        case .sync:
            self = .sync(link: link, first: numbers[0], next: numbers[1])
        case .ack:
            self = .ack(
                LinkAck(
                    link: link, next: numbers[0], durable: numbers[1], credit: numbers[2], rewind: numbers[3] & 1 != 0))
        }
    }

    /// `values` as consecutive little-endian u64s.
    static func numbers(_ values: [UInt64]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 * values.count)
        for value in values {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }
}

/// The aggregator's answer on the record link: where the link stands.
public struct LinkAck: Sendable, Hashable {
    /// The link it answers.
    public var link: String
    /// Every seq below this has been ingested; the next one the aggregator takes.
    public var next: UInt64
    /// Every seq below this is in a saved state file (or, without one, ingested): the sidecar
    /// may forget them. Never above ``next``.
    public var durable: UInt64
    /// How many seqs from ``next`` on the sidecar may have in flight (credit-based flow control).
    public var credit: UInt64
    /// The aggregator did not take what came after ``next`` (a gap, a sync, a restart): send
    /// again from ``next``.
    public var rewind: Bool

    /// Creates an ack.
    public init(link: String, next: UInt64, durable: UInt64, credit: UInt64, rewind: Bool) {
        self.link = link
        self.next = next
        self.durable = durable
        self.credit = credit
        self.rewind = rewind
    }
}

/// A message on the record link that does not follow its protocol.
public enum LinkProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The first frame names no command of the link.
    case unknownCommand(String)
    /// The message has the wrong number of frames for its command.
    case frames(Int, command: LinkMessage.Command?)
    /// The link id frame is empty, too long or not UTF-8.
    case badLink(bytes: Int)
    /// The numbers frame has the wrong size.
    case numbers(command: LinkMessage.Command, bytes: Int, expected: Int)

    /// A sentence saying what is wrong and what sends such messages.
    public var description: String {
        switch self {
        case .unknownCommand(let text):
            "a record-link message starts with \"\(text)\", not record, sync or ack; is a plain PUSH socket "
                + "sending to the aggregator's --input? Plain producers belong on --pull-input"
        case .frames(let count, let command):
            "a record-link \(command?.rawValue ?? "") message has \(count) frames; "
                + "record has 4, sync and ack have 3"
        case .badLink(let bytes):
            "a record-link message names a link of \(bytes) bytes; a link id is 1 to \(LinkMessage.maxLinkBytes) "
                + "bytes of UTF-8"
        case .numbers(let command, let bytes, let expected):
            "a record-link \(command.rawValue) message has a numbers frame of \(bytes) bytes instead of \(expected)"
        }
    }
}
