import Foundation
import LossWire
import Testing

/// `lossd synth` and `lossd replay` as a user runs them: real processes, real files.
@Suite("lossd replay", .timeLimit(.minutes(2)))
struct ReplayCommandTests {
    /// Makes a small synthetic recording with `lossd synth`.
    private func synthesize(_ path: String, count: Int = 8, extra: [String] = []) throws {
        let result = try LossdProcess.run(
            [
                "synth", "-o", path, "--count", "\(count)", "--batch", "3", "--boxes", "64", "--classes", "5",
                "--positives", "0.05", "--epoch-size", "4",
            ] + extra)
        try #require(result.status == 0, "synth failed: \(result.stderr)")
    }

    /// The records of a replay without the fields that differ from run to run.
    private func stableRecords(_ lines: [[String: Any]]) -> [String] {
        lines.filter { $0["kind"] as? String != "summary" }.map { record in
            var record = record
            record["compute_us"] = nil
            return String(
                decoding: (try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])) ?? Data(),
                as: UTF8.self)
        }
    }

    @Test("records come out in recording order with any number of workers, then a summary")
    func orderAndSummary() throws {
        let folder = try LossdProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let recording = folder.appendingPathComponent("run.lossrec").path
        try synthesize(recording, count: 12)

        let one = try LossdProcess.run(["replay", recording, "--workers", "1", "--sidecar-id", "test"])
        let four = try LossdProcess.run(["replay", recording, "--workers", "4", "--sidecar-id", "test"])
        #expect(one.status == 0, "\(one.stderr)")
        #expect(four.status == 0, "\(four.stderr)")
        let records = one.jsonLines
        #expect(records.count == 13)
        #expect(records.dropLast().map { $0["seq"] as? Int } == (0..<12).map { $0 })
        #expect(stableRecords(one.jsonLines) == stableRecords(four.jsonLines))

        let summary = try #require(records.last)
        #expect(summary["kind"] as? String == "summary")
        #expect(summary["batches"] as? Int == 12)
        #expect(summary["computed"] as? Int == 12)
        #expect(summary["samples"] as? Int == 36)
        // The summary's loss is the batch-size-weighted mean of the records' losses.
        let losses = records.dropLast().compactMap { $0["loss"] as? Double }
        let mean = losses.reduce(0, +) / Double(losses.count)
        let reported = try #require(summary["loss"] as? Double)
        #expect(abs(reported - mean) <= 1e-12 * max(1, abs(mean)))
        // Synthetic predictions improve with the step: the loss falls over the recording.
        #expect(losses[0] > losses[11])
    }

    @Test("--output writes JSON Lines to a file")
    func outputFile() throws {
        let folder = try LossdProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let recording = folder.appendingPathComponent("run.lossrec").path
        let output = folder.appendingPathComponent("out.jsonl").path
        try synthesize(recording, count: 3)
        let result = try LossdProcess.run(["replay", recording, "-o", output, "--quiet"])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines.last?.contains("\"kind\":\"summary\"") == true)
    }

    @Test("a truncated recording: the good records, a summary, the file and offset on stderr, exit 2")
    func truncatedFile() throws {
        let folder = try LossdProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let recording = folder.appendingPathComponent("run.lossrec").path
        try synthesize(recording, count: 5)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: recording)[.size] as? Int)
        let handle = try #require(FileHandle(forWritingAtPath: recording))
        try handle.truncate(atOffset: UInt64(size - 10))
        try handle.close()

        let result = try LossdProcess.run(["replay", recording])
        #expect(result.status == 2)
        let records = result.jsonLines
        #expect(records.filter { $0["kind"] as? String == "loss" }.count == 4)
        let summary = try #require(records.last)
        #expect(summary["batches"] as? Int == 4)
        let files = try #require(summary["files"] as? [[String: Any]])
        #expect(files.first?["complete"] as? Bool == false)
        #expect(result.stderr.contains(recording))
        #expect(result.stderr.contains("after 4 good records"))
        let offset = try #require(files.first?["damaged_at"] as? Int)
        #expect(result.stderr.contains("byte \(offset)"))
        #expect(offset > 8 && offset < size)
    }

    @Test("malformed messages in a recording get error records; good ones around them are computed")
    func malformedMessages() throws {
        let folder = try LossdProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let recording = folder.appendingPathComponent("mixed.lossrec").path
        let writer = try RecordingWriter(path: recording)
        let header = #"{"v":1,"batch":1,"boxes":2,"classes":2,"seq":SEQ}"#
        // A valid keras batch: two boxes, C = 2, width 14: one positive, one negative.
        var truth = [Float](repeating: 0, count: 28), prediction = [Float](repeating: 0.5, count: 28)
        truth[1] = 1
        truth[14] = 1
        let good: [[UInt8]] = [
            Array(header.replacingOccurrences(of: "SEQ", with: "0").utf8), bytes(truth), bytes(prediction),
        ]
        var withNaN = prediction
        withNaN[15] = .nan
        let messages: [[[UInt8]]] = [
            good,
            [Array("{not json".utf8), bytes(truth), bytes(prediction)],
            [Array(#"{"v":2,"batch":1,"boxes":2,"classes":2}"#.utf8)],
            [Array(header.replacingOccurrences(of: "SEQ", with: "3").utf8), bytes(truth)],
            [Array(header.replacingOccurrences(of: "SEQ", with: "4").utf8), bytes(truth), bytes(withNaN)],
            good,
        ]
        for message in messages { try writer.append(WireMessage(copying: message)) }
        try writer.close()

        let result = try LossdProcess.run(["replay", recording, "--workers", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        let records = result.jsonLines
        #expect(
            records.map { $0["kind"] as? String } == ["loss", "error", "error", "error", "error", "loss", "summary"])
        #expect(
            records[1...4].map { $0["code"] as? String } == [
                "bad_header", "unsupported_version", "bad_frames", "nonfinite",
            ])
        #expect(records[3]["seq"] as? Int == 3)
        #expect(records[0]["loss"] as? Double == records[5]["loss"] as? Double)
        let summary = try #require(records.last)
        let errors = try #require(summary["errors"] as? [String: Int])
        #expect(errors == ["bad_header": 1, "unsupported_version": 1, "bad_frames": 1, "nonfinite": 1])
    }

    @Test(
        "usage errors exit 64",
        arguments: [
            [],
            ["/nonexistent/file.lossrec"],
            ["Examples/sample.lossrec", "--output", "out.txt"],
            ["Examples/sample.lossrec", "--workers", "0"],
            ["Examples/sample.lossrec", "--alpha", "-1"],
            ["Examples/sample.lossrec", "--mining", "sometimes"],
        ])
    func usageErrors(arguments: [String]) throws {
        let result = try LossdProcess.run(["replay"] + arguments)
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(!result.stderr.isEmpty)
    }

    @Test("a file that is not a recording is reported, exit 2")
    func notARecording() throws {
        let folder = try LossdProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("notes.lossrec").path
        try Data("hello, world".utf8).write(to: URL(fileURLWithPath: path))
        let result = try LossdProcess.run(["replay", path])
        #expect(result.status == 2)
        #expect(result.stderr.contains(path))
        #expect(result.jsonLines.last?["batches"] as? Int == 0)
    }
}

/// The little-endian bytes of float32 values.
private func bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
}
