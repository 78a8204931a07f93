import Foundation
import LossdTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A sidecar or an aggregator that lost records it had taken exits 2 after draining, its last
/// log line giving the counts: real processes whose outputs fail (a full device, a state file
/// whose folder is a file), stopped with SIGTERM.
@Suite("exit status after lost records", .timeLimit(.minutes(2)))
struct ExitStatusTests {
    /// The last non-empty line of `text`.
    private func lastLine(_ text: String) -> String {
        text.split(separator: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.map(String.init) ?? ""
    }

    /// Waits until `daemon`'s standard error holds `needle` at least `count` times.
    private func waitForLog(_ daemon: LossdDaemon, _ needle: String, count: Int) async throws {
        let deadline = Date().addingTimeInterval(30)
        while daemon.stderr.components(separatedBy: needle).count - 1 < count {
            guard daemon.process.isRunning, Date() < deadline else {
                Issue.record("no \(count)× '\(needle)' in the log:\n\(daemon.stderr)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The `records` figure of `/stats`.
    private func records(port: Int) async throws -> Int? {
        let body = try await HTTPGet.fetch(port: port, path: "/stats").body
        return (try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["records"] as? Int
    }

    @Test("a sidecar whose output file cannot be written exits 2 with output_failures on its last line")
    func sidecarOutputFailures() async throws {
        let folder = try TestEnvironment.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // Every write to /dev/full fails with ENOSPC, as on a full disk.
        let output = folder.appendingPathComponent("out.jsonl").path
        #expect(symlink("/dev/full", output) == 0)
        let input = "ipc://\(folder.path)/in.sock"
        let sidecar = try LossdDaemon(
            ["sidecar", "--input", "@" + input, "--output", output, "--workers", "1"], folder: folder, name: "sidecar")
        // Three messages that are not batches: each gets an error record, which cannot be written.
        try await TestEnvironment.push(Array(repeating: Array("not a batch".utf8), count: 3), to: input)
        try await waitForLog(sidecar, "cannot write a record", count: 3)
        #expect(try await sidecar.stop() == 2, "\(sidecar.stderr)")
        let last = lastLine(sidecar.stderr)
        #expect(last.contains("exiting with status 2"), "\(last)")
        #expect(last.contains("received=3 computed=0 rejected=0 output_failures=3 recording_failures=0"), "\(last)")
    }

    @Test("an aggregator whose state file cannot be saved exits 2 with the unsaved records on its last line")
    func aggregatorStateUnwritable() async throws {
        let folder = try TestEnvironment.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // The state file's folder is a regular file: no save can succeed, even as root.
        let blocker = folder.appendingPathComponent("not-a-folder")
        try Data("x".utf8).write(to: blocker)
        let http = try TestEnvironment.freePort()
        let input = "ipc://\(folder.path)/in.sock"
        let aggregator = try LossdDaemon(
            [
                "aggregate", "--input", "@ipc://\(folder.path)/link.sock", "--pull-input", "@" + input, "--http",
                "127.0.0.1:\(http)",
                "--state", blocker.appendingPathComponent("state.json").path,
            ], folder: folder)
        try await aggregator.waitForHTTP(port: http)
        let lines = (0..<3).map { AggregateCommandTests.line(seq: $0, batch: 2, loss: 1.0) }
        try await TestEnvironment.push(lines, to: input)
        let deadline = Date().addingTimeInterval(20)
        while try await records(port: http) != 3 {
            guard Date() < deadline else {
                Issue.record("the records never arrived:\n\(aggregator.stderr)")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await aggregator.stop() == 2, "\(aggregator.stderr)")
        let last = lastLine(aggregator.stderr)
        #expect(last.contains("exiting with status 2"), "\(last)")
        #expect(last.contains("records=3 ") && last.contains("unsaved=3 state_failures=1"), "\(last)")
        #expect(aggregator.stderr.contains("not-a-folder"), "the failed save names the path")
    }

    @Test("an aggregator whose snapshots cannot be appended exits 2 with snapshot_failures on its last line")
    func aggregatorSnapshotFailures() async throws {
        let folder = try TestEnvironment.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let snapshots = folder.appendingPathComponent("stats.jsonl").path
        #expect(symlink("/dev/full", snapshots) == 0)
        let http = try TestEnvironment.freePort()
        let aggregator = try LossdDaemon(
            [
                "aggregate", "--input", "@ipc://\(folder.path)/in.sock", "--http", "127.0.0.1:\(http)",
                "--snapshots", snapshots, "--snapshot-interval", "0.05",
            ], folder: folder)
        try await aggregator.waitForHTTP(port: http)
        try await waitForLog(aggregator, "cannot append to the snapshots file", count: 1)
        #expect(try await aggregator.stop() == 2, "\(aggregator.stderr)")
        let last = lastLine(aggregator.stderr)
        #expect(last.contains("exiting with status 2") && last.contains("snapshot_failures="), "\(last)")
        #expect(!last.contains("snapshot_failures=0"), "\(last)")
    }
}
