/// What a (run, split) does when a rank starts a new stream at a step it has already recorded: a
/// job resumed from a checkpoint (`aggregate.resume`).
public enum ResumePolicy: String, Sendable, Hashable, CaseIterable, Codable {
    /// The new stream's records replace the rank's records from that step on, as TensorBoard
    /// purges the steps after a restart: a whole job that resumes rewrites its history, a rank
    /// that restarts alone rewrites only its own part of each step. The default.
    case replace
    /// The step history already recorded stays: the new stream's records of steps its rank has
    /// a record of are counted as dropped; later steps are recorded as usual.
    case keep
}
