import SSDLoss

/// The `params` object of a loss record line, read member by member as the parser meets it.
///
/// Every loss record carries it; read as a JSON tree it was a dictionary with five `String` keys
/// per record. Here each member lands in its field. As at the record's top level, unknown members
/// are skipped and a repeated member keeps its last value; wrong types throw when
/// ``apply(to:)`` sets the parameters.
struct ParameterFields {
    private var negPosRatio: JSONValue?
    private var nNegMin: JSONValue?
    private var alpha: JSONValue?
    private var mining: JSONValue?
    private var scores: JSONValue?

    /// Reads the object the parser is positioned at (its `{` not yet consumed).
    mutating func read(_ parser: inout JSONParser) throws(JSONParseError) {
        try parser.begin(UInt8(ascii: "{"))
        var isFirst = true
        while let member = try parser.nextKey(isFirst: isFirst, Self.member(of:)) {
            isFirst = false
            let value = try parser.value()
            switch member {
            case .negPosRatio: negPosRatio = value
            case .nNegMin: nNegMin = value
            case .alpha: alpha = value
            case .mining: mining = value
            case .scores: scores = value
            case .unknown: break
            }
        }
    }

    /// Sets the members that are present; the others keep `parameters`' values.
    func apply(to parameters: inout LossParameters) throws(RecordDecodingError) {
        if let negPosRatio { parameters.negPosRatio = try RecordMember.int(negPosRatio, "neg_pos_ratio") }
        if let nNegMin { parameters.nNegMin = try RecordMember.int(nNegMin, "n_neg_min") }
        if let alpha { parameters.alpha = try RecordMember.number(alpha, "alpha") }
        if let mining {
            guard let mode = mining.stringValue.flatMap(MiningMode.init(rawValue:)) else {
                throw RecordDecodingError(#"the record's "params.mining" is not "batch" or "image""#)
            }
            parameters.mining = mode
        }
        if let scores {
            guard let kind = scores.stringValue.flatMap(ScoreKind.init(rawValue:)) else {
                throw RecordDecodingError(#"the record's "params.scores" is not "probabilities" or "logits""#)
            }
            parameters.scores = kind
        }
    }

    enum Member { case negPosRatio, nNegMin, alpha, mining, scores, unknown }

    static func member(of bytes: UnsafeRawBufferPointer) -> Member {
        func matches(_ name: StaticString) -> Bool { bytes.spells(name) }
        switch bytes.count {
        case 5: if matches("alpha") { return .alpha }
        case 6:
            if matches("mining") { return .mining }
            if matches("scores") { return .scores }
        case 9: if matches("n_neg_min") { return .nNegMin }
        case 13: if matches("neg_pos_ratio") { return .negPosRatio }
        default: break
        }
        return .unknown
    }
}
