public import LossWire

/// What a replay produced: counts, errors by code and the batch-size-weighted mean losses.
///
/// The means weight each loss record by its batch size, which is what a Keras epoch average
/// reports; error records count towards ``batches`` and ``errors`` only.
public struct ReplaySummary: Sendable, Hashable {
    /// Every record written: loss records and error records.
    public private(set) var batches = 0
    /// Loss records written.
    public private(set) var computed = 0
    /// Samples (sum of batch sizes) over the loss records.
    public private(set) var samples = 0
    /// Error records by code.
    public private(set) var errors: [String: Int] = [:]
    private var lossSum = 0.0
    private var classificationSum = 0.0
    private var localizationSum = 0.0

    /// An empty summary.
    public init() {}

    /// Counts one record.
    public mutating func add(_ record: ResultRecord) {
        batches += 1
        switch record {
        case .loss(let loss):
            computed += 1
            samples += loss.shape.batch
            let weight = Double(loss.shape.batch)
            lossSum += loss.loss * weight
            classificationSum += loss.classification * weight
            localizationSum += loss.localization * weight
        case .error(let error):
            errors[error.code.rawValue, default: 0] += 1
        }
    }

    /// The weighted mean loss, or nil before the first loss record.
    public var meanLoss: Double? { samples > 0 ? lossSum / Double(samples) : nil }
    /// The weighted mean classification loss, or nil before the first loss record.
    public var meanClassification: Double? { samples > 0 ? classificationSum / Double(samples) : nil }
    /// The weighted mean localization loss, or nil before the first loss record.
    public var meanLocalization: Double? { samples > 0 ? localizationSum / Double(samples) : nil }

    /// The closing `{"kind":"summary",…}` line, without a newline.
    public func jsonLine(files: [ReplayFileReport]) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.key("kind"); json.string("summary")
        json.key("batches"); json.int(batches)
        json.key("computed"); json.int(computed)
        json.key("samples"); json.int(samples)
        json.key("errors"); json.beginObject()
        for code in errors.keys.sorted() {
            json.key(code); json.int(errors[code] ?? 0)
        }
        json.endObject()
        for (name, value) in [
            ("loss", meanLoss), ("classification", meanClassification), ("localization", meanLocalization),
        ] {
            json.key(name)
            if let value { json.double(value) } else { json.null() }
        }
        json.key("files"); json.beginArray()
        for file in files {
            json.beginObject()
            json.key("path"); json.string(file.path)
            json.key("records"); json.int(file.records)
            json.key("complete"); json.bool(file.damage == nil)
            if let damage = file.damage {
                json.key("damaged_at"); json.int(damage.offset)
                json.key("problem"); json.string(damage.message)
            }
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.bytes
    }
}

/// How one recording was read.
public struct ReplayFileReport: Sendable, Hashable {
    /// The file's path as given.
    public var path: String
    /// The good records read from it.
    public var records: Int
    /// Where and why reading stopped early, or nil when the file was read whole.
    public var damage: Damage?

    /// A damaged or truncated record that ended the reading of a file.
    public struct Damage: Sendable, Hashable {
        /// The byte offset of the first bad record.
        public var offset: Int
        /// What was wrong, as a sentence.
        public var message: String
    }
}
