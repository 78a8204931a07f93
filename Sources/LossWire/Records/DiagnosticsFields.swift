import SSDLoss

/// The `diagnostics` object of a record line, read member by member as the parser meets it.
///
/// A loss record carries one set of figures per class (20 for VOC). Read as a JSON tree, each
/// would be a dictionary of three members with a `String` key each, and the aggregator spent
/// most of a record's decoding time building and searching those. Here every member lands in its
/// field directly. JSON syntax errors throw while reading; a member of the wrong type throws when
/// ``diagnostics()`` builds the value, with the messages the record's other fields use. Unknown
/// members are skipped, and a repeated member keeps its last value, as at the record's top level.
struct DiagnosticsFields {
    /// The figures of one entry of `classes`, as read.
    private struct ClassFields {
        var classIndex: JSONValue?
        var positives: JSONValue?
        var classificationSum: JSONValue?
    }

    /// What `classes` held.
    private enum Classes {
        case absent
        case notAnArray
        /// The entries; nil for an entry that is not an object.
        case entries([ClassFields?])
    }

    private var imagesWithoutPositives: JSONValue?
    private var maxPositiveShare: JSONValue?
    private var classes = Classes.absent

    /// Reads the object the parser is positioned at (its `{` not yet consumed).
    mutating func read(_ parser: inout JSONParser) throws(JSONParseError) {
        try parser.begin(UInt8(ascii: "{"))
        var isFirst = true
        while let member = try parser.nextKey(isFirst: isFirst, Self.member(of:)) {
            isFirst = false
            switch member {
            case .imagesWithoutPositives: imagesWithoutPositives = try parser.value()
            case .maxPositiveShare: maxPositiveShare = try parser.value()
            case .classes:
                if parser.peek() == UInt8(ascii: "[") {
                    classes = .entries(try Self.readClasses(&parser))
                } else {
                    _ = try parser.value()
                    classes = .notAnArray
                }
            default: _ = try parser.value()
            }
        }
    }

    /// The entries of `classes`, the parser at its `[`.
    private static func readClasses(_ parser: inout JSONParser) throws(JSONParseError) -> [ClassFields?] {
        try parser.begin(UInt8(ascii: "["))
        var entries: [ClassFields?] = []
        entries.reserveCapacity(32)
        var isFirst = true
        while try parser.nextElement(isFirst: isFirst) {
            isFirst = false
            guard parser.peek() == UInt8(ascii: "{") else {
                _ = try parser.value()
                entries.append(nil)
                continue
            }
            try parser.begin(UInt8(ascii: "{"))
            var entry = ClassFields()
            // The writer's spelling first: its three members in its order, without a key scan.
            var isFirstMember = true
            if parser.consume(#""class":"#) {
                isFirstMember = false
                entry.classIndex = try parser.value()
                if parser.consume(#","positives":"#) {
                    entry.positives = try parser.value()
                    if parser.consume(#","classification_sum":"#) { entry.classificationSum = try parser.value() }
                }
            }
            while let member = try parser.nextKey(isFirst: isFirstMember, member(of:)) {
                isFirstMember = false
                switch member {
                case .classIndex: entry.classIndex = try parser.value()
                case .positives: entry.positives = try parser.value()
                case .classificationSum: entry.classificationSum = try parser.value()
                default: _ = try parser.value()
                }
            }
            entries.append(entry)
        }
        return entries
    }

    /// The diagnostics, or the first member of the wrong type or missing.
    func diagnostics() throws(RecordDecodingError) -> BatchDiagnostics {
        guard case .entries(let entries) = classes else {
            throw RecordDecodingError(#"the record's "diagnostics.classes" is missing or not an array"#)
        }
        var figures: [BatchDiagnostics.ClassFigures] = []
        figures.reserveCapacity(entries.count)
        for entry in entries {
            guard let entry else {
                throw RecordDecodingError(#"an entry of the record's "diagnostics.classes" is not an object"#)
            }
            figures.append(
                .init(
                    classIndex: try RecordMember.int(entry.classIndex, "class"),
                    positives: try RecordMember.number(entry.positives, "positives"),
                    classificationSum: try RecordMember.number(entry.classificationSum, "classification_sum")))
        }
        return BatchDiagnostics(
            imagesWithoutPositives: try RecordMember.int(imagesWithoutPositives, "images_without_positives"),
            maxPositiveShare: try RecordMember.number(maxPositiveShare, "max_positive_share"), classes: figures)
    }

    /// The members these objects have, found by comparing bytes (no key string is built).
    enum Member {
        case imagesWithoutPositives, maxPositiveShare, classes, classIndex, positives, classificationSum, unknown
    }

    static func member(of bytes: UnsafeRawBufferPointer) -> Member {
        func matches(_ name: StaticString) -> Bool { bytes.spells(name) }
        switch bytes.count {
        case 5: if matches("class") { return .classIndex }
        case 7: if matches("classes") { return .classes }
        case 9: if matches("positives") { return .positives }
        case 18:
            if matches("classification_sum") { return .classificationSum }
            if matches("max_positive_share") { return .maxPositiveShare }
        case 24: if matches("images_without_positives") { return .imagesWithoutPositives }
        default: break
        }
        return .unknown
    }
}
