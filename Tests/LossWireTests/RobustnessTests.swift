import Foundation
import SSDLoss
import Testing

@testable import LossWire

/// A small deterministic generator (SplitMix64) so mutation tests repeat exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Robustness against mutated input")
struct RobustnessTests {
    @Test func mutatedHeadersNeverCrashTheDecoder() {
        let header = BatchHeader(
            shape: BatchShape(batch: 2, boxes: 3, classes: 4), scores: .logits, run: "r", seq: 1,
            loss: LossOverrides(negPosRatio: 2, alpha: 0.5, mining: .image))
        let original = header.jsonBytes()
        let tensors = TestMessages.tensors(for: header)
        var random = SplitMix64(state: 42)
        var accepted = 0
        var codes: Set<ErrorCode> = []
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let position = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: bytes[position] = UInt8.random(in: 0...255, using: &random)
                case 1: bytes.remove(at: position)
                default: bytes.insert(UInt8.random(in: 0x20...0x7E, using: &random), at: position)
                }
                if bytes.isEmpty { bytes = [0x7B] }
            }
            do {
                _ = try BatchDecoder.decode(WireMessage(copying: [bytes] + tensors), defaults: LossParameters())
                accepted += 1
            } catch {
                codes.insert(error.code)
                #expect(!error.message.isEmpty)
            }
        }
        #expect(codes.contains(.badHeader))
        #expect(accepted < 3000)
    }

    @Test func randomRecordsNeverCrashTheReader() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("random.lossrec")
        var random = SplitMix64(state: 7)
        for round in 0..<200 {
            var bytes = Array("LOSSREC1".utf8)
            // A plausible record header half of the time, pure noise otherwise.
            if round % 2 == 0 {
                bytes += [UInt8](repeating: 0, count: 8) + [UInt8(round % 18), 0, 0, 0]
            }
            bytes += (0..<Int.random(in: 0..<300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random)
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let reader = try RecordingReader(path: path, limits: WireLimits(maxMessageBytes: 1 << 20))
            do {
                while try reader.next() != nil {}
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
    }
}
