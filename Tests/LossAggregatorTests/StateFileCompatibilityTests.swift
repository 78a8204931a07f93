import Foundation
import Testing

@testable import LossAggregator

/// A state file saved by lossd at commit 860d516, before the state was written with Codable,
/// loads with today's code to the figures that daemon reported at its shutdown
/// (Tests/Fixtures/state/README.md tells how the files were made).
@Suite("State files written by an earlier lossd")
struct StateFileCompatibilityTests {
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/state")

    /// The parameters the daemon ran with (`--window 50 --reorder-window 8 --history-points 64`).
    static let parameters = AggregationParameters(window: 50, reorderWindow: 8, historyPoints: 64)

    private func fixture(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: Self.folder.appendingPathComponent(name)))
    }

    private func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    /// Keys the snapshot gained after 860d516, with the value they must have for a state of that
    /// time (no streams, no steps, no divergence detected, no diagnostics; the new parameters at their defaults).
    static var addedSince: [String: Any] {
        [
            "stream": NSNull(), "streams": 0, "retired_streams": 0,
            "steps": [Any](), "last_complete_step": NSNull(),
            "step_counts": ["open": 0, "complete": 0, "partial": 0, "resumes": 0, "replaced": 0, "dropped": 0],
            "step_timeout": 60, "open_steps": 64, "step_history": 1000, "resume": "replace", "stream_idle": 3600,
            "max_streams": 4096, "divergence_factor": 10, "divergence_steps": 3,
            "divergence": [
                "diverging": false, "reason": NSNull(), "since": NSNull(), "minimum": NSNull(), "last": NSNull(),
                "above": 0, "episodes": 0,
            ] as [String: Any],
            "classes": [String: Any](), "nonfinite_values": [String: Any](),
            "diagnostics": [
                "batches": 0, "images_without_positives": 0, "last_max_positive_share": NSNull(),
                "window_batches": 0, "window_images_without_positives": 0, "window_max_positive_share": NSNull(),
                "dropped_classes": 0,
            ] as [String: Any],
        ]
    }

    /// Every difference between two parsed snapshots, rates and times left out (they are not
    /// saved), numbers compared to 1e-12 relative (the window's sums are recomputed on load). A key
    /// only `lhs` has must be one added since, with its value for an old state.
    private func differences(_ lhs: Any, _ rhs: Any, at path: String = "") -> [String] {
        switch (lhs, rhs) {
        case (let left as [String: Any], let right as [String: Any]):
            let ignored: Set<String> = ["time", "records_per_s", "batches_per_s"]
            let keys = Set(left.keys).union(right.keys).subtracting(ignored)
            return keys.sorted().flatMap { key -> [String] in
                if let l = left[key], right[key] == nil, let added = Self.addedSince[key] {
                    return differences(l, added, at: "\(path).\(key)")
                }
                guard let l = left[key], let r = right[key] else { return ["\(path).\(key) is missing on one side"] }
                return differences(l, r, at: "\(path).\(key)")
            }
        case (let left as [Any], let right as [Any]):
            guard left.count == right.count else { return ["\(path) has \(left.count) entries against \(right.count)"] }
            return zip(left, right).enumerated().flatMap { differences($1.0, $1.1, at: "\(path)[\($0)]") }
        case (is NSNull, is NSNull):
            return []
        case (let left as NSNumber, let right as NSNumber):
            let (l, r) = (left.doubleValue, right.doubleValue)
            return abs(l - r) <= 1e-12 * max(1, abs(l), abs(r)) ? [] : ["\(path): \(l) against \(r)"]
        case (let left as String, let right as String):
            return left == right ? [] : ["\(path): \(left) against \(right)"]
        default:
            return ["\(path): \(lhs) against \(rhs)"]
        }
    }

    @Test("the state loads to the figures of the daemon's last snapshot")
    func loadsToTheLastSnapshot() throws {
        let state = try fixture("state-860d516.json")
        let expected = try object(try fixture("stats-860d516.json"))
        let savedAt = try #require(try object(state)["saved_at"] as? Double)
        let aggregation = try Aggregation(stateJSON: state, parameters: Self.parameters)
        let loaded = try object(aggregation.snapshot(at: savedAt).jsonLine())
        #expect(differences(loaded, expected) == [])
        // The fixture is not trivial: lost, duplicated and non-finite batches, errors, history.
        #expect(loaded["records"] as? Int == 523 && loaded["invalid"] as? Int == 1)
        let sources = try #require(loaded["sources"] as? [[String: Any]])
        #expect(sources.map { $0["lost"] as? Int ?? -1 } == [5, 3, 0])
        #expect(aggregation.history(at: savedAt).map(\.points.count).reduce(0, +) > 100)
    }

    @Test("a state loaded from the old file saves and loads again to the same figures")
    func savesAgain() throws {
        let state = try fixture("state-860d516.json")
        let savedAt = try #require(try object(state)["saved_at"] as? Double)
        let loaded = try Aggregation(stateJSON: state, parameters: Self.parameters)
        let again = try Aggregation(stateJSON: loaded.stateJSON(savedAt: savedAt), parameters: Self.parameters)
        #expect(again.snapshot(at: savedAt).jsonLine() == loaded.snapshot(at: savedAt).jsonLine())
        #expect(again.stateJSON(savedAt: 1) == loaded.stateJSON(savedAt: 1))
        #expect(again.history(at: savedAt) == loaded.history(at: savedAt))
    }

    @Test("lossd report reads the old state file")
    func reportReadsIt() throws {
        let report = try DashboardReport.parse(try fixture("state-860d516.json"), path: "state-860d516.json")
        #expect(report.kind == .state)
        #expect(
            report.panels.map { "\($0.run)/\($0.split)" } == ["default/train", "exp/train", "exp/val", "other/train"])
    }
}
