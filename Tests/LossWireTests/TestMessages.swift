import LossWire
import SSDLoss

/// Builders of batch messages for tests.
enum TestMessages {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Zero-filled tensor frames of the right sizes for `header`.
    static func tensors(for header: BatchHeader) -> [[UInt8]] {
        header.tensors.map { [UInt8](repeating: 0, count: $0.byteCount ?? 0) }
    }

    /// A valid message for `header`.
    static func message(_ header: BatchHeader) -> WireMessage {
        WireMessage(copying: [header.jsonBytes()] + tensors(for: header))
    }

    /// A raw header text followed by zero frames of the given sizes.
    static func message(header json: String, frameSizes: [Int]) -> WireMessage {
        WireMessage(copying: [bytes(json)] + frameSizes.map { [UInt8](repeating: 0, count: $0) })
    }

    /// keras float32 frame size for B, N, C.
    static func keras32(_ batch: Int, _ boxes: Int, _ classes: Int) -> Int {
        batch * boxes * (classes + 12) * 4
    }
}
