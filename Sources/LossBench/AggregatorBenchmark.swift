import Foundation
import LossAggregator
import LossSynthesis
import LossWire
import SSDLoss

/// Times the aggregator's per-record work on one thread, as the daemon's receiver does it for a
/// sidecar's record link (the default path): decoding the link's frames (`record`, link id, seq
/// and first), admitting the link seq, decoding the record line and ingesting it into an
/// ``Aggregator`` (the lock included). Socket I/O and the acks are not part of it; the state
/// saves the acks wait for run on the writer thread.
///
/// The records are what sidecars send: loss records with `batch` per-item losses, the sums
/// before the division and the per-batch diagnostics (20 classes of figures, as for C=21), for
/// several runs, splits and sources with increasing seqs and epochs, and one error record in a hundred.
/// Each repetition ingests every record into a fresh aggregator; the plain path of a PUSH producer
/// (a bare line, no link), decoding alone and ingesting pre-decoded records alone are timed too,
/// to show where the time goes.
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
        /// Times to take every record over a link: link frames, admission, decode and ingest.
        public var total: Timings
        /// Times to decode and ingest every bare line (a plain PUSH producer's path).
        public var plain: Timings
        /// Times to decode every line.
        public var decode: Timings
        /// Times to ingest every pre-decoded record.
        public var ingest: Timings

        /// Records per second over the link: frames, admission, decode, ingest (median repetition).
        public var recordsPerSecond: Double { total.median > 0 ? Double(records) / total.median : .infinity }
        /// Nanoseconds per record over the link.
        public var nanosecondsPerRecord: Double { total.median * 1e9 / Double(records) }
        /// Nanoseconds per bare line, decode + ingest.
        public var plainNanosecondsPerRecord: Double { plain.median * 1e9 / Double(records) }
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
        let messages = LinkMessages(lines: lines, links: 8)
        defer { messages.deallocate() }
        var total = Timings()
        var plain = Timings()
        var decode = Timings()
        var ingest = Timings()
        var sink = 0
        for _ in 0..<repetitions {
            let aggregator = Aggregator(startTime: 0)
            total.measure {
                for (index, frames) in messages.frames.enumerated() {
                    guard case .record(let link, let seq, let first)? = try? LinkMessage(frames: frames) else {
                        continue
                    }
                    _ = aggregator.ingest(
                        linkRecord: frames[3], link: link, seq: seq, first: first, at: Double(index) * 1e-5)
                }
            }
            sink &+= aggregator.snapshot(at: 1).records
            let bare = Aggregator(startTime: 0)
            plain.measure {
                for (index, line) in lines.enumerated() {
                    line.withUnsafeBytes { bytes in
                        _ = bare.ingest(jsonLine: bytes, at: Double(index) * 1e-5)
                    }
                }
            }
            sink &+= bare.snapshot(at: 1).records
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
            total: total, plain: plain, decode: decode, ingest: ingest)
    }

    /// The record link's messages of `lines` (without the ROUTER's routing id), as the receiver
    /// gets them: every frame in one arena, viewed in place as libzmq's frames are.
    private struct LinkMessages {
        let arena: UnsafeMutableRawBufferPointer
        let frames: [[UnsafeRawBufferPointer]]

        /// The lines spread over `links` links in turn, each link counting its seqs from 0.
        init(lines: [[UInt8]], links: Int) {
            let ids = (0..<links).map { String(format: "%016x", 0x5eed_0000 + $0) }
            var next = [UInt64](repeating: 0, count: links)
            let messages: [[[UInt8]]] = lines.enumerated().map { index, line in
                let link = index % links
                defer { next[link] += 1 }
                return LinkMessage.record(link: ids[link], seq: next[link], first: 0).frames + [line]
            }
            let size = messages.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
            let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, size), alignment: 64)
            var offset = 0
            var frames: [[UnsafeRawBufferPointer]] = []
            frames.reserveCapacity(messages.count)
            for message in messages {
                frames.append(
                    message.map { frame in
                        let view = UnsafeMutableRawBufferPointer(rebasing: arena[offset..<(offset + frame.count)])
                        frame.withUnsafeBytes { view.copyMemory(from: $0) }
                        offset += frame.count
                        return UnsafeRawBufferPointer(view)
                    })
            }
            self.arena = arena
            self.frames = frames
        }

        func deallocate() { arena.deallocate() }
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
            // Per-class figures as the kernel reports them: every class of C=21 but the
            // background, the batch's positives spread over them.
            let classes = (1..<21).map { index in
                BatchDiagnostics.ClassFigures(
                    classIndex: index, positives: Double(generator.next() % 90),
                    classificationSum: 200 * generator.unit())
            }
            let diagnostics = BatchDiagnostics(
                imagesWithoutPositives: Int(generator.next() % 3), maxPositiveShare: 0.01 * generator.unit(),
                classes: classes)
            let record = LossRecord(
                run: run, split: split, source: source, epoch: epoch, step: step, seq: seq,
                shape: BatchShape(batch: batch, boxes: 8732, classes: 21), loss: loss,
                classification: classification, localization: loss - classification, perItem: perItem,
                positives: positives, negatives: 3 * Int(positives), negativesAvailable: 279_000,
                sums: LossSums(
                    classification: classification * positives, localization: (loss - classification) * positives,
                    normalizer: positives),
                diagnostics: diagnostics, parameters: LossParameters(),
                computeMicros: 2100 + Int(generator.next() % 500),
                sidecar: "trainer-3:4121")
            lines.append(record.jsonLine())
        }
        return lines
    }
}
