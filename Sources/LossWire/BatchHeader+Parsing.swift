import SSDLoss

extension BatchHeader {
    /// Parses and validates a header frame.
    ///
    /// Checks, in order: size (≤ ``WireLimits/maxHeaderBytes``), UTF-8, JSON, a JSON object, `v`
    /// (missing or not an integer → `bad_header`; not 1 → `unsupported_version`), `batch`, `boxes`,
    /// `classes`, `dtype`, `layout`, `scores`, `profile`, `loss`, the tensor sizes (overflow → `bad_header`),
    /// then the grouping labels (`bad_labels`). Every thrown error carries the labels that were valid.
    public init(parsing frame: UnsafeRawBufferPointer, limits: WireLimits = WireLimits()) throws(WireError) {
        guard !frame.isEmpty else {
            throw WireError(
                code: .badHeader,
                message: "the header frame (frame 0) is empty; it must hold a UTF-8 JSON object such as "
                    + #"{"v":1,"batch":8,"boxes":8732,"classes":21}"#)
        }
        guard frame.count <= limits.maxHeaderBytes else {
            throw WireError(
                code: .badHeader,
                message: "the header frame (frame 0) has \(frame.count) bytes, more than the "
                    + "\(limits.maxHeaderBytes) allowed; put tensors in frames 1 and later, not in the header")
        }
        guard String(validating: frame, as: UTF8.self) != nil else {
            throw WireError(
                code: .badHeader,
                message: "the header frame (frame 0) is not valid UTF-8; encode the JSON header as UTF-8 text")
        }
        let root: JSONValue
        do {
            root = try JSONValue(parsing: frame)
        } catch {
            throw WireError(code: .badHeader, message: "the header frame (frame 0) is not valid JSON: \(error)")
        }
        guard case .object(let object) = root else {
            throw WireError(
                code: .badHeader,
                message: "the header frame (frame 0) is \(root.typeDescription); it must be a JSON object")
        }
        var fields = HeaderFields(object, limits: limits)
        self = try fields.validate()
    }

    /// Parses a header from bytes; see ``init(parsing:limits:)-(UnsafeRawBufferPointer,_)``.
    public init(parsing bytes: [UInt8], limits: WireLimits = WireLimits()) throws(WireError) {
        let result: Result<BatchHeader, WireError> = bytes.withUnsafeBytes { raw in
            Result { () throws(WireError) -> BatchHeader in try BatchHeader(parsing: raw, limits: limits) }
        }
        self = try result.get()
    }
}

/// The validation of a header object, key by key, remembering the labels read so far.
private struct HeaderFields {
    let object: [String: JSONValue]
    let limits: WireLimits
    var labels = BatchLabels.none

    init(_ object: [String: JSONValue], limits: WireLimits) {
        self.object = object
        self.limits = limits
        // Read every label that is valid first, so any later error can carry them.
        labels.run = validLabel("run", default: "default")
        labels.split = validLabel("split", default: "train")
        labels.source = validLabel("source", default: "")
        labels.epoch = validCounter("epoch")
        labels.step = validCounter("step")
        labels.seq = validCounter("seq")
    }

    private func value(_ key: String) -> JSONValue? {
        switch object[key] {
        case .none, .null?: nil
        case let value?: value
        }
    }

    private func validLabel(_ key: String, default fallback: String) -> String? {
        guard let value = value(key) else { return fallback }
        guard case .string(let string) = value, string.utf8.count <= limits.maxLabelBytes else { return nil }
        return string
    }

    private func validCounter(_ key: String) -> Int? {
        guard case .int(let number)? = value(key), number >= 0 else { return nil }
        return number
    }

    private func fail(_ code: ErrorCode, _ message: String) -> WireError {
        WireError(code: code, message: message, labels: labels)
    }

