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
        self = try HeaderFields(object, limits: limits).validate()
    }

    /// Parses a header from bytes; see ``init(parsing:limits:)-(UnsafeRawBufferPointer,_)``.
    public init(parsing bytes: [UInt8], limits: WireLimits = WireLimits()) throws(WireError) {
        let result: Result<BatchHeader, WireError> = bytes.withUnsafeBytes { raw in
            Result { () throws(WireError) -> BatchHeader in try BatchHeader(parsing: raw, limits: limits) }
        }
        self = try result.get()
    }
}

/// The validation of a header object, key by key.
///
/// The grouping labels are read once, first: every error carries those that are valid, and the
/// first invalid one (in the order `run`, `split`, `source`, `epoch`, `step`, `seq`, `stream`,
/// `rank`, `world_size`) is reported as `bad_labels` once the rest of the header has passed.
private struct HeaderFields {
    let object: [String: JSONValue]
    let limits: WireLimits
    var labels = BatchLabels.none
    /// The first invalid label, reported after every other key has been checked.
    var labelProblem: String?

    init(_ object: [String: JSONValue], limits: WireLimits) {
        self.object = object
        self.limits = limits
        labels.run = label("run", default: "default")
        labels.split = label("split", default: "train")
        labels.source = label("source", default: "")
        labels.epoch = counter("epoch")
        labels.step = counter("step")
        labels.seq = counter("seq")
        labels.stream = stream()
        (labels.rank, labels.worldSize) = rankAndWorldSize()
    }

    private func value(_ key: String) -> JSONValue? {
        switch object[key] {
        case .none, .null?: nil
        case let value?: value
        }
    }

    /// A string label, its default when absent, or nil (and the problem noted) when invalid.
    private mutating func label(_ key: String, default fallback: String) -> String? {
        guard let value = value(key) else { return fallback }
        guard case .string(let string) = value else {
            note(#"the header's "\#(key)" is \#(value.typeDescription); it must be a string"#)
            return nil
        }
        let length = string.utf8.count
        guard length <= limits.maxLabelBytes else {
            note(
                #"the header's "\#(key)" has \#(length) bytes, more than the \#(limits.maxLabelBytes) allowed; "#
                    + "use a shorter name")
            return nil
        }
        return string
    }

    /// A counter label (an integer ≥ 0), nil when absent, or nil (and the problem noted) when invalid.
    private mutating func counter(_ key: String) -> Int? {
        guard let value = value(key) else { return nil }
        guard case .int(let number) = value, number >= 0 else {
            let shown = value.intValue.map(String.init) ?? value.typeDescription
            note(#"the header's "\#(key)" is \#(shown); it must be an integer ≥ 0"#)
            return nil
        }
        return number
    }

    /// `stream`: nil when absent; a non-empty string of at most `maxLabelBytes` bytes otherwise.
    private mutating func stream() -> String? {
        guard let value = value("stream") else { return nil }
        guard case .string(let string) = value, !string.isEmpty else {
            let shown = value.stringValue.map { _ in "an empty string" } ?? value.typeDescription
            note(
                #"the header's "stream" is \#(shown); it must be a non-empty string (the client draws a random "#
                    + "64-bit hex id per process)")
            return nil
        }
        let length = string.utf8.count
        guard length <= limits.maxLabelBytes else {
            note(
                #"the header's "stream" has \#(length) bytes, more than the \#(limits.maxLabelBytes) allowed; "#
                    + "use a shorter id")
            return nil
        }
        return string
    }

    /// `rank` and `world_size`: both absent, or both valid with `rank < world_size`. When they do
    /// not fit together, neither is kept (the error record then names no rank).
    private mutating func rankAndWorldSize() -> (Int?, Int?) {
        let rank = counter("rank")
        let worldSize = counter("world_size")
        let hasRank = value("rank") != nil
        let hasWorldSize = value("world_size") != nil
        guard hasRank || hasWorldSize else { return (nil, nil) }
        guard let rank, let worldSize else {
            if hasRank != hasWorldSize {
                let (given, missing) = hasRank ? ("rank", "world_size") : ("world_size", "rank")
                note(#"the header has "\#(given)" but no "\#(missing)"; give both or neither"#)
            }
            return (nil, nil)
        }
        guard worldSize >= 1 else {
            note(#"the header's "world_size" is 0; it must be the number of ranks of the job, at least 1"#)
            return (nil, nil)
        }
        guard rank < worldSize else {
            note(
                #"the header's "rank" is \#(rank) but "world_size" is \#(worldSize); ranks count 0 to "#
                    + "world_size - 1")
            return (nil, nil)
        }
        return (rank, worldSize)
    }

    private mutating func note(_ problem: String) {
        if labelProblem == nil { labelProblem = problem }
    }

    private func fail(_ code: ErrorCode, _ message: String) -> WireError {
        WireError(code: code, message: message, labels: labels)
    }

    func validate() throws(WireError) -> BatchHeader {
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
        let header = BatchHeader(
            shape: shape, dtype: dtype, layout: layout, scores: scores,
            run: labels.run ?? "", split: labels.split ?? "", source: labels.source ?? "",
            epoch: labels.epoch, step: labels.step, seq: labels.seq, stream: labels.stream, rank: labels.rank,
            worldSize: labels.worldSize, loss: loss, profile: profile)
        guard header.tensors.allSatisfy({ $0.byteCount != nil }) else {
            throw fail(
                .badHeader,
                "the header's batch=\(shape.batch) boxes=\(shape.boxes) classes=\(shape.classes) \(dtype.rawValue) "
                    + "describes tensors too large to address; check the dimensions")
        }
        if let labelProblem { throw fail(.badLabels, labelProblem) }
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
}
