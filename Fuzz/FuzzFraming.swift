/// The framing convention of the decoder fuzzer: how one fuzzer input becomes a message's frames.
///
/// An input is a sequence of frames, each a u32 little-endian byte length followed by that many
/// bytes: the format of the malformed corpus's `.frames` files (docs/TESTING.md), so those files
/// are seed inputs as they are. The split is lenient so that every input means something: a length
/// beyond the end takes what is left, a trailing piece shorter than a length field becomes a last
/// frame of its own, and at most ``maxFrames`` frames are made (the last one takes the rest).
enum FuzzFraming {
    /// More than a batch ever has (5) and more than a sidecar keeps (16).
    static let maxFrames = 20

    /// Splits `input` into frames.
    static func frames(_ input: UnsafeRawBufferPointer) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var offset = 0
        while offset < input.count {
            if frames.count == maxFrames - 1 || input.count - offset < 4 {
                frames.append(Array(input[offset...]))
                break
            }
            var length = 0
            for shift in 0..<4 { length |= Int(input[offset + shift]) << (8 * shift) }
            offset += 4
            let end = offset + min(length, input.count - offset)
            frames.append(Array(input[offset..<end]))
            offset = end
        }
        return frames
    }
}
