import Foundation
import LossWire
import Testing

/// `lossd synth` and `lossd replay` as a user runs them: real processes, real files.
@Suite("lossd replay", .timeLimit(.minutes(2)))
struct ReplayCommandTests {
    /// Makes a small synthetic recording with `lossd synth`, in format `version`.
    private func synthesize(_ path: String, count: Int = 8, version: RecordingFormat.Version) throws {
        let result = try LossdProcess.run([
            "synth", "-o", path, "--count", "\(count)", "--batch", "3", "--boxes", "64", "--classes", "5",
            "--positives", "0.05", "--epoch-size", "4", "--recording-version", "\(version)",
        ])
        try #require(result.status == 0, "synth failed: \(result.stderr)")
        let magic = try #require(FileHandle(forReadingAtPath: path)?.readData(ofLength: 8))
        try #require(magic == Data(version.magic))
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

    @Test(
        "records come out in recording order with any number of workers, then a summary",
        arguments: RecordingFormat.Version.allCases)
    func orderAndSummary(version: RecordingFormat.Version) throws {
        let folder = try LossdProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let recording = folder.appendingPathComponent("run.lossrec").path
        try synthesize(recording, count: 12, version: version)

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

    @Test("--output writes JSON Lines to a file", arguments: RecordingFormat.Version.allCases)
    func outputFile(version: RecordingFormat.Version) throws {
        let folder = try LossdProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let recording = folder.appendingPathComponent("run.lossrec").path
        let output = folder.appendingPathComponent("out.jsonl").path
        try synthesize(recording, count: 3, version: version)
        let result = try LossdProcess.run(["replay", recording, "-o", output, "--quiet"])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines.last?.contains("\"kind\":\"summary\"") == true)
    }

    @Test(
        "a truncated recording: the good records, a summary, the file and offset on stderr, exit 2",
        arguments: RecordingFormat.Version.allCases)
    func truncatedFile(version: RecordingFormat.Version) throws {
        let folder = try LossdProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let recording = folder.appendingPathComponent("run.lossrec").path
        try synthesize(recording, count: 5, version: version)
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

    @Test(
        "malformed messages in a recording get error records; good ones around them are computed",
        arguments: RecordingFormat.Version.allCases)
    func malformedMessages(version: RecordingFormat.Version) throws {
        let folder = try LossdProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let recording = folder.appendingPathComponent("mixed.lossrec").path
        let writer = try RecordingWriter(path: recording, version: version)
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

    /// Verified on the workers, a damaged payload still ends the replay of its file exactly there:
    /// the records before it, none after, the offset and count on stderr, and the next file whole.
    @Test(
        "a damaged record: the records before it, none after, the next file whole, exit 2",
        arguments: RecordingFormat.Version.allCases)
    func damagedRecord(version: RecordingFormat.Version) throws {
        let folder = try LossdProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let damaged = folder.appendingPathComponent("damaged.lossrec").path
        let intact = folder.appendingPathComponent("intact.lossrec").path
        try synthesize(damaged, count: 10, version: version)
        try synthesize(intact, count: 2, version: version)
        // The start of record 6, from a reader; then a flipped byte inside its last tensor.
        let reader = try RecordingReader(path: damaged)
        for _ in 0..<6 { _ = try reader.next() }
        let start = reader.byteOffset
        let record = try #require(try reader.nextRecord())
        let handle = try #require(FileHandle(forUpdatingAtPath: damaged))
        try handle.seek(toOffset: start + record.byteCount - 100)
        try handle.write(contentsOf: [0xAB, 0xCD])
        try handle.close()

        let result = try LossdProcess.run(["replay", damaged, intact, "--workers", "2"])
        #expect(result.status == 2)
        let records = result.jsonLines.filter { $0["kind"] as? String == "loss" }
        #expect(records.map { $0["seq"] as? Int } == [0, 1, 2, 3, 4, 5, 0, 1])
        let summary = try #require(result.jsonLines.last)
        let files = try #require(summary["files"] as? [[String: Any]])
        #expect(files.map { $0["records"] as? Int } == [6, 2])
        #expect(files.first?["damaged_at"] as? Int == Int(start))
        #expect(result.stderr.contains("stopped at byte \(start) after 6 good records"))
    }

    /// The repository's root, from this file's path.
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Version 1 recordings made by lossd before version 2 (Tests/Fixtures/recordings-v1/README.md)
    /// replay to the records that lossd's own replay wrote then, field for field.
    @Test(
        "version 1 recordings made by an earlier lossd replay to the records it wrote",
        arguments: [
            ("Examples/sample.lossrec", "sample"), ("synth-keras-float32.lossrec", "synth-keras-float32"),
            ("synth-compact-float16.lossrec", "synth-compact-float16"), ("sidecar-mixed.lossrec", "sidecar-mixed"),
        ])
    func earlierRecordingsReplayToTheSameRecords(file: String, name: String) throws {
        let fixtures = Self.root.appendingPathComponent("Tests/Fixtures/recordings-v1")
        let recording =
            file.hasPrefix("Examples/") ? Self.root.appendingPathComponent(file) : fixtures.appendingPathComponent(file)
        let expected = try String(
            contentsOf: fixtures.appendingPathComponent("\(name).replay-860d516.jsonl"), encoding: .utf8
        ).split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        for workers in [1, 2] {
            let result = try LossdProcess.run(
                ["replay", recording.path, "--workers", "\(workers)", "--sidecar-id", "fixture:1"])
            #expect(result.status == 0, "\(result.stderr)")
            let replayed = result.jsonLines
            try #require(replayed.count == expected.count)
            for (new, old) in zip(replayed, expected) {
                #expect(Self.same(new, old), "\(Self.comparable(new)) != \(Self.comparable(old))")
                // The one field added since: the profile, keras when no header names one.
                if new["kind"] as? String == "loss" { #expect(new["profile"] as? String == "keras") }
            }
        }
    }

    /// Whether two records are the same but for what ``comparable(_:)`` leaves out and the last
    /// digits of the losses: the vectorized kernel (runtime-dispatched since these fixtures) may
    /// sum in another order, so a loss may differ by a few units in the 10th digit (5e-10 relative
    /// seen); counts, codes and sentences must be equal.
    private static func same(_ new: [String: Any], _ old: [String: Any]) -> Bool {
        func equal(_ a: Any, _ b: Any) -> Bool {
            switch (a, b) {
            case (let a as [String: Any], let b as [String: Any]):
                return a.keys.sorted() == b.keys.sorted() && a.keys.allSatisfy { equal(a[$0] as Any, b[$0] as Any) }
            case (let a as [Any], let b as [Any]):
                return a.count == b.count && zip(a, b).allSatisfy { equal($0, $1) }
            case (let a as String, let b as String):
                return a == b
            default:
                guard let x = number(a), let y = number(b) else {
                    return (a as? NSNull) != nil && (b as? NSNull) != nil
                }
                if x.rounded() == x && y.rounded() == y { return x == y }
                return abs(x - y) <= 1e-8 * max(abs(x), abs(y))
            }
        }
        func number(_ value: Any) -> Double? {
            switch value {
            case let value as Bool: value ? 1 : 0
            case let value as Int: Double(value)
            case let value as Double: value
            case let value as NSNumber: value.doubleValue
            default: nil
            }
        }
        func stripped(_ record: [String: Any]) -> Any {
            (try? JSONSerialization.jsonObject(with: Data(comparable(record).utf8))) ?? [:]
        }
        return equal(stripped(new), stripped(old))
    }

    /// A record as JSON text without what may differ between two runs of the same replay: the
    /// kernel's time, the files' paths in the summary, and fields added since the fixtures.
    private static func comparable(_ record: [String: Any]) -> String {
        var record = record
        record["compute_us"] = nil
        record["profile"] = nil
        // Keys loss records gained after the fixtures were written (the sums before the division,
        // for the steps across ranks); the other keys must still be equal.
        for key in ["classification_sum", "localization_sum", "normalizer", "diagnostics"] { record[key] = nil }
        // A non-finite batch's error record now names the places too: its counts (the sentence up to
        // the per-tensor counts, and `details.nonfinite`) must still be equal.
        if record["code"] as? String == "nonfinite", let sentence = record["error"] as? String,
            let end = sentence.firstIndex(of: ")")
        {
            record["error"] = String(sentence[...end])
            record["details"] = ["nonfinite": (record["details"] as? [String: Any])?["nonfinite"] as Any]
        }
        if var files = record["files"] as? [[String: Any]] {
            for index in files.indices { files[index]["path"] = nil }
            record["files"] = files
        }
        let data = (try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// The one way a replay differs from the live records of the same sidecar: a message of more
    /// than 16 frames is recorded as its first 16, so its error names 16 frames, not the 17 sent.
    @Test("the live records of the recording sidecar and its replay differ only in the 17-frame message")
    func liveAndReplayedRecords() throws {
        let fixtures = Self.root.appendingPathComponent("Tests/Fixtures/recordings-v1")
        func lines(_ name: String) throws -> [[String: Any]] {
            try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8).split(separator: "\n").map {
                try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
        }
        let live = try lines("sidecar-mixed.live-860d516.jsonl")
        let result = try LossdProcess.run([
            "replay", fixtures.appendingPathComponent("sidecar-mixed.lossrec").path, "--sidecar-id", "fixture:1",
        ])
        let replayed = result.jsonLines.dropLast()
        try #require(replayed.count == live.count)
        for (new, old) in zip(replayed, live) where old["seq"] as? Int != 6 {
            #expect(Self.same(new, old), "\(Self.comparable(new)) != \(Self.comparable(old))")
        }
        let cut = try #require(replayed.first { $0["seq"] as? Int == 6 })
        #expect(cut["code"] as? String == "bad_frames")
        #expect((cut["error"] as? String)?.contains("the message has 16") == true)
        #expect((live.first { $0["seq"] as? Int == 6 }?["error"] as? String)?.contains("has 17 frames") == true)
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
