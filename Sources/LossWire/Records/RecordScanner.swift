import SSDLoss

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The fast path of ``ResultRecord/init(jsonLine:decodingPerItem:)`` for loss records: one walk
/// over the line with a raw pointer, each member read straight into a typed field, no JSON value
/// built and nothing allocated but the record's own strings and arrays.
///
/// It accepts a subset of what the general decoder (`RecordFields`, over ``JSONParser``)
/// accepts, and decodes it to the same record: the members are found by the same
/// ``KnownMembers``, ``DiagnosticsFields`` and ``ParameterFields`` matching, numbers go through the
/// same ``JSONNumber`` conversion, an unknown member is checked and skipped by a ``JSONParser``
/// at the same nesting depth. Whatever it does not take (an error record, a key with escapes or
/// non-ASCII bytes, a member of an unexpected type, `null` where the general decoder would tell
/// `null` from a number, malformed JSON) makes ``record(_:decodingPerItem:)`` return nil; the
/// general decoder then reads the line again and says what is wrong, so errors and their
/// messages are those of the general decoder.
struct RecordScanner {
    private let bytes: UnsafeRawBufferPointer
    private let base: UnsafePointer<UInt8>
    private let end: UnsafePointer<UInt8>
    private var cursor: UnsafePointer<UInt8>
    private let decodesPerItem: Bool

    /// The record's members as read; the last of a repeated member counts.
    private struct Fields {
        var version: Int?
        var isLoss = false
        var run: String?
        var split: String?
        var source: String?
        var stream: String?
        var sidecar: String?
        var epoch: Int?
        var step: Int?
        var seq: Int?
        var rank: Int?
        var worldSize: Int?
        var computeMicros: Int?
        var batch: Int?
        var boxes: Int?
        var classes: Int?
        var negatives: Int?
        var negativesAvailable: Int?
        var loss: Double?
        var classification: Double?
        var localization: Double?
        var positives: Double?
        var classificationSum: Double?
        var localizationSum: Double?
        var normalizer: Double?
        var perItem: [Double]?
        var diagnostics: BatchDiagnostics?
        var profile: LossProfile?
        var parameters: Parameters?

        /// The record, once every member was read; nil when a required member is missing.
        func lossRecord() -> LossRecord? {
            guard version == 1, isLoss, let batch, let boxes, let classes, let loss, let classification,
                let localization, let perItem, let positives, let negatives, let negativesAvailable
            else { return nil }
            var sums: LossSums?
            switch (classificationSum, localizationSum, normalizer) {
            case (nil, nil, nil): sums = nil
            case (let classification?, let localization?, let normalizer?):
                sums = LossSums(classification: classification, localization: localization, normalizer: normalizer)
            default: return nil
            }
            var lossParameters = LossParameters()
            if let profile { lossParameters.profile = profile }
            if let parameters {
                if let negPosRatio = parameters.negPosRatio { lossParameters.negPosRatio = negPosRatio }
                if let nNegMin = parameters.nNegMin { lossParameters.nNegMin = nNegMin }
                if let alpha = parameters.alpha { lossParameters.alpha = alpha }
                if let mining = parameters.mining { lossParameters.mining = mining }
                if let scores = parameters.scores { lossParameters.scores = scores }
            }
            return LossRecord(
                run: run ?? "default", split: split ?? "train", source: source ?? "",
                epoch: epoch, step: step, seq: seq, stream: stream, rank: rank, worldSize: worldSize,
                shape: BatchShape(batch: batch, boxes: boxes, classes: classes),
                loss: loss, classification: classification, localization: localization, perItem: perItem,
                positives: positives, negatives: negatives, negativesAvailable: negativesAvailable, sums: sums,
                diagnostics: diagnostics, parameters: lossParameters, computeMicros: computeMicros ?? 0,
                sidecar: sidecar ?? "")
        }
    }

    /// The members of `params` that were present.
    private struct Parameters {
        var negPosRatio: Int?
        var nNegMin: Int?
        var alpha: Double?
        var mining: MiningMode?
        var scores: ScoreKind?
    }

    private init(_ bytes: UnsafeRawBufferPointer, base: UnsafePointer<UInt8>, decodesPerItem: Bool) {
        self.bytes = bytes
        self.base = base
        self.end = base + bytes.count
        self.cursor = base
        self.decodesPerItem = decodesPerItem
    }

    /// The loss record of `bytes`, or nil when the general decoder must read the line.
    static func record(_ bytes: UnsafeRawBufferPointer, decodingPerItem: Bool) -> LossRecord? {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        var scanner = RecordScanner(bytes, base: base, decodesPerItem: decodingPerItem)
        var fields = Fields()
        guard scanner.readRecord(into: &fields) else { return nil }
        return fields.lossRecord()
    }

