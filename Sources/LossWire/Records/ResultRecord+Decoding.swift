import SSDLoss

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ResultRecord {
    /// Decodes a record from one JSON line (a trailing newline is allowed).
    ///
    /// Built for the aggregator's rate: the line is walked once, without building a JSON tree.
    /// `null` where a number is expected decodes as NaN (the writer's spelling of a non-finite
    /// number). Unknown keys are ignored, and a repeated key keeps its last value; `run`, `split`,
    /// `source` take the protocol defaults and `params`, `compute_us`, `sidecar` lossd's defaults when absent.
    /// - Throws: ``RecordDecodingError`` when the line is not JSON, not a v1 record, or lacks a field.
    public init(jsonLine bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) {
        try self.init(jsonLine: bytes, decodingPerItem: true)
    }

    /// Decodes a record from one JSON line, optionally leaving `per_item` undecoded.
    ///
    /// With `decodingPerItem` false, `per_item` is still checked to be an array of numbers (or
    /// `null`s), but its values are not converted and the record's ``LossRecord/perItem`` is empty.
    /// Converting B decimal numbers is most of the cost of a record; readers that never look at
    /// the per-image losses, such as the aggregator, skip it.
    public init(jsonLine bytes: UnsafeRawBufferPointer, decodingPerItem: Bool) throws(RecordDecodingError) {
        // A loss record as lossd writes it takes the fast path; anything else, the general one.
        if let record = RecordScanner.record(bytes, decodingPerItem: decodingPerItem) {
            self = .loss(record)
            return
        }
        try self.init(generalJSONLine: bytes, decodingPerItem: decodingPerItem)
    }

    /// Decodes a record with the general decoder alone: every line ``RecordScanner`` leaves to
    /// it, and the reference the fast path is tested against.
    init(generalJSONLine bytes: UnsafeRawBufferPointer, decodingPerItem: Bool) throws(RecordDecodingError) {
        var fields = RecordFields(decodesPerItem: decodingPerItem)
        do {
            var parser = JSONParser(bytes)
            guard parser.peek() == UInt8(ascii: "{") else {
                let value = try parser.value()
                throw RecordDecodingError("the line is \(value.typeDescription), not a record object")
            }
            try fields.read(&parser)
            try parser.finish()
        } catch let error as JSONParseError {
            throw RecordDecodingError("the line is not valid JSON: \(error)")
        } catch let error as RecordDecodingError {
            throw error
        } catch {
            throw RecordDecodingError("\(error)")
        }
        self = try fields.record()
    }

    /// Decodes a record from one JSON line; see ``init(jsonLine:)-(UnsafeRawBufferPointer)``.
    public init(jsonLine bytes: [UInt8]) throws(RecordDecodingError) {
        let result: Result<ResultRecord, RecordDecodingError> = bytes.withUnsafeBytes { raw in
            Result { () throws(RecordDecodingError) -> ResultRecord in try ResultRecord(jsonLine: raw) }
        }
        self = try result.get()
    }
}

/// The members of a record line, gathered in one pass in whatever order they come.
private struct RecordFields {
    /// Whether `per_item`'s numbers are converted, or only checked.
    let decodesPerItem: Bool
    var values = KnownMembers()
    var perItem: [Double]?
    var perItemIsValid = true
    /// `diagnostics` when it was an object, read member by member (``DiagnosticsFields``).
    var diagnosticsFields: DiagnosticsFields?
    /// `params` when it was an object, read member by member (``ParameterFields``).
    var paramsFields: ParameterFields?

    mutating func read(_ parser: inout JSONParser) throws(JSONParseError) {
        try parser.begin(UInt8(ascii: "{"))
        var isFirst = true
        while let slot = try parser.nextKey(isFirst: isFirst, KnownMembers.slot(of:)) {
            isFirst = false
            if slot == KnownMembers.perItemSlot, parser.peek() == UInt8(ascii: "[") {
                perItem = decodesPerItem ? try readNumbers(&parser) : try skipNumbers(&parser)
            } else if slot == KnownMembers.diagnosticsSlot, parser.peek() == UInt8(ascii: "{") {
                var fields = DiagnosticsFields()
                try fields.read(&parser)
                diagnosticsFields = fields
                values[slot: KnownMembers.diagnosticsSlot] = nil
            } else if slot == KnownMembers.paramsSlot, parser.peek() == UInt8(ascii: "{") {
                var fields = ParameterFields()
                try fields.read(&parser)
                paramsFields = fields
                values[slot: KnownMembers.paramsSlot] = nil
            } else {
                if slot == KnownMembers.diagnosticsSlot { diagnosticsFields = nil }
                if slot == KnownMembers.paramsSlot { paramsFields = nil }
                let value = try parser.value()
                if let slot { values[slot: slot] = value }
            }
        }
    }

