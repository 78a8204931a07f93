import Foundation
import LossWire
import LossdTestSupport
import SSDLoss
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The dashboard as people see it: served by a real `lossd aggregate` over HTTP, and written by
/// `lossd report` from the state and snapshots files that process leaves behind.
@Suite("dashboard and lossd report", .timeLimit(.minutes(3)))
struct DashboardCommandTests {
    /// A falling loss for exp/train (steps, seqs with one gap, an error record) and one batch of a
    /// run whose name needs escaping.
    static func script() -> [[UInt8]] {
        var lines: [[UInt8]] = []
        for n in 0..<400 {
            let loss = 1.5 + 6 * exp(-Double(n) / 80)
            let seq = n < 200 ? n : n + 3
            lines.append(AggregateCommandTests.line(seq: seq, epoch: n / 100, batch: 4, loss: loss))
        }
        lines.append(
            WireError(
                code: .badFrames, message: "frames",
                labels: BatchLabels(run: "exp", split: "train", source: "rank0", seq: 500)
            ).jsonLine())
        lines.append(
            AggregateCommandTests.line(run: #"<script>&""#, split: "val", source: "eval", seq: nil, batch: 2, loss: 3))
        return lines
    }

    /// Polls `/stats` until `records` messages were read.
    private func waitForRecords(_ records: Int, port: Int) async throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let response = try await HTTPGet.fetch(port: port, path: "/stats")
            if let stats = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any],
                stats["records"] as? Int == records
            {
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the aggregator did not read \(records) records in time")
    }

    /// Checks a dashboard page: well-formed, one panel per (run, split), three charts each, the
    /// falling curve drawn, the hostile run name escaped.
    private func checkPage(_ text: String, origin: String, fromFirstBatch: Bool = true) throws {
        let html = try XMLTree(text).root
        let sections = html.elements("section")
        #expect(sections.compactMap { $0.attributes["data-run"] }.sorted() == [#"<script>&""#, "exp"], "\(origin)")
        #expect(html.elements("svg").count == 6, "\(origin)")
        #expect(!text.contains("<script"), "\(origin)")
        #expect(text.contains("&lt;script&gt;&amp;&quot;"), "\(origin)")
        let exp = try #require(sections.first { $0.attributes["data-run"] == "exp" })
        let loss = try ChartReader(try #require(exp.elements("svg").first))
        let ema = loss.values("EMA")
        #expect(ema.count >= 2, "\(origin)")
        if let first = ema.first, let last = ema.last {
            #expect(first.y > last.y + 0.5 && last.y < 2.5, "\(origin): the EMA falls from \(first.y) to \(last.y)")
            if fromFirstBatch { #expect(first.y > 5 && abs(first.x - 1) < 0.5, "\(origin)") }
            #expect(abs(last.x - 400) < 0.5, "\(origin)")
        }
        #expect(exp.all.contains { $0.hasClass("x-tick") } && exp.all.contains { $0.hasClass("y-tick") }, "\(origin)")
    }

    @Test(
        """
        GET / serves the dashboard of a live lossd aggregate; lossd report redraws it from its state and snapshots \
        files
        """
    )
    func servedAndReported() async throws {
        let folder = try TestEnvironment.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let http = try TestEnvironment.freePort()
        let input = "ipc://\(folder.path)/in.sock"
        let state = folder.appendingPathComponent("state.json").path
        let snapshots = folder.appendingPathComponent("stats.jsonl").path
        let daemon = try LossdDaemon(
            [
                "aggregate", "--input", "@ipc://\(folder.path)/link.sock", "--pull-input", "@" + input, "--http",
                "127.0.0.1:\(http)", "--state", state,
                "--snapshots", snapshots, "--snapshot-interval", "0.05", "--history-points", "100",
            ],
            folder: folder)
        try await daemon.waitForHTTP(port: http)
        let script = Self.script()
        // In three parts, so that the snapshots see the curve fall.
        for part in [script[..<150], script[150..<300], script[300...]] {
            try await TestEnvironment.push(Array(part), to: input)
            try await Task.sleep(for: .milliseconds(250))
        }
        try await waitForRecords(script.count, port: http)

        let page = try await HTTPGet.fetch(port: http, path: "/")
        #expect(page.status == 200)
        #expect(page.headers["content-type"]?.hasPrefix("text/html") == true, "\(page.headers)")
        try checkPage(page.body, origin: "GET /")
        #expect(page.body.contains(#"http-equiv="refresh" content="5""#))
        let still = try await HTTPGet.fetch(port: http, path: "/?refresh=0")
        #expect(!still.body.contains("http-equiv=\"refresh\""))
        #expect(try await daemon.stop() == 0)

        for (file, kind) in [(state, "state"), (snapshots, "snapshots")] {
            let output = folder.appendingPathComponent("\(kind).html").path
            let run = try LossdProcess.run(["report", file, "-o", output, "--title", "report <of> \(kind)"])
            #expect(run.status == 0, "\(kind): \(run.stderr)")
            #expect(run.stderr.contains("from the \(kind) file"), "\(run.stderr)")
            let text = try String(contentsOfFile: output, encoding: .utf8)
            try checkPage(text, origin: "lossd report \(kind)", fromFirstBatch: kind == "state")
            #expect(text.contains("report &lt;of&gt; \(kind)"))
            #expect(!text.contains("http-equiv=\"refresh\""))
        }
        // The state carries the per-batch range; a report of one run only.
        let only = folder.appendingPathComponent("only.html").path
        let filtered = try LossdProcess.run(["report", state, "-o", only, "--run", "exp"])
        #expect(filtered.status == 0, "\(filtered.stderr)")
        let onlyPage = try XMLTree(try String(contentsOfFile: only, encoding: .utf8)).root
        #expect(onlyPage.elements("section").count == 1)
        #expect(onlyPage.all.contains { $0.name == "path" && $0.hasClass("band") })
    }

    @Test("lossd report names what is wrong with an input that is neither kind, and teaches in --help")
    func badInput() throws {
        let folder = try TestEnvironment.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let garbage = folder.appendingPathComponent("notes.txt").path
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: garbage))
        let output = folder.appendingPathComponent("r.html").path
        let bad = try LossdProcess.run(["report", garbage, "-o", output])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("is not a lossd state file or snapshots file"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
        let missing = try LossdProcess.run(["report", folder.appendingPathComponent("nope.json").path, "-o", output])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot read"), "\(missing.stderr)")
        let help = try LossdProcess.run(["report", "--help"])
        #expect(help.status == 0)
        for phrase in ["--state", "--snapshots", "-o", "Examples:"] {
            #expect(help.stdout.contains(phrase), "\(phrase)")
        }
    }
}
