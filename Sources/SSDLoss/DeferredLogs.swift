/// Negative losses of the form `addend ± log(argument)`, collected eight at a time so that their
/// logarithms are taken by ``vectorLog(_:)`` rather than one scalar call per box.
///
/// The passes reserve the negative's workspace slot when they meet the box and fill it at the
/// next flush. A pass flushes before it stores a negative computed directly, so the scheduled
/// slots are always consecutive and the results go out as two vector stores.
/// They decide whether a loss is zero before appending, from the argument and addend alone, so
/// `n_nonzero` never depends on the logarithm's rounding.
struct DeferredLogs: ~Copyable {
    private let arguments: UnsafeMutablePointer<Double>
    private let addends: UnsafeMutablePointer<Double>
    /// The slot of the first scheduled loss; the others follow it.
    private var first = 0
    private var count = 0
    /// Whether the loss is `addend - log(argument)` (probabilities) rather than `addend + log(argument)`.
    private let negate: Bool
    private let negativeLosses: UnsafeMutablePointer<Double>
    private let classLosses: UnsafeMutablePointer<Double>

    /// Collects losses for `workspace`; `negate` as for probabilities (`-log p`).
    init(workspace: LossWorkspace, negate: Bool) {
        arguments = .allocate(capacity: 8)
        addends = .allocate(capacity: 8)
        arguments.initialize(repeating: 1, count: 8)
        addends.initialize(repeating: 0, count: 8)
        self.negate = negate
        negativeLosses = workspace.negativeLosses
        classLosses = workspace.classLosses
    }

    deinit {
        arguments.deallocate()
        addends.deallocate()
    }

    /// Schedules `addend ± log(argument)` for workspace slot `slot`, the slot after the last
    /// scheduled one if any; `argument` is positive and normal.
    @inline(__always)
    mutating func append(_ argument: Double, plus addend: Double, slot: Int) {
        addends[count] = addend
        append(argument, slot: slot)
    }

    /// Schedules `-log(argument)` (or `+log`) with no addend: the probabilities' case, which
    /// never stores one (the addends stay 0).
    @inline(__always)
    mutating func append(_ argument: Double, slot: Int) {
        if count == 0 { first = slot }
        arguments[count] = argument
        count &+= 1
        if count == 8 { flush() }
    }

    /// Computes and stores every scheduled loss. The losses are those of negatives with
    /// `neg = t[0] = 1`, so `nl` and `cl` are the same value.
    @inline(__always)
    mutating func flush() {
        guard count > 0 else { return }
        // Unused lanes take log(1) = 0 and are not stored.
        for lane in count..<8 {
            arguments[lane] = 1
        }
        let logs = vectorLog(UnsafeRawPointer(arguments).loadUnaligned(as: SIMD8<Double>.self))
        let addend = UnsafeRawPointer(addends).loadUnaligned(as: SIMD8<Double>.self)
        let losses = negate ? addend - logs : addend + logs
        if count == 8 {
            UnsafeMutableRawPointer(negativeLosses + first).storeBytes(of: losses, as: SIMD8<Double>.self)
            UnsafeMutableRawPointer(classLosses + first).storeBytes(of: losses, as: SIMD8<Double>.self)
        } else {
            for lane in 0..<count {
                negativeLosses[first &+ lane] = losses[lane]
                classLosses[first &+ lane] = losses[lane]
            }
        }
        count = 0
    }
}
