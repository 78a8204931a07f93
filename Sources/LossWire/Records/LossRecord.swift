public import SSDLoss

/// The result record of a computed batch (`kind = "loss"`), one JSON line on the metrics sink.
public struct LossRecord: Sendable, Hashable {
    /// `run`.
    public var run: String
    /// `split`.
    public var split: String
    /// `source`.
    public var source: String
    /// `epoch`, when the header gave one.
    public var epoch: Int?
    /// `step`, when the header gave one.
    public var step: Int?
    /// `seq`, when the header gave one.
    public var seq: Int?
    /// `stream`, when the header gave one.
    public var stream: String?
    /// `rank`, when the header gave one (always with ``worldSize``).
    public var rank: Int?
    /// `world_size`, when the header gave one (always with ``rank``).
    public var worldSize: Int?
    /// `batch`, `boxes` and `classes`.
    public var shape: BatchShape
    /// `loss`: the mean of ``perItem``.
    public var loss: Double
    /// `classification`.
    public var classification: Double
    /// `localization`.
    public var localization: Double
    /// `per_item`: B numbers.
    public var perItem: [Double]
    /// `positives`: n_pos, fractional with soft labels.
    public var positives: Double
    /// `negatives`: the number of negatives mined.
    public var negatives: Int
    /// `negatives_available`: the negatives with a non-zero loss.
    public var negativesAvailable: Int
    /// `classification_sum`, `localization_sum` and `normalizer`: the batch's loss before the
    /// division; nil in a record from a sidecar that predates them.
    public var sums: LossSums?
    /// `diagnostics`: positives per image and per class, and each class's classification loss;
    /// nil in a record from a sidecar that predates them.
    public var diagnostics: BatchDiagnostics?
    /// `profile` and `params`: the effective loss settings.
    public var parameters: LossParameters
    /// `compute_us`: the kernel's time for the batch, in microseconds.
    public var computeMicros: Int
    /// `sidecar`: the id of the sidecar that computed the batch, by default `host:pid`.
    public var sidecar: String

    /// Creates a record from its fields.
    public init(
        run: String, split: String, source: String, epoch: Int? = nil, step: Int? = nil, seq: Int? = nil,
        stream: String? = nil, rank: Int? = nil, worldSize: Int? = nil,
        shape: BatchShape, loss: Double, classification: Double, localization: Double, perItem: [Double],
        positives: Double, negatives: Int, negativesAvailable: Int, sums: LossSums? = nil,
        diagnostics: BatchDiagnostics? = nil, parameters: LossParameters, computeMicros: Int, sidecar: String
    ) {
        self.diagnostics = diagnostics
        self.run = run
        self.split = split
        self.source = source
        self.epoch = epoch
        self.step = step
        self.seq = seq
        self.stream = stream
        self.rank = rank
        self.worldSize = worldSize
        self.shape = shape
        self.loss = loss
        self.classification = classification
        self.localization = localization
        self.perItem = perItem
        self.positives = positives
        self.negatives = negatives
        self.negativesAvailable = negativesAvailable
        self.sums = sums
        self.parameters = parameters
        self.computeMicros = computeMicros
        self.sidecar = sidecar
    }

    /// Creates the record of a computed batch.
    ///
    /// - Parameters:
    ///   - header: the batch's header (labels and shape).
    ///   - parameters: the effective settings the loss was computed with.
    ///   - result: the kernel's result.
    ///   - computeMicros: the kernel's time, in microseconds.
    ///   - sidecar: the sidecar's id.
    public init(
        header: BatchHeader, parameters: LossParameters, result: LossResult, computeMicros: Int, sidecar: String
    ) {
        self.init(
            run: header.run, split: header.split, source: header.source,
            epoch: header.epoch, step: header.step, seq: header.seq,
            stream: header.stream, rank: header.rank, worldSize: header.worldSize, shape: header.shape,
            loss: result.loss, classification: result.classification, localization: result.localization,
            perItem: result.perItem, positives: result.positives, negatives: result.negatives,
            negativesAvailable: result.negativesAvailable,
            sums: LossSums(
                classification: result.classPerItem.reduce(0, +), localization: result.locPerItem.reduce(0, +),
                normalizer: result.normalizer),
            diagnostics: result.diagnostics, parameters: parameters, computeMicros: computeMicros, sidecar: sidecar)
    }

    /// Writes the record as one JSON object, keys in protocol order; non-finite numbers become `null`.
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("v")
        json.int(1)
        json.key("kind")
        json.string("loss")
        json.key("run")
        json.string(run)
        json.key("split")
        json.string(split)
        json.key("source")
        json.string(source)
        json.optionalInt("epoch", epoch)
        json.optionalInt("step", step)
        json.optionalInt("seq", seq)
        json.placement(stream: stream, rank: rank, worldSize: worldSize)
        json.key("batch")
        json.int(shape.batch)
        json.key("boxes")
        json.int(shape.boxes)
        json.key("classes")
        json.int(shape.classes)
        json.key("loss")
        json.double(loss)
        json.key("classification")
        json.double(classification)
        json.key("localization")
        json.double(localization)
        json.key("per_item")
        json.beginArray()
        for value in perItem { json.double(value) }
        json.endArray()
        json.key("positives")
        json.double(positives)
        json.key("negatives")
        json.int(negatives)
        json.key("negatives_available")
        json.int(negativesAvailable)
        if let sums {
            json.key("classification_sum")
            json.double(sums.classification)
            json.key("localization_sum")
            json.double(sums.localization)
            json.key("normalizer")
            json.double(sums.normalizer)
        }
        if let diagnostics { json.diagnostics(diagnostics) }
        json.key("profile")
        json.string(parameters.profile.rawValue)
        json.key("params")
        json.beginObject()
        json.key("neg_pos_ratio")
        json.int(parameters.negPosRatio)
        json.key("n_neg_min")
        json.int(parameters.nNegMin)
        json.key("alpha")
        json.double(parameters.alpha)
        json.key("mining")
        json.string(parameters.mining.rawValue)
        json.key("scores")
        json.string(parameters.scores.rawValue)
        json.endObject()
        json.key("compute_us")
        json.int(computeMicros)
        json.key("sidecar")
        json.string(sidecar)
        json.endObject()
    }

    /// The record as one line of JSON, without the trailing newline.
    public func jsonLine() -> [UInt8] {
        var json = JSONWriter(capacity: 400 + perItem.count * 20 + (diagnostics?.classes.count ?? 0) * 64)
        write(to: &json)
        return json.bytes
    }
}

extension JSONWriter {
    /// Writes `"diagnostics": {"images_without_positives": …, "max_positive_share": …, "classes":
    /// [{"class": …, "positives": …, "classification_sum": …}, …]}`.
    mutating func diagnostics(_ diagnostics: BatchDiagnostics) {
        key("diagnostics")
        beginObject()
        key("images_without_positives")
        int(diagnostics.imagesWithoutPositives)
        key("max_positive_share")
        double(diagnostics.maxPositiveShare)
        key("classes")
        beginArray()
        for figures in diagnostics.classes {
            beginObject()
            key("class")
            int(figures.classIndex)
            key("positives")
            double(figures.positives)
            key("classification_sum")
            double(figures.classificationSum)
            endObject()
        }
        endArray()
        endObject()
    }
}
