import CLossKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Decides which logits negatives that a pass only estimated need their exact loss, because
/// mining can pick them (see ``LogitEstimate``); the C kernels' `lk_refine` computes them.
///
/// The keras pass stores, for an estimated negative, its box index, a lower bound of `G = expm1(nl)`
/// and a loss of −∞. Here, per mining scope (the batch, or each image), the k-th largest lower
/// bound `τ` of `G` over all the scope's negatives (exact ones enter as `expm1(nl)`) shows that
/// at least k of them have `G ≥ τ`. An estimated negative whose upper bound of `G` is below `τ`
/// therefore has a loss below the k-th largest, can never be mined, and keeps its −∞; every
/// other one gets its exact loss. In an SSD batch that is barely more than the k mined, so the
/// exact log-sum-exp is taken for a few percent of the boxes.
///
/// The compact layout hands over less: its pass leaves one float estimate per box instead of
/// three entries per negative, and `lk_refine_estimates` selects, gates and refines in one call
/// per scope, handing the miner only the negatives that it can pick (the same gate: the bound is
/// the estimate times a constant). Exact negatives enter that selection as 0, which can only
/// lower the gate.
enum LogitRefinement {
    /// Fills in `expm1(nl)` as the bound of every negative in `entries` whose loss is exact.
    static func boundExactEntries(workspace: LossWorkspace, entries: Range<Int>) {
        let negativeBoxes = workspace.negativeBoxes
        let bounds = workspace.bounds
        let negativeLosses = workspace.negativeLosses
        for entry in entries where negativeBoxes[entry] < 0 {
            bounds[entry] = expm1(negativeLosses[entry])
        }
    }

    /// The gate on lower bounds for a scope whose k-th largest lower bound of `G` is `kth`: the
    /// smallest ``LogitEstimate/lowerBound(_:)`` whose upper bound of `G` (the bound times
    /// `upperFactor / lowerFactor`) can reach `kth`, rounded generously; −∞ when every estimated
    /// negative can (`kth` is −∞, or not positive while every estimated `G` is).
    static func gate(kth: Double) -> Double {
        // The kernels' `lk_refinement_gate`, which the compact layout's refinement applies itself.
        lk_refinement_gate(kth)
    }
}
