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
}
