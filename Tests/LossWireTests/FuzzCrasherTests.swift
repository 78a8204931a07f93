import Foundation
import LossWire
import SSDLoss
import Testing

/// Inputs that once crashed a fuzzer (`Fuzz/crashers/TARGET/`, docs/TESTING.md), replayed as
/// regression tests: each must now be handled without a trap.
@Suite("Saved fuzzer crashes")
struct FuzzCrasherTests {
    static let crashers = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/crashers")

    static func inputs(_ target: String) -> [String] {
        let directory = crashers.appendingPathComponent(target)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && !$0.hasSuffix(".md") }.sorted()
            .map { directory.appendingPathComponent($0).path }
    }

    /// The decoder fuzzer's framing (Fuzz/FuzzFraming.swift): u32 LE length + bytes per frame,
    /// a length past the end takes the rest, a tail under 4 bytes is a frame, at most 20 frames.
    static func frames(_ input: [UInt8]) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var offset = 0
        while offset < input.count {
            if frames.count == 19 || input.count - offset < 4 {
                frames.append(Array(input[offset...]))
                break
            }
            let length = input[offset..<(offset + 4)].reversed().reduce(0) { $0 << 8 | Int($1) }
            offset += 4
            let end = offset + min(length, input.count - offset)
            frames.append(Array(input[offset..<end]))
            offset = end
        }
        return frames
    }

    @Test("decoder crashers get one record", arguments: inputs("decoder"))
    func decoder(_ path: String) throws {
        let input = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let processor = BatchProcessor(limits: WireLimits(maxMessageBytes: 1 << 20), sidecarID: "fuzz")
        let record = processor.process(WireMessage(copying: Self.frames(input)), workspace: LossWorkspace())
        #expect(throws: Never.self) { try JSONValue(parsing: record.jsonLine()) }
    }

    @Test("recording crashers are read to a clean end or a reported failure", arguments: inputs("recording"))
    func recording(_ path: String) throws {
        let reader = try RecordingReader(path: path, limits: WireLimits(maxMessageBytes: 1 << 20))
        do {
            while let message = try reader.next() {
                _ = try? BatchDecoder.decode(message, defaults: LossParameters())
            }
        } catch {
            #expect(!error.description.isEmpty)
        }
    }
}
