import Foundation
import Testing

/// `lossd demo` as a newcomer runs it: it computes, aggregates, and ends with a summary that adds up.
@Suite("lossd demo", .timeLimit(.minutes(2)))
struct DemoCommandTests {
    @Test("a short demo: every batch sent is computed and aggregated, and the loss falls")
    func shortDemo() throws {
        let result = try LossdProcess.run(
            ["demo", "--seconds", "4", "--boxes", "500", "--interval-ms", "50", "--http", "127.0.0.1:0"], timeout: 90)
        #expect(result.status == 0, "\(result.stderr)")
        let out = result.stdout
        #expect(out.contains("dashboard: http://127.0.0.1:"))
        #expect(out.contains("summary after"))
        // "trainers sent N batches; the sidecar received N, computed N, rejected 0"
        let counts = try #require(
            out.firstMatch(
                of: /trainers sent (\d+) batches; the sidecar received (\d+), computed (\d+), rejected (\d+)/))
        let sent = try #require(Int(counts.1)), received = try #require(Int(counts.2))
        let computed = try #require(Int(counts.3)), rejected = try #require(Int(counts.4))
        #expect(sent > 4)
        #expect(received == sent)
        #expect(computed == sent)
        #expect(rejected == 0)
        let ingested = try #require(out.firstMatch(of: /the aggregator ingested (\d+) records/))
        #expect(Int(ingested.1) == computed)
        for run in ["demo-1/train", "demo-2/train"] {
            let line = try #require(out.split(separator: "\n").first { $0.hasPrefix("  \(run):") })
            let fell = try #require(line.firstMatch(of: /loss fell from ([0-9.]+) \(first mean\) to ([0-9.]+) \(ema\)/))
            #expect(try #require(Double(fell.2)) < #require(Double(fell.1)), "\(line)")
            #expect(line.contains("errors 0, lost 0"))
        }
    }
}