    mutating func validate() throws(WireError) -> BatchHeader {
        guard let version = value("v") else {
            throw fail(.badHeader, #"the header has no "v"; add "v": 1 (protocol version 1)"#)
        }
        guard case .int(let number) = version else {
            throw fail(.badHeader, #"the header's "v" is \#(version.typeDescription); it must be the integer 1"#)
        }
        guard number == BatchHeader.version else {
            throw fail(
                .unsupportedVersion,
                "protocol version \(number) is not supported; this lossd speaks version 1, so send "
                    + #""v": 1 or upgrade lossd"#)
        }
        let shape = BatchShape(
            batch: try dimension("batch", minimum: 1, meaning: "the batch size B"),
            boxes: try dimension("boxes", minimum: 1, meaning: "the boxes per image N"),
            classes: try dimension("classes", minimum: 2, meaning: "the class count C, background included"))
        let dtype: ScalarType = try choice("dtype", default: .float32)
        let layout: Layout = try choice("layout", default: .keras)
        let scores: ScoreKind? = try optionalChoice("scores", in: object)
        let profile: LossProfile? = try optionalChoice("profile", in: object)
        let loss = try overrides()
        var header = BatchHeader(shape: shape, dtype: dtype, layout: layout, scores: scores, loss: loss, profile: profile)
        guard header.tensorFrames() != nil else {
            throw fail(
                .badHeader,
                "the header's batch=\(shape.batch) boxes=\(shape.boxes) classes=\(shape.classes) \(dtype.rawValue) "
                    + "describes tensors too large to address; check the dimensions")
        }
        header.run = try label("run", default: "default")
        header.split = try label("split", default: "train")
        header.source = try label("source", default: "")
        header.epoch = try counter("epoch")
        header.step = try counter("step")
        header.seq = try counter("seq")
        return header
    }

    private func dimension(_ key: String, minimum: Int, meaning: String) throws(WireError) -> Int {
        guard let value = value(key) else {
            throw fail(.badHeader, #"the header has no "\#(key)"; give \#(meaning) as an integer ≥ \#(minimum)"#)
        }
        guard case .int(let number) = value else {
            throw fail(
                .badHeader,
                #"the header's "\#(key)" is \#(value.typeDescription); \#(meaning) must be an integer ≥ \#(minimum)"#)
        }
        guard number >= minimum else {
            throw fail(.badHeader, #"the header's "\#(key)" is \#(number); \#(meaning) must be ≥ \#(minimum)"#)
        }
        return number
    }

    private func choice<Choice: RawRepresentable & CaseIterable>(
        _ key: String, default fallback: Choice
    ) throws(WireError) -> Choice where Choice.RawValue == String {
        try optionalChoice(key, in: object) ?? fallback
    }

    private func optionalChoice<Choice: RawRepresentable & CaseIterable>(
        _ key: String, in object: [String: JSONValue], context: String = "the header's"
    ) throws(WireError) -> Choice? where Choice.RawValue == String {
        guard let value = object[key], value != .null else { return nil }
        let allowed = Choice.allCases.map(\.rawValue).joined(separator: ", ")
        guard case .string(let string) = value, let choice = Choice(rawValue: string) else {
            let shown = value.stringValue.map { "\"\($0)\"" } ?? value.typeDescription
            throw fail(.badHeader, #"\#(context) "\#(key)" is \#(shown); use one of \#(allowed)"#)
        }
        return choice
    }

    private func overrides() throws(WireError) -> LossOverrides {
        guard let value = value("loss") else { return LossOverrides() }
        guard case .object(let loss) = value else {
            throw fail(
                .badHeader,
                #"the header's "loss" is \#(value.typeDescription); it must be an object of loss settings"#)
        }
        var overrides = LossOverrides()
        overrides.negPosRatio = try setting("neg_pos_ratio", in: loss)
        overrides.nNegMin = try setting("n_neg_min", in: loss)
        if let alpha = loss["alpha"], alpha != .null {
            guard let number = alpha.doubleValue, number.isFinite, number >= 0 else {
                let shown = alpha.doubleValue.map { "\($0)" } ?? alpha.typeDescription
                throw fail(.badHeader, #"the header's "loss.alpha" is \#(shown); it must be a finite number ≥ 0"#)
            }
            overrides.alpha = number
        }
        overrides.mining = try optionalChoice("mining", in: loss, context: "the header's loss")
        return overrides
    }

    private func setting(_ key: String, in loss: [String: JSONValue]) throws(WireError) -> Int? {
        guard let value = loss[key], value != .null else { return nil }
        guard case .int(let number) = value, number >= 0 else {
            let shown = value.intValue.map(String.init) ?? value.typeDescription
            throw fail(.badHeader, #"the header's "loss.\#(key)" is \#(shown); it must be an integer ≥ 0"#)
        }
        return number
    }

    private func label(_ key: String, default fallback: String) throws(WireError) -> String {
        guard let value = value(key) else { return fallback }
        guard case .string(let string) = value else {
            throw fail(.badLabels, #"the header's "\#(key)" is \#(value.typeDescription); it must be a string"#)
        }
        let length = string.utf8.count
        guard length <= limits.maxLabelBytes else {
            throw fail(
                .badLabels,
                #"the header's "\#(key)" has \#(length) bytes, more than the \#(limits.maxLabelBytes) allowed; "#
                    + "use a shorter name")
        }
        return string
    }

    private func counter(_ key: String) throws(WireError) -> Int? {
        guard let value = value(key) else { return nil }
        guard case .int(let number) = value, number >= 0 else {
            let shown = value.intValue.map(String.init) ?? value.typeDescription
            throw fail(.badLabels, #"the header's "\#(key)" is \#(shown); it must be an integer ≥ 0"#)
        }
        return number
    }
}
