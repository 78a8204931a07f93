import Foundation
import Testing

/// `lossd bench replay` and `lossd bench record` as a user runs them, on small batches: every
/// figure present and sane, and nothing left in the folder they wrote to.
@Suite("lossd bench replay and record", .timeLimit(.minutes(3)))
struct RecordingBenchCommandTests {
    private func files(in folder: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path)
    }

    @Test("bench replay --json: floors, each worker count's ratio and the speed-up", arguments: ["1", "2"])
    func replay(version: String) throws {
        let folder = try LossdProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try LossdProcess.run(
            [
                "bench", "replay", "--shape", "2,300,5", "--count", "4", "--repeat", "2", "--recording-version",
                version,
                "--directory", folder.path, "--json",
            ], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(result.jsonLines.first)
        #expect(object["part"] as? String == "replay")
        #expect(object["format_version"] as? Int == Int(version))
        #expect(object["batches"] as? Int == 4)
        #expect(object["repetitions"] as? Int == 2)
        for key in ["read_ms", "kernel_ms", "speedup"] {
            let value = try #require(object[key] as? Double, "\(key) missing")
            #expect(value.isFinite && value > 0, "\(key) = \(value)")
        }
        let replays = try #require(object["replays"] as? [[String: Any]])
        #expect(replays.map { $0["workers"] as? Int } == [1, 2])
        #expect(replays.allSatisfy { ($0["ratio"] as? Double).map { $0.isFinite && $0 > 0 } ?? false })
        #expect(try files(in: folder).isEmpty, "the generated recording was left behind")
    }

    @Test("bench record --json: the four runs and the ratio; every file removed", arguments: ["1", "2"])
    func record(version: String) throws {
        let folder = try LossdProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try LossdProcess.run(
            [
                "bench", "record", "--shape", "2,300,5", "--messages", "5", "--repeat", "1", "--workers", "2",
                "--recording-version", version, "--directory", folder.path, "--json",
            ], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(result.jsonLines.first)
        #expect(object["part"] as? String == "record")
        #expect(object["format_version"] as? Int == Int(version))
        for key in [
            "sidecar_batches_per_s", "recording_batches_per_s", "write_batches_per_s",
            "write_behind_batches_per_s", "ratio",
        ] {
            let value = try #require(object[key] as? Double, "\(key) missing")
            #expect(value.isFinite && value > 0, "\(key) = \(value)")
        }
        // The recording held every message, with its framing on top of the message bytes.
        let messageBytes = try #require(object["message_bytes"] as? Int)
        #expect((object["recording_bytes"] as? Int ?? 0) > 5 * messageBytes)
        #expect(try files(in: folder).isEmpty, "a recording or a floor's file was left behind")
    }
}
