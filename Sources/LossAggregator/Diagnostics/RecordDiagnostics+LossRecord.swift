import LossWire

extension RecordDiagnostics {
    /// The diagnostics of a loss record, nil when it carries none (a sidecar that predates them).
    init?(_ record: LossRecord) {
        return nil
    }
}
