import CLossKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The machine code that runs the loss kernel's vectorized passes.
///
/// The passes are compiled twice: for the baseline instruction set, which every CPU runs, and for
/// AVX2 with FMA and F16C (x86-64 CPUs since about 2013), which does the same work with 256-bit
/// vectors, fused multiply-adds and hardware float16 conversion. Each process uses ``active``,
/// chosen once from what the CPU reports; `LOSSD_KERNEL=baseline` in the environment forces the
/// baseline (for comparisons, or to rule the fast path out when chasing a problem). Both paths
/// compute the same loss: the mined counts are identical and the values agree to about 10⁻⁷
/// relative (the fused multiply-adds round differently).
public enum KernelPath: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// AVX2 with FMA and F16C.
    case avx2
    /// The baseline instruction set: SSE2 on x86-64, the target's own elsewhere.
    case baseline

    /// The environment variable that chooses the path: `auto` (or unset) for the fastest the
    /// CPU supports, `baseline`, or `avx2`.
    public static let environmentVariable = "LOSSD_KERNEL"

    /// The path this process uses by default, and why.
    public static let selection: Selection = Selection(
        environment: getenv(environmentVariable).map { String(cString: $0) }, avx2Supported: lk_avx2_supported() != 0)

    /// The path this process uses by default (see ``selection``).
    public static var active: KernelPath { selection.path }

    /// The fastest path this CPU supports.
    public static var fastest: KernelPath { lk_avx2_supported() != 0 ? .avx2 : .baseline }

    /// Whether this CPU can run the path. A kernel asked for an unsupported path runs the baseline.
    public var isSupported: Bool { self == .baseline || lk_avx2_supported() != 0 }

    /// The path's name: `avx2` or `baseline`, as ``environmentVariable`` and `--path` take it.
    public var description: String { rawValue }

    /// A path and the reason it was chosen.
    public struct Selection: Sendable, Hashable, CustomStringConvertible {
        /// The chosen path.
        public var path: KernelPath
        /// Why, in a few words (for logs and `lossd bench`).
        public var reason: String

        /// Chooses from the value of ``KernelPath/environmentVariable`` (nil when unset) and
        /// whether the CPU supports AVX2, FMA and F16C.
        public init(environment: String?, avx2Supported: Bool) {
            let cpu = avx2Supported ? "the CPU has AVX2, FMA and F16C" : "the CPU lacks AVX2, FMA or F16C"
            let fastest: KernelPath = avx2Supported ? .avx2 : .baseline
            switch environment?.lowercased() {
            case nil, "", "auto":
                path = fastest
                reason = cpu
            case "baseline":
                path = .baseline
                reason = "\(KernelPath.environmentVariable)=baseline"
            case "avx2":
                path = fastest
                reason =
                    avx2Supported
                    ? "\(KernelPath.environmentVariable)=avx2" : "\(KernelPath.environmentVariable)=avx2, but \(cpu)"
            case let other?:
                path = fastest
                reason = "\(KernelPath.environmentVariable)=\(other) is not auto, baseline or avx2 (ignored); \(cpu)"
            }
        }

        /// The path and its reason, as a log line or `lossd bench` shows them.
        public var description: String { "\(path) (\(reason))" }
    }

    /// The C kernels' name for the path.
    var kernel: lk_path { self == .avx2 ? LK_PATH_AVX2 : LK_PATH_BASELINE }

    /// The path of the code that ran, as the C kernels report it.
    init(_ path: lk_path) {
        self = path == LK_PATH_AVX2 ? .avx2 : .baseline
    }
}
