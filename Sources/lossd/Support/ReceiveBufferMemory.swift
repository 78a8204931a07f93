#if canImport(Glibc)
import Glibc
#endif

/// Makes glibc keep the memory of freed receive buffers for the next message, so that large
/// batches do not fault in fresh pages one by one.
///
/// libzmq receives every frame into its own `malloc`ed buffer, freed once the worker is done with
/// the batch. glibc serves requests above its mmap threshold (which it raises dynamically, but
/// never above 32 MiB) with a fresh mapping and unmaps it on `free`: every 37 MB frame of an
/// SSD300 batch then costs 9,000 page faults and as many cleared pages, on the cores the transfer
/// needs, and the sidecar ran at less than half its speed (docs/PERFORMANCE.md, "Receive
/// buffers"). `mallopt` cannot raise the threshold past 32 MiB, but it can turn direct mappings
/// off altogether (`M_MMAP_MAX = 0`) and keep freed memory instead of trimming it
/// (`M_TRIM_THRESHOLD`), with one arena so that memory freed by a worker is reused by the
/// receiving thread: what `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=…` used to do from outside.
///
/// The process keeps the largest working set it has had (SPEC §7 bounds it by the queue, the
/// workers and the message size), as it did with the tunables. An explicit `GLIBC_TUNABLES`
/// with malloc settings wins, and `LOSSD_MALLOC=system` leaves glibc's defaults alone.
enum ReceiveBufferMemory {
    /// `LOSSD_MALLOC=system` keeps glibc's own defaults.
    static let environmentVariable = "LOSSD_MALLOC"

    /// What ``configure()`` did.
    enum Outcome: Equatable {
        /// The settings are in force.
        case configured
        /// `GLIBC_TUNABLES` sets malloc tunables, or `LOSSD_MALLOC=system`: left as they are.
        case leftToEnvironment
        /// Not glibc, or `mallopt` refused a setting.
        case unavailable
    }

    /// Applies the settings, once, before any thread allocates.
    @discardableResult
    static func configure() -> Outcome {
        #if canImport(Glibc)
        if let value = getenv(environmentVariable), String(cString: value) == "system" { return .leftToEnvironment }
        if let tunables = getenv("GLIBC_TUNABLES"), String(cString: tunables).contains("glibc.malloc.") {
            return .leftToEnvironment
        }
        // mallopt is declared in <malloc.h>, which Swift's Glibc module does not import.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(nil, "mallopt") else { return .unavailable }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        // <malloc.h>: M_TRIM_THRESHOLD -1, M_MMAP_MAX -4, M_ARENA_MAX -8; mallopt returns 1 on success.
        let settings: [(option: Int32, value: Int32)] = [(-4, 0), (-1, Int32.max), (-8, 1)]
        return settings.allSatisfy { mallopt($0.option, $0.value) == 1 } ? .configured : .unavailable
        #else
        return .unavailable
        #endif
    }
}
