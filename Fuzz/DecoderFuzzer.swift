import LossWire
import SSDLoss

/// libFuzzer target: bytes → frames (``FuzzFraming``) → ``BatchProcessor/process(_:workspace:)``.
///
/// The processor must never crash, and its one record must hold together: a loss record's numbers
/// are finite and its `per_item` has B entries; an error record has a sentence; either one's JSON
/// line parses back as JSON. A violated check traps, which libFuzzer reports as a crash.
/// Built by `scripts/fuzz.sh` against the LossWire and SSDLoss modules, which hold the whole
/// per-batch path.

/// One processor and one workspace for the whole run, as a sidecar worker keeps them: state left
/// behind by one input must not break the next.
nonisolated(unsafe) private let workspace = LossWorkspace()
private let processor = BatchProcessor(limits: WireLimits(maxMessageBytes: 1 << 20), sidecarID: "fuzz")

/// libFuzzer's entry point: one input, always 0 (a failed check traps instead).
@_cdecl("LLVMFuzzerTestOneInput")
public func decoderFuzzerTestOneInput(_ data: UnsafeRawPointer?, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    let message = WireMessage(copying: FuzzFraming.frames(input))
    let record = processor.process(message, workspace: workspace)
    switch record {
    case .loss(let loss):
        precondition(loss.loss.isFinite && loss.classification.isFinite && loss.localization.isFinite)
        precondition(loss.perItem.count == loss.shape.batch)
        precondition(loss.negatives >= 0 && loss.negatives <= loss.negativesAvailable)
    case .error(let error):
        precondition(!error.message.isEmpty)
    }
    let line = record.jsonLine()
    guard (try? JSONValue(parsing: line)) != nil else {
        preconditionFailure("the record is not valid JSON: \(String(decoding: line, as: UTF8.self))")
    }
    return 0
}
