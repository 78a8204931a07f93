extension CRC32C {
    /// The constant TFRecord adds after rotating a CRC-32C.
    public static let maskDelta: UInt32 = 0xA282_EAD8

    /// `crc` as TFRecord files store it: rotated right by 15 bits, plus ``maskDelta`` (mod 2³²).
    ///
    /// TFRecord (TensorFlow's record files, which TensorBoard's event files are) masks every
    /// CRC-32C it stores, because a CRC computed over bytes that themselves contain CRCs is weak.
    /// A record is `length:u64le, masked(crc(length)):u32le, data, masked(crc(data)):u32le`.
    public static func masked(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ maskDelta
    }

    /// The masked CRC-32C of `bytes`: what a TFRecord file stores after them.
    public static func maskedChecksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        masked(checksum(bytes))
    }

    /// The masked CRC-32C of `bytes`: what a TFRecord file stores after them.
    public static func maskedChecksum(_ bytes: [UInt8]) -> UInt32 {
        masked(checksum(bytes))
    }

    /// The CRC-32C that `masked` was made from: the inverse of ``masked(_:)``.
    public static func unmasked(_ masked: UInt32) -> UInt32 {
        let rotated = masked &- maskDelta
        return (rotated >> 17) | (rotated << 15)
    }
}
