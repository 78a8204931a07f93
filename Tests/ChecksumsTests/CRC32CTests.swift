import Checksums
import Testing

@Suite("CRC-32C")
struct CRC32CTests {
    /// The iSCSI "SCSI Read (10)" command PDU of RFC 3720, appendix B.4.
    static let readCommandPDU: [UInt8] = [
        0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
        0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]

    /// Published check values: the CRC catalogue's check of "123456789" and RFC 3720's test vectors.
    static let vectors: [(name: String, bytes: [UInt8], crc: UInt32)] = [
        ("empty", [], 0),
        ("123456789", Array("123456789".utf8), 0xE306_9283),
        ("32 zero bytes", [UInt8](repeating: 0, count: 32), 0x8A91_36AA),
        ("32 bytes of 0xFF", [UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ("32 ascending bytes", (0..<32).map { UInt8($0) }, 0x46DD_794E),
        ("32 descending bytes", (0..<32).reversed().map { UInt8($0) }, 0x113F_DB5C),
        ("iSCSI read command PDU", readCommandPDU, 0xD996_3A56),
    ]

    @Test(arguments: CRC32C.Implementation.allCases)
    func publishedCheckValues(implementation: CRC32C.Implementation) {
        for vector in Self.vectors {
            #expect(CRC32C.checksum(vector.bytes, implementation: implementation) == vector.crc, "\(vector.name)")
        }
    }

    @Test func theFastestImplementationUsesTheInstructionWhereTheCPUHasIt() {
        #if arch(x86_64) || arch(arm64)
        // Every x86-64 CPU since 2008 and every ARMv8.1 CPU has it; a nil here on such a machine
        // would mean the run-time check is broken.
        #expect(CRC32C.hardwareName != nil)
        #endif
        #expect(CRC32C.Implementation.distinct.contains(.portable))
    }

    /// A bit-at-a-time CRC-32C straight from the definition.
    static func reference(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        ~bytes.reduce(0xFFFF_FFFF, step)
    }

    /// The CRC register after one more byte, bit by bit.
    static func step(_ register: UInt32, _ byte: UInt8) -> UInt32 {
        var crc = register ^ UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    /// Random bytes from a fixed seed.
    static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }

    /// Every start alignment within a 64-byte line and every length up to a little past 768 (three
    /// short blocks: where the three-stream loop starts), against the definition.
    @Test(arguments: CRC32C.Implementation.allCases)
    func everyAlignmentAndLengthMatchesTheDefinition(implementation: CRC32C.Implementation) {
        let buffer = Self.randomBytes(64 + 800, seed: 3)
        buffer.withUnsafeBytes { all in
            for start in 0..<64 {
                // The definition's register, one byte further per length.
                var register: UInt32 = 0xFFFF_FFFF
                for length in 0...800 {
                    if length > 0 { register = Self.step(register, all[start + length - 1]) }
                    let bytes = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    let crc = CRC32C.checksum(bytes, implementation: implementation)
                    guard crc == ~register else {
                        Issue.record("start \(start), length \(length): \(crc) != \(~register)")
                        return
                    }
                }
            }
        }
    }

    /// Long buffers cross both block sizes of the three-stream loop (256 and 8192 bytes) at every
    /// alignment; the two implementations must agree byte for byte, and with the definition.
    @Test func hardwareAndPortableAgreeOnLongBuffersAtEveryAlignment() {
        let buffer = Self.randomBytes(3 * 3 * 8192 + 4096, seed: 5)
        let lengths = [
            767, 768, 769, 3 * 8192 - 1, 3 * 8192, 3 * 8192 + 1, 3 * 8192 + 768 + 9, 2 * 3 * 8192 + 7,
            3 * 3 * 8192 + 100,
        ]
        buffer.withUnsafeBytes { all in
            for start in 0..<64 {
                for length in lengths {
                    let bytes = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    let results = CRC32C.Implementation.allCases.map { CRC32C.checksum(bytes, implementation: $0) }
                    #expect(Set(results).count == 1, "start \(start), length \(length): \(results)")
                    if start % 16 == 0 {
                        #expect(results[0] == Self.reference(bytes), "start \(start), length \(length)")
                    }
                }
            }
        }
    }

    @Test(arguments: CRC32C.Implementation.allCases)
    func incrementalEqualsOneShotAtEverySplit(implementation: CRC32C.Implementation) {
        let bytes = Self.randomBytes(1000, seed: 7)
        let whole = CRC32C.checksum(bytes, implementation: implementation)
        for split in 0...bytes.count {
            var crc = CRC32C(implementation: implementation)
            crc.update(Array(bytes[..<split]))
            crc.update(Array(bytes[split...]))
            #expect(crc.value == whole)
        }
    }

    @Test func maskingFollowsTheTFRecordFormula() {
        for crc: UInt32 in [0, 1, 0x8000_0000, 0xFFFF_FFFF, 0xE306_9283] {
            let rotated = (crc >> 15) | (crc << 17)
            #expect(CRC32C.masked(crc) == rotated &+ 0xA282_EAD8)
            #expect(CRC32C.unmasked(CRC32C.masked(crc)) == crc)
        }
    }
}
