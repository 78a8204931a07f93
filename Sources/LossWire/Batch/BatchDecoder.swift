public import SSDLoss

/// Validates protocol v1 batch messages against their headers, without copying the tensors.
public enum BatchDecoder {
    /// Decodes and validates one message.
    ///
    /// Checks, in order, stopping at the first failure:
    /// 1. the total size against ``WireLimits/maxMessageBytes`` (`too_large`), before reading anything;
    /// 2. the header frame: present, size, UTF-8, JSON object, version, dimensions, settings, labels
    ///    (see ``BatchHeader/init(parsing:limits:)-(UnsafeRawBufferPointer,_)``);
    /// 3. the frame count for the layout (`keras`: 3, `compact`: 5), counting every frame the
    ///    sender sent (``WireMessage/sentFrameCount``), and each tensor frame's exact byte size
    ///    (`bad_frames`), both from the layout table (``Layout/tensors(shape:dtype:)``);
    /// 4. the effective settings against the profile (`bad_header` for a setting its framework
    ///    has no knob for; see ``BatchHeader/parameters(defaults:)``).
    ///
    /// Every size is computed with overflow checks and nothing is allocated from sizes the header
    /// claims. The tensor values themselves (finiteness, class labels) are the kernel's to check.
    ///
    /// - Parameters:
    ///   - message: the received frames.
    ///   - defaults: the configured loss settings the header may override.
    ///   - limits: the size limits.
    /// - Returns: the header, effective settings and views of the tensors.
    /// - Throws: ``WireError`` carrying the labels read before the failure.
    public static func decode(
        _ message: WireMessage,
        defaults: LossParameters,
        limits: WireLimits = WireLimits()
    ) throws(WireError) -> DecodedBatch {
        guard message.totalBytes <= limits.maxMessageBytes else {
            throw WireError(
                code: .tooLarge,
                message: "the message has \(message.totalBytes) bytes, more than max_message_bytes "
                    + "(\(limits.maxMessageBytes)); send smaller batches or raise max_message_bytes")
        }
        guard let headerFrame = message.frames.first else {
            throw WireError(
                code: .badFrames,
                message: "the message has no frames; frame 0 must be the JSON header, then the tensors")
        }
        let header = try BatchHeader(parsing: headerFrame, limits: limits)
        let tensors = header.tensors
        let expectedCount = tensors.count + 1
        guard message.sentFrameCount == expectedCount, message.frames.count == expectedCount else {
            let names = (["header"] + tensors.map(\.name)).joined(separator: ", ")
            throw WireError(
                code: .badFrames,
                message: "the \(header.layout.rawValue) layout needs \(expectedCount) frames (\(names)); "
                    + "the message has \(message.sentFrameCount)",
                labels: header.labels)
        }
        for (index, tensor) in tensors.enumerated() {
            let actual = message.frames[index + 1].count
            // BatchHeader(parsing:) rejects shapes whose sizes overflow, so every size is known here.
            guard actual == tensor.byteCount else {
                let shape = header.shape
                throw WireError(
                    code: .badFrames,
                    message: "frame \(index + 1) (\(tensor.name)) has \(actual) bytes; the header's "
                        + "batch=\(shape.batch) boxes=\(shape.boxes) classes=\(shape.classes) "
                        + "\(header.layout.rawValue) \(tensor.elementType) needs \(tensor.byteCount ?? .max)",
                    labels: header.labels)
            }
        }
        return DecodedBatch(header: header, parameters: try header.parameters(defaults: defaults), message: message)
    }
}