    // MARK: The record's members

    private mutating func readRecord(into fields: inout Fields) -> Bool {
        guard open(UInt8(ascii: "{")) else { return false }
        var isFirst = true
        while true {
            switch next(isFirst: isFirst, closing: UInt8(ascii: "}")) {
            case .closed:
                skipWhitespace()
                return cursor == end
            case .malformed: return false
            case .item: isFirst = false
            }
            guard let key = key() else { return false }
            guard let slot = KnownMembers.slot(of: key) else {
                guard skipValue(depth: 1) else { return false }
                continue
            }
            guard readMember(slot, into: &fields) else { return false }
        }
    }

    private mutating func readMember(_ slot: KnownMembers.Slot, into fields: inout Fields) -> Bool {
        switch slot {
        case .version: return readInt(&fields.version, nullable: false)
        case .kind:
            guard let (text, _) = stringBytes(), text.spells("loss") else { return false }
            fields.isLoss = true
            return true
        case .run: return readString(&fields.run)
        case .split: return readString(&fields.split)
        case .source: return readString(&fields.source)
        case .stream: return readString(&fields.stream)
        case .sidecar: return readString(&fields.sidecar)
        case .epoch: return readInt(&fields.epoch, nullable: true)
        case .step: return readInt(&fields.step, nullable: true)
        case .seq: return readInt(&fields.seq, nullable: true)
        case .rank: return readInt(&fields.rank, nullable: true)
        case .worldSize: return readInt(&fields.worldSize, nullable: true)
        case .computeMicros: return readInt(&fields.computeMicros, nullable: true)
        case .batch: return readInt(&fields.batch, nullable: false)
        case .boxes: return readInt(&fields.boxes, nullable: false)
        case .classes: return readInt(&fields.classes, nullable: false)
        case .negatives: return readInt(&fields.negatives, nullable: false)
        case .negativesAvailable: return readInt(&fields.negativesAvailable, nullable: false)
        case .loss: return readNumber(&fields.loss, nullIsNaN: true)
        case .classification: return readNumber(&fields.classification, nullIsNaN: true)
        case .localization: return readNumber(&fields.localization, nullIsNaN: true)
        case .positives: return readNumber(&fields.positives, nullIsNaN: true)
        // The general decoder reads a `null` sum as absent: left to it.
        case .classificationSum: return readNumber(&fields.classificationSum, nullIsNaN: false)
        case .localizationSum: return readNumber(&fields.localizationSum, nullIsNaN: false)
        case .normalizer: return readNumber(&fields.normalizer, nullIsNaN: false)
        case .perItem:
            guard let numbers = readPerItem() else { return false }
            fields.perItem = numbers
            return true
        case .diagnostics:
            // The writer puts `classes` (C) first: C − 1 entries is the array's exact size.
            guard let read = readDiagnostics(expectedClasses: fields.classes.map { $0 &- 1 }) else { return false }
            fields.diagnostics = read
            return true
        case .profile:
            if readNull() {
                fields.profile = nil
                return true
            }
            guard let (text, _) = stringBytes(), let string = JSONParser.string(text),
                let named = LossProfile(rawValue: string)
            else { return false }
            fields.profile = named
            return true
        case .params:
            if readNull() {
                fields.parameters = nil
                return true
            }
            guard let read = readParameters() else { return false }
            fields.parameters = read
            return true
        case .code, .error, .details:
            // Members of error records, which the general decoder reads.
            return false
        }
    }

    /// `per_item`: numbers or `null`s, converted when the caller wants them, checked otherwise.
    private mutating func readPerItem() -> [Double]? {
        guard open(UInt8(ascii: "[")) else { return nil }
        var numbers: [Double] = []
        if decodesPerItem { numbers.reserveCapacity(64) }
        var isFirst = true
        while true {
            switch next(isFirst: isFirst, closing: UInt8(ascii: "]")) {
            case .closed: return numbers
            case .malformed: return nil
            case .item: isFirst = false
            }
            if decodesPerItem {
                if let number = number() {
                    numbers.append(number.doubleValue)
                } else if readNull() {
                    numbers.append(.nan)
                } else {
                    return nil
                }
            } else if let after = JSONNumber.skip(from: cursor, to: end) {
                cursor = after
            } else if !readNull() {
                return nil
            }
        }
    }

    // MARK: diagnostics and params

