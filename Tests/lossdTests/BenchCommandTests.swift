import Foundation
import Testing

/// `lossd bench kernel` as a user runs it: the JSON fields the issue asks for, with a cold cache.
@Suite("lossd bench kernel")
struct BenchCommandTests {
    @Test("--json prints the kernel's figures; --cold says so", arguments: ["probabilities", "logits"])
    func kernelJSON(_ scores: String) throws {
        let result = try LossdProcess.run(
            ["bench", "kernel", "--shape", "2,600,21", "--scores", scores, "--repeat", "3", "--cold", "--json"],
            timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(result.jsonLines.first)
        #expect(object["part"] as? String == "kernel")
        #expect(object["scores"] as? String == scores)
        #expect(object["boxes"] as? Int == 600 && object["batch"] as? Int == 2 && object["classes"] as? Int == 21)
        for key in ["ms_per_batch", "floor_ms", "ratio", "ns_per_box", "loss"] {
            let value = try #require(object[key] as? Double, "\(key) missing")
            #expect(value.isFinite && value > 0, "\(key) = \(value)")
        }
        #expect(object["cold_cache"] as? Bool == true)
        #expect(object["repetitions"] as? Int == 3)
    }

    @Test(
        "--matrix times every combination on the path asked for, each with its target and verdict",
        arguments: ["auto", "baseline"])
    func matrixJSON(_ path: String) throws {
        let result = try LossdProcess.run(
            ["bench", "kernel", "--matrix", "--shape", "2,300,9", "--repeat", "1", "--path", path, "--json"],
            timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        let rows = result.jsonLines
        #expect(rows.count == 32)
        var combinations = Set<String>()
        for row in rows {
            let key = ["layout", "dtype", "scores", "mining"].compactMap { row[$0] as? String }.joined(separator: "/")
            combinations.insert(key)
            let target = try #require(row["target"] as? Double)
            let ratio = try #require(row["ratio"] as? Double)
            #expect(row["met"] as? Bool == (ratio <= target), "\(key)")
            #expect(target == (key.hasPrefix("keras/float32/probabilities") ? 1.15 : 2.5), "\(key)")
            if path == "baseline" { #expect(row["path"] as? String == "baseline") }
            #expect(["avx2", "baseline"].contains(row["path"] as? String ?? ""))
        }
        #expect(combinations.count == 32)
    }

    @Test("--matrix --markdown prints a row per combination")
    func matrixMarkdown() throws {
        let result = try LossdProcess.run(
            ["bench", "kernel", "--matrix", "--shape", "1,200,5", "--repeat", "1", "--markdown"], timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").filter { $0.hasPrefix("| ") }
        #expect(lines.count == 34)  // the header, its rule, 32 rows
        #expect(lines.first?.hasPrefix("| layout | dtype | scores | mining |") == true)
    }

    @Test("--against-tunables times sidecar processes side by side, each variant against the default")
    func sidecarProcesses() throws {
        let result = try LossdProcess.run(
            [
                "bench", "pipeline", "--against-tunables", "--shape", "1,300,5", "--messages", "3", "--repeat", "1",
                "--transport", "ipc", "--variant", "glibc=LOSSD_MALLOC=system", "--json",
            ], timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(result.jsonLines.first)
        #expect(object["part"] as? String == "sidecar_processes")
        let variants = try #require(object["variants"] as? [[String: Any]])
        #expect(variants.map { $0["label"] as? String } == ["default", "GLIBC_TUNABLES", "glibc"])
        for variant in variants {
            let rate = try #require(variant["batches_per_s"] as? Double)
            #expect(rate.isFinite && rate > 0)
        }
        #expect(variants[0]["relative_to_default"] as? Double == 1)
    }
}
