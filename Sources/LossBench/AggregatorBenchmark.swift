import Foundation
import LossAggregator
import LossSynthesis
import LossWire
import SSDLoss

/// Times the aggregator's per-record work on one thread: decoding record lines and ingesting them
/// into an ``Aggregator`` (the lock included), as the daemon's receiver does.
///
/// The records are what sidecars send: loss records with `batch` per-item losses, for several
/// runs, splits and sources with increasing seqs and epochs, and one error record in a hundred.
/// Each repetition ingests every line into a fresh aggregator; decoding alone and ingesting
/// pre-decoded records alone are timed too, to show where the time goes.
public struct AggregatorBenchmark: Sendable {
    /// Record lines per repetition.
    public var records: Int
    /// Images per batch (the length of `per_item`).
    public var batch: Int
    /// Timed repetitions.
    public var repetitions: Int

    /// Creates a benchmark.
    public init(records: Int = 50_000, batch: Int = 32, repetitions: Int = 5) {
        self.records = max(1, records)
        self.batch = max(1, batch)
        self.repetitions = max(1, repetitions)
    }

    /// The measured figures.
    public struct Result: Sendable {
        /// Record lines per repetition.
        public var records: Int
        /// Images per batch.
        public var batch: Int
        /// Mean bytes per record line.
        public var bytesPerRecord: Double
        /// Times to decode and ingest every line.
        public var total: Timings
        /// Times to decode every line.
        public var decode: Timings
        /// Times to ingest every pre-decoded record.
        public var ingest: Timings

        /// Records per second through decode + ingest (median repetition).
        public var recordsPerSecond: Double { total.median > 0 ? Double(records) / total.median : .infinity }
        /// Nanoseconds per record, decode + ingest.
        public var nanosecondsPerRecord: Double { total.median * 1e9 / Double(records) }
        /// Nanoseconds per record decoding alone.
        public var decodeNanosecondsPerRecord: Double { decode.median * 1e9 / Double(records) }
        /// Nanoseconds per record ingesting alone.
        public var ingestNanosecondsPerRecord: Double { ingest.median * 1e9 / Double(records) }
    }

    /// Generates the lines and times them.
    ///
    /// - Throws: ``RecordDecodingError`` if a generated line does not decode (a bug, not a figure).
    public func run() throws -> Result {
        let lines = makeLines()
        let decoded = try lines.map { line throws(RecordDecodingError) in try ResultRecord(jsonLine: line) }
        var total = Timings()
        var decode = Timings()
        var ingest = Timings()
        var sink = 0
        for _ in 0..<repetitions {
            let aggregator = Aggregator(startTime: 0)
            total.measure {
                for (index, line) in lines.enumerated() {
                    line.withUnsafeBytes { bytes in
                        _ = aggregator.ingest(jsonLine: bytes, at: Double(index) * 1e-5)
                    }
                }
            }
            sink &+= aggregator.snapshot(at: 1).records
            decode.measure {
                for line in lines {
                    let record = line.withUnsafeBytes { try? ResultRecord(jsonLine: $0, decodingPerItem: false) }
                    if case .loss(let loss)? = record { sink &+= loss.negatives }
                }
            }
            let second = Aggregator(startTime: 0)
            ingest.measure {
                for (index, record) in decoded.enumerated() {
                    second.ingest(record, at: Double(index) * 1e-5)
                }
            }
            sink &+= second.snapshot(at: 1).records
        }
        withExtendedLifetime(sink) {}
        let bytes = lines.reduce(0) { $0 + $1.count }
        return Result(
            records: records, batch: batch, bytesPerRecord: Double(bytes) / Double(records),
            total: total, decode: decode, ingest: ingest)
    }

    /// Record lines as sidecars write them, deterministic.
    private func makeLines() -> [[UInt8]] {
        var generator = SplitMix64(seed: 42)
        let runs = ["resnet-ssd300", "vgg-ssd512", "mobilenet-ssd", "ablation-7"]
        let sources = (0..<8).map { "rank\($0)" }
        var nextSeq: [String: Int] = [:]
        var lines: [[UInt8]] = []
        lines.reserveCapacity(records)
        for index in 0..<records {
            let run = runs[index % runs.count]
            let source = sources[(index / runs.count) % sources.count]
            let split = index % 10 == 9 ? "val" : "train"
            let seq = nextSeq["\(run)/\(source)", default: 0]
            nextSeq["\(run)/\(source)"] = seq + 1
            let step = seq
            let epoch = seq / 500
            if index % 100 == 99 {
                let labels = BatchLabels(run: run, split: split, source: source, epoch: epoch, step: step, seq: seq)
                lines.append(
                    WireError(
                        code: .nonfinite, message: "the batch holds NaN or infinite values (y_pred has 3)",
                        labels: labels
                    ).jsonLine())
                continue
            }
            let perItem = (0..<batch).map { _ in 2 + 6 * generator.unit() }
            let loss = perItem.reduce(0, +) / Double(batch)
            let classification = loss * (0.6 + 0.1 * generator.unit())
            let positives = Double(8 + Int(generator.next() % 200))
            let record = LossRecord(
                run: run, split: split, source: source, epoch: epoch, step: step, seq: seq,
                shape: BatchShape(batch: batch, boxes: 8732, classes: 21), loss: loss,
                classification: classification, localization: loss - classification, perItem: perItem,
                positives: positives, negatives: 3 * Int(positives), negativesAvailable: 279_000,
                parameters: LossParameters(), computeMicros: 2100 + Int(generator.next() % 500),
                sidecar: "trainer-3:4121")
            lines.append(record.jsonLine())
        }
        return lines
    }
}
