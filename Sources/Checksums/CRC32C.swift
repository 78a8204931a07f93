import CCRC32C

/// CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, initial and final XOR 0xFFFFFFFF), the
/// checksum of `.lossrec` version 2 recordings, TFRecord files, iSCSI (RFC 3720) and ext4.
///
/// Computed with the CPU's CRC instruction where it has one (SSE4.2 on x86-64, the CRC extension on
/// arm64; checked once, at the first use) and with a portable table-driven implementation
/// otherwise: the result is the same either way. Feed bytes with ``update(_:)-(UnsafeRawBufferPointer)``
/// in any number of pieces of any alignment; ``value`` is the checksum of everything fed so far.
/// The checksum of the ASCII bytes `123456789` is `0xE3069283`.
///
/// Safe to use from any thread: a value is a plain `UInt32` and the implementations share only
/// read-only tables.
public struct CRC32C: Sendable, Hashable {
    /// The code that computes a checksum.
    public enum Implementation: String, Sendable, Hashable, CaseIterable {
        /// The CPU instruction where this CPU has it, otherwise ``portable``: what every caller wants.
        case fastest
        /// Table lookups, eight bytes per step ("slicing-by-8"): runs on every CPU.
        case portable
        /// The CPU's CRC instruction in three interleaved streams. Where the CPU has no such
        /// instruction (``CRC32C/hardwareName`` is `nil`) this is the portable code.
        case hardware

        /// The implementations that actually run on this CPU: ``portable``, and ``hardware`` where
        /// the CPU has the instruction. Tests and benchmarks compare these.
        public static var distinct: [Implementation] {
            CRC32C.hardwareName == nil ? [.portable] : [.portable, .hardware]
        }
    }

    /// The checksum of the bytes fed so far (0 for none).
    public private(set) var value: UInt32 = 0
    /// The implementation this checksum runs.
    public let implementation: Implementation

    /// Creates a checksum of no bytes.
    public init(implementation: Implementation = .fastest) {
        self.implementation = implementation
    }

    /// The CPU instruction set that ``Implementation/fastest`` uses (`"sse4.2"` or `"armv8-crc"`),
    /// or `nil` when the portable code runs.
    public static var hardwareName: String? {
        lossd_crc32c_hardware_name().map { String(cString: $0) }
    }

    /// Feeds `bytes`.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        value = Self.extend(value, bytes, implementation: implementation)
    }

    /// Feeds `bytes` as an array.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, implementation: Implementation = .fastest) -> UInt32 {
        extend(0, bytes, implementation: implementation)
    }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: [UInt8], implementation: Implementation = .fastest) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, implementation: implementation) }
    }

    /// The checksum of the bytes that gave `crc`, followed by `bytes`.
    private static func extend(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer, implementation: Implementation) -> UInt32
    {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
        switch implementation {
        case .fastest: return lossd_crc32c(crc, base, bytes.count)
        case .portable: return lossd_crc32c_portable(crc, base, bytes.count)
        case .hardware:
            // The C function traps on a CPU without the instruction; this one never does.
            guard hardwareName != nil else { return lossd_crc32c_portable(crc, base, bytes.count) }
            return lossd_crc32c_hardware(crc, base, bytes.count)
        }
    }
}