    /// An array of numbers, `null` read as NaN, without boxing each element.
    private mutating func readNumbers(_ parser: inout JSONParser) throws(JSONParseError) -> [Double] {
        try parser.begin(UInt8(ascii: "["))
        var numbers: [Double] = []
        var isFirst = true
        while try parser.nextElement(isFirst: isFirst) {
            isFirst = false
            switch try parser.value() {
            case .double(let number): numbers.append(number)
            case .int(let number): numbers.append(Double(number))
            case .null: numbers.append(.nan)
            default: perItemIsValid = false
            }
        }
        return numbers
    }

    /// An array of numbers or nulls, checked but not converted: returns an empty array.
    private mutating func skipNumbers(_ parser: inout JSONParser) throws(JSONParseError) -> [Double] {
        try parser.begin(UInt8(ascii: "["))
        var isFirst = true
        while try parser.nextElement(isFirst: isFirst) {
            isFirst = false
            if try parser.skipNumber() { continue }
            if case .null = try parser.value() { continue }
            perItemIsValid = false
        }
        return []
    }

    func record() throws(RecordDecodingError) -> ResultRecord {
        guard let version = values["v"] else { throw RecordDecodingError(#"the record has no "v""#) }
        guard version == .int(1) else {
            let shown = version.intValue.map(String.init) ?? version.typeDescription
            throw RecordDecodingError(#"the record's "v" is \#(shown); only version 1 is understood"#)
        }
        switch try string("kind") {
        case "loss": return .loss(try lossRecord())
        case "error": return .error(try errorRecord())
        case let kind: throw RecordDecodingError(#"the record's "kind" is "\#(kind)"; expected "loss" or "error""#)
        }
    }

    private func mismatch(_ key: String, _ type: String) -> RecordDecodingError {
        RecordMember.mismatch(values[key], key, type)
    }

    private func string(_ key: String) throws(RecordDecodingError) -> String {
        guard case .string(let value)? = values[key] else { throw mismatch(key, "a string") }
        return value
    }

    private func optionalString(_ key: String) throws(RecordDecodingError) -> String? {
        guard let value = values[key], value != .null else { return nil }
        guard case .string(let string) = value else { throw mismatch(key, "a string") }
        return string
    }

    private func int(_ key: String) throws(RecordDecodingError) -> Int {
        try RecordMember.int(values[key], key)
    }

    private func optionalInt(_ key: String) throws(RecordDecodingError) -> Int? {
        guard let value = values[key], value != .null else { return nil }
        guard case .int(let number) = value else { throw mismatch(key, "an integer") }
        return number
    }

    private func number(_ key: String) throws(RecordDecodingError) -> Double {
        try RecordMember.number(values[key], key)
    }

    private func lossRecord() throws(RecordDecodingError) -> LossRecord {
        guard let perItem, perItemIsValid else {
            throw RecordDecodingError(#"the record's "per_item" is missing or not an array of numbers"#)
        }
        return LossRecord(
            run: try optionalString("run") ?? "default",
            split: try optionalString("split") ?? "train",
            source: try optionalString("source") ?? "",
            epoch: try optionalInt("epoch"), step: try optionalInt("step"), seq: try optionalInt("seq"),
            stream: try optionalString("stream"), rank: try optionalInt("rank"),
            worldSize: try optionalInt("world_size"),
            shape: BatchShape(batch: try int("batch"), boxes: try int("boxes"), classes: try int("classes")),
            loss: try number("loss"),
            classification: try number("classification"),
            localization: try number("localization"),
            perItem: perItem,
            positives: try number("positives"),
            negatives: try int("negatives"),
            negativesAvailable: try int("negatives_available"),
            sums: try sums(),
            diagnostics: try diagnostics(),
            parameters: try parameters(),
            computeMicros: try optionalInt("compute_us") ?? 0,
            sidecar: try optionalString("sidecar") ?? "")
    }

    /// `classification_sum`, `localization_sum` and `normalizer`: all three, or none (a record
    /// from a sidecar that predates them).
    private func sums() throws(RecordDecodingError) -> LossSums? {
        let keys = ["classification_sum", "localization_sum", "normalizer"]
        let present = keys.filter { values[$0] != nil && values[$0] != .null }
        guard !present.isEmpty else { return nil }
        guard present.count == keys.count else {
            let missing = keys.filter { !present.contains($0) }.joined(separator: ", ")
            throw RecordDecodingError(
                #"the record has \#(present.joined(separator: ", ")) but not \#(missing); they come together"#)
        }
        return LossSums(
            classification: try number("classification_sum"), localization: try number("localization_sum"),
            normalizer: try number("normalizer"))
    }

    /// `diagnostics`, or nil in a record from a sidecar that predates it.
    private func diagnostics() throws(RecordDecodingError) -> BatchDiagnostics? {
        if let diagnosticsFields { return try diagnosticsFields.diagnostics() }
        guard let value = values["diagnostics"], value != .null else { return nil }
        throw mismatch("diagnostics", "an object")
    }

    private func parameters() throws(RecordDecodingError) -> LossParameters {
        var parameters = LossParameters()
        if let profile = values["profile"], profile != .null {
            guard let named = profile.stringValue.flatMap(LossProfile.init(rawValue:)) else {
                let known = LossProfile.allCases.map(\.rawValue).joined(separator: ", ")
                throw RecordDecodingError(#"the record's "profile" is not one of \#(known)"#)
            }
            parameters.profile = named
        }
        guard let paramsFields else {
            guard let value = values["params"], value != .null else { return parameters }
            throw mismatch("params", "an object")
        }
        try paramsFields.apply(to: &parameters)
        return parameters
    }

    private func errorRecord() throws(RecordDecodingError) -> WireError {
        let codeName = try string("code")
        guard let code = ErrorCode(rawValue: codeName) else {
            throw RecordDecodingError(#"the record's "code" is "\#(codeName)", which this lossd does not know"#)
        }
        let labels = BatchLabels(
            run: try optionalString("run"), split: try optionalString("split"), source: try optionalString("source"),
            epoch: try optionalInt("epoch"), step: try optionalInt("step"), seq: try optionalInt("seq"),
            stream: try optionalString("stream"), rank: try optionalInt("rank"),
            worldSize: try optionalInt("world_size"))
        var details: [String: JSONValue]?
        switch values["details"] {
        case .object(let members)?: details = members
        case nil, .null?: details = nil
        default: throw mismatch("details", "an object")
        }
        return WireError(code: code, message: try string("error"), labels: labels, details: details)
    }
}

/// The values of the keys a record may hold, in fixed slots found by comparing bytes: no key
/// string is built and nothing is hashed per line. ``RecordScanner`` finds its members the same way.
struct KnownMembers {
    /// The slot of each key a record may hold.
    enum Slot: Int, CaseIterable {
        case version, kind, run, split, source, epoch, step, seq, batch, boxes, classes, loss, classification
        case localization, positives, negatives, negativesAvailable, params, computeMicros, sidecar, code, error
        case details, perItem, profile, stream, rank, worldSize, classificationSum, localizationSum, normalizer
        case diagnostics
    }

    /// The slot of `per_item`, which is read separately and never stored here.
    static let perItemSlot = Slot.perItem
    /// The slot of `diagnostics`, which holds a value here only when it is not an object.
    static let diagnosticsSlot = Slot.diagnostics
    /// The slot of `params`, which holds a value here only when it is not an object.
    static let paramsSlot = Slot.params

    private var slots = [JSONValue?](repeating: nil, count: Slot.allCases.count)

    /// The slot of the key spelled by `bytes`, or nil for a key records do not have.
    static func slot(of bytes: UnsafeRawBufferPointer) -> Slot? {
        func matches(_ name: StaticString) -> Bool { bytes.spells(name) }
        switch bytes.count {
        case 1: if matches("v") { return Slot.version }
        case 3:
            if matches("run") { return Slot.run }
            if matches("seq") { return Slot.seq }
        case 4:
            if matches("kind") { return Slot.kind }
            if matches("rank") { return Slot.rank }
            if matches("step") { return Slot.step }
            if matches("loss") { return Slot.loss }
            if matches("code") { return Slot.code }
        case 5:
            if matches("split") { return Slot.split }
            if matches("epoch") { return Slot.epoch }
            if matches("batch") { return Slot.batch }
            if matches("boxes") { return Slot.boxes }
            if matches("error") { return Slot.error }
        case 6:
            if matches("source") { return Slot.source }
            if matches("params") { return Slot.params }
            if matches("stream") { return Slot.stream }
        case 7:
            if matches("classes") { return Slot.classes }
            if matches("sidecar") { return Slot.sidecar }
            if matches("profile") { return Slot.profile }
            if matches("details") { return Slot.details }
        case 8: if matches("per_item") { return Slot.perItem }
        case 9:
            if matches("positives") { return Slot.positives }
            if matches("negatives") { return Slot.negatives }
        case 10:
            if matches("compute_us") { return Slot.computeMicros }
            if matches("world_size") { return Slot.worldSize }
            if matches("normalizer") { return Slot.normalizer }
        case 11: if matches("diagnostics") { return Slot.diagnostics }
        case 12: if matches("localization") { return Slot.localization }
        case 14: if matches("classification") { return Slot.classification }
        case 16: if matches("localization_sum") { return Slot.localizationSum }
        case 18: if matches("classification_sum") { return Slot.classificationSum }
        case 19: if matches("negatives_available") { return Slot.negativesAvailable }
        default: break
        }
        return nil
    }

    /// The value stored in a slot.
    subscript(slot slot: Slot) -> JSONValue? {
        get { slots[slot.rawValue] }
        set { slots[slot.rawValue] = newValue }
    }

    /// The value of a known key; unknown keys read as absent.
    subscript(key: String) -> JSONValue? {
        var key = key
        return key.withUTF8 { Self.slot(of: UnsafeRawBufferPointer($0)) }.flatMap { slots[$0.rawValue] }
    }
}
