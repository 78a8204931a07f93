import Foundation
import LossWire

/// One case of the malformed-input corpus in `Tests/Fixtures/malformed` (docs/TESTING.md).
struct CorpusCase: Sendable, CustomStringConvertible {
    /// The case's name, also its file's stem.
    let name: String
    /// The error code lossd must answer with.
    let code: ErrorCode
    /// The `seq` the error record must carry, or nil when the header cannot be read that far.
    let seq: Int?
    /// The `max_message_bytes` the case runs under, or nil for lossd's default.
    let maxMessageBytes: Int?
    /// Whether the header claims tensors far larger than its frames.
    let hugeClaim: Bool
    /// The message's frames.
    let frames: [[UInt8]]

    var description: String { name }
}

/// Reads the corpus: `manifest.json` and one `NAME.frames` file per case.
enum MalformedCorpus {
    /// `Tests/Fixtures/malformed`, found from this file's path.
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/malformed")

    /// `Tests/SSDLossTests/golden`, found from this file's path.
    static let goldenDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("SSDLossTests/golden")

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private struct Manifest: Decodable {
        struct Entry: Decodable {
            let name: String
            let file: String
            let code: String
            let seq: Int?
            let max_message_bytes: Int?
            let huge_claim: Bool
        }
        let format: Int
        let cases: [Entry]
    }

    /// Every case, in manifest order.
    static func load() throws -> [CorpusCase] {
        let data = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        let manifest = try JSONDecoder().decode(Manifest.self, from: data)
        guard manifest.format == 1 else { throw Failure(description: "manifest format \(manifest.format), expected 1") }
        return try manifest.cases.map { entry in
            guard let code = ErrorCode(rawValue: entry.code) else {
                throw Failure(description: "\(entry.name): unknown code \(entry.code)")
            }
            let bytes = try [UInt8](Data(contentsOf: directory.appendingPathComponent(entry.file)))
            return CorpusCase(
                name: entry.name, code: code, seq: entry.seq, maxMessageBytes: entry.max_message_bytes,
                hugeClaim: entry.huge_claim, frames: try frames(bytes, name: entry.name))
        }
    }

    /// Splits a `.frames` file (each frame a u32 LE length, then its bytes) exactly.
    static func frames(_ bytes: [UInt8], name: String) throws -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else { throw Failure(description: "\(name): a frame length is cut short") }
            let length = bytes[offset..<(offset + 4)].reversed().reduce(0) { $0 << 8 | Int($1) }
            offset += 4
            guard bytes.count - offset >= length else { throw Failure(description: "\(name): a frame is cut short") }
            frames.append(Array(bytes[offset..<(offset + length)]))
            offset += length
        }
        return frames
    }
}