    private mutating func readDiagnostics(expectedClasses: Int?) -> BatchDiagnostics? {
        guard open(UInt8(ascii: "{")) else { return nil }
        var imagesWithoutPositives: Int?
        var maxPositiveShare: Double?
        var figures: [BatchDiagnostics.ClassFigures]?
        var isFirst = true
        while true {
            switch next(isFirst: isFirst, closing: UInt8(ascii: "}")) {
            case .closed:
                guard let imagesWithoutPositives, let maxPositiveShare, let figures else { return nil }
                return BatchDiagnostics(
                    imagesWithoutPositives: imagesWithoutPositives, maxPositiveShare: maxPositiveShare,
                    classes: figures)
            case .malformed: return nil
            case .item: isFirst = false
            }
            guard let key = key() else { return nil }
            switch DiagnosticsFields.member(of: key) {
            case .imagesWithoutPositives:
                guard readInt(&imagesWithoutPositives, nullable: false) else { return nil }
            case .maxPositiveShare:
                guard readNumber(&maxPositiveShare, nullIsNaN: true) else { return nil }
            case .classes:
                guard let entries = readClasses(expected: expectedClasses) else { return nil }
                figures = entries
            default:
                guard skipValue(depth: 2) else { return nil }
            }
        }
    }

    /// `diagnostics.classes`: the writer's spelling of an entry is tried first, one `memcmp` per key.
    /// The array is kept by the aggregator's window, so it is sized for the `expected` entries
    /// when the record named its C before (no growth, no spare capacity held for 100 batches).
    private mutating func readClasses(expected: Int?) -> [BatchDiagnostics.ClassFigures]? {
        guard open(UInt8(ascii: "[")) else { return nil }
        var figures: [BatchDiagnostics.ClassFigures] = []
        figures.reserveCapacity(min(max(expected ?? 32, 0), 4096))
        var isFirst = true
        while true {
            switch next(isFirst: isFirst, closing: UInt8(ascii: "]")) {
            case .closed: return figures
            case .malformed: return nil
            case .item: isFirst = false
            }
            guard open(UInt8(ascii: "{")) else { return nil }
            var classIndex: Int?
            var positives: Double?
            var classificationSum: Double?
            var isFirstMember = true
            if consume(#""class":"#) {
                isFirstMember = false
                skipWhitespace()
                guard readInt(&classIndex, nullable: false) else { return nil }
                if consume(#","positives":"#) {
                    skipWhitespace()
                    guard readNumber(&positives, nullIsNaN: true) else { return nil }
                    if consume(#","classification_sum":"#) {
                        skipWhitespace()
                        guard readNumber(&classificationSum, nullIsNaN: true) else { return nil }
                    }
                }
            }
            members: while true {
                switch next(isFirst: isFirstMember, closing: UInt8(ascii: "}")) {
                case .closed: break members
                case .malformed: return nil
                case .item: isFirstMember = false
                }
                guard let key = key() else { return nil }
                let read: Bool
                switch DiagnosticsFields.member(of: key) {
                case .classIndex: read = readInt(&classIndex, nullable: false)
                case .positives: read = readNumber(&positives, nullIsNaN: true)
                case .classificationSum: read = readNumber(&classificationSum, nullIsNaN: true)
                default: read = skipValue(depth: 4)
                }
                guard read else { return nil }
            }
            guard let classIndex, let positives, let classificationSum else { return nil }
            figures.append(.init(classIndex: classIndex, positives: positives, classificationSum: classificationSum))
        }
    }

    private mutating func readParameters() -> Parameters? {
        guard open(UInt8(ascii: "{")) else { return nil }
        var parameters = Parameters()
        var isFirst = true
        while true {
            switch next(isFirst: isFirst, closing: UInt8(ascii: "}")) {
            case .closed: return parameters
            case .malformed: return nil
            case .item: isFirst = false
            }
            guard let key = key() else { return nil }
            let read: Bool
            switch ParameterFields.member(of: key) {
            case .negPosRatio: read = readInt(&parameters.negPosRatio, nullable: false)
            case .nNegMin: read = readInt(&parameters.nNegMin, nullable: false)
            case .alpha: read = readNumber(&parameters.alpha, nullIsNaN: true)
            case .mining:
                let mode = stringBytes().flatMap { JSONParser.string($0.text) }.flatMap(MiningMode.init(rawValue:))
                parameters.mining = mode
                read = mode != nil
            case .scores:
                let kind = stringBytes().flatMap { JSONParser.string($0.text) }.flatMap(ScoreKind.init(rawValue:))
                parameters.scores = kind
                read = kind != nil
            case .unknown: read = skipValue(depth: 2)
            }
            guard read else { return nil }
        }
    }

