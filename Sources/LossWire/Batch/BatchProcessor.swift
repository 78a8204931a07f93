public import SSDLoss

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns one batch message into exactly one result record: a loss record or an error record.
///
/// This is the whole of lossd's per-batch work, shared by `replay`, the sidecar and the
/// benchmarks: decode and validate the header and frames (``BatchDecoder``), compute the loss in
/// place over the message's bytes (``MultiBoxLoss``), and describe the outcome. It never throws
/// and never traps on bad input: every failure becomes an error record (``WireError``) a person can act on.
public struct BatchProcessor: Sendable {
    /// The loss settings used where a header does not override them.
    public var defaults: LossParameters
    /// The size limits every message is checked against before anything is allocated.
    public var limits: WireLimits
    /// The identifier written into every loss record's `sidecar` field.
    public var sidecarID: String

    /// Creates a processor.
    public init(
        defaults: LossParameters = .init(), limits: WireLimits = .init(),
        sidecarID: String = BatchProcessor.defaultSidecarID
    ) {
        self.defaults = defaults
        self.limits = limits
        self.sidecarID = sidecarID
    }

    /// `host:pid`, the default identity of this process in loss records.
    public static var defaultSidecarID: String {
        var name = [CChar](repeating: 0, count: 256)
        let host =
            gethostname(&name, name.count - 1) == 0
            ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "localhost"
        return "\(host):\(getpid())"
    }

    /// Processes one message with a scratch workspace owned by the calling thread.
    public func process(_ message: WireMessage, workspace: LossWorkspace) -> ResultRecord {
        let started = ContinuousClock.now
        let batch: DecodedBatch
        do {
            batch = try BatchDecoder.decode(message, defaults: defaults, limits: limits)
        } catch {
            return .error(error)
        }
        let result: LossResult
        do {
            let kernel = MultiBoxLoss(parameters: batch.parameters)
            result = try batch.withInput { input throws(LossError) in
                try kernel.compute(input, shape: batch.shape, dtype: batch.dtype, workspace: workspace)
            }
        } catch {
            return .error(WireError(error, labels: batch.labels))
        }
        let elapsed = started.duration(to: .now)
        guard result.loss.isFinite, result.classification.isFinite, result.localization.isFinite else {
            return .error(.nonfiniteResult(labels: batch.labels))
        }
        let micros = Int(elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000)
        return .loss(
            LossRecord(
                header: batch.header, parameters: batch.parameters, result: result, computeMicros: micros,
                sidecar: sidecarID))
    }
}