    // MARK: Values

    /// An integer (not `null` unless `nullable`, which reads as nil); false for anything else.
    private mutating func readInt(_ field: inout Int?, nullable: Bool) -> Bool {
        if case .int(let value)? = number() {
            field = value
            return true
        }
        guard nullable, readNull() else { return false }
        field = nil
        return true
    }

    /// A number, and `null` as NaN when `nullIsNaN`; false for anything else.
    private mutating func readNumber(_ field: inout Double?, nullIsNaN: Bool) -> Bool {
        if let number = number() {
            field = number.doubleValue
            return true
        }
        guard nullIsNaN, readNull() else { return false }
        field = .nan
        return true
    }

    /// A string, or `null` as nil; false for anything else.
    private mutating func readString(_ field: inout String?) -> Bool {
        if readNull() {
            field = nil
            return true
        }
        guard let (text, _) = stringBytes(), let string = JSONParser.string(text) else { return false }
        field = string
        return true
    }

    /// The number at the cursor, consumed; nil (nothing consumed) when the value is not a number,
    /// or when its text breaks the number grammar.
    @inline(__always)
    private mutating func number() -> JSONNumber? {
        guard cursor < end else { return nil }
        let first = cursor.pointee
        guard first == UInt8(ascii: "-") || first &- UInt8(ascii: "0") <= 9 else { return nil }
        switch JSONNumber.read(from: cursor, to: end) {
        case .number(let number, let after):
            cursor = after
            return number
        case .invalid:
            return nil
        }
    }

    /// Consumes `null` when it is next.
    @inline(__always)
    private mutating func readNull() -> Bool {
        consume("null")
    }

    /// The bytes of the string at the cursor, viewed in place, and whether they are all ASCII;
    /// nil for a value that is not a string, or one with escapes or control characters.
    private mutating func stringBytes() -> (text: UnsafeRawBufferPointer, isASCII: Bool)? {
        guard cursor < end, cursor.pointee == UInt8(ascii: "\"") else { return nil }
        let start = cursor + 1
        var scan = start
        var high: UInt8 = 0
        while scan < end {
            let byte = scan.pointee
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
            high |= byte
            scan += 1
        }
        guard scan < end else { return nil }
        cursor = scan + 1
        return (UnsafeRawBufferPointer(start: start, count: scan - start), high < 0x80)
    }

    /// Checks and skips the value at the cursor with a ``JSONParser`` inside `depth` containers,
    /// as the general decoder skips a member it does not know.
    private mutating func skipValue(depth: Int) -> Bool {
        var parser = JSONParser(bytes, at: cursor - base, depth: depth)
        guard (try? parser.value()) != nil else { return false }
        cursor = base + parser.position
        return true
    }

    // MARK: Structure

    /// What comes before the next member or element.
    private enum Next { case item, closed, malformed }

    /// Consumes `opening` (after whitespace); false when the next value is not of that kind.
    @inline(__always)
    private mutating func open(_ opening: UInt8) -> Bool {
        skipWhitespace()
        guard cursor < end, cursor.pointee == opening else { return false }
        cursor += 1
        return true
    }

    /// Before a member or an element: consumes the `,` that separates it from the previous one,
    /// or the closing bracket.
    @inline(__always)
    private mutating func next(isFirst: Bool, closing: UInt8) -> Next {
        skipWhitespace()
        guard cursor < end else { return .malformed }
        if cursor.pointee == closing {
            cursor += 1
            return .closed
        }
        if !isFirst {
            guard cursor.pointee == UInt8(ascii: ",") else { return .malformed }
            cursor += 1
        }
        skipWhitespace()
        return .item
    }

    /// A member's key, viewed in place, with the cursor moved past its colon; nil for a key with
    /// escapes or bytes outside ASCII (the general decoder reads those), or malformed JSON.
    @inline(__always)
    private mutating func key() -> UnsafeRawBufferPointer? {
        guard let (key, isASCII) = stringBytes(), isASCII else { return nil }
        skipWhitespace()
        guard cursor < end, cursor.pointee == UInt8(ascii: ":") else { return nil }
        cursor += 1
        skipWhitespace()
        return key
    }

    /// Consumes `literal` when the bytes at the cursor spell exactly it.
    @inline(__always)
    private mutating func consume(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard end - cursor >= count, memcmp(cursor, literal.utf8Start, count) == 0 else { return false }
        cursor += count
        return true
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        while cursor < end {
            switch cursor.pointee {
            case 0x20, 0x09, 0x0A, 0x0D: cursor += 1
            default: return
            }
        }
    }
}
