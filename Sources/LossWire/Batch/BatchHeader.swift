public import SSDLoss

/// The header of a protocol v1 batch message (frame 0): a UTF-8 JSON object.
///
/// ``init(parsing:limits:)`` validates strictly and throws ``WireError`` with the labels read so
/// far; ``jsonBytes()`` writes a header for senders such as the synthetic-batch generator and tests.
/// A key whose value is `null` is treated as absent; unknown keys are ignored.
public struct BatchHeader: Sendable, Hashable {
    /// The only protocol version this lossd speaks.
    public static let version = 1

    /// B, N and C.
    public var shape: BatchShape
    /// The element type of the floating-point tensors (`dtype`, default `float32`).
    public var dtype: ScalarType
    /// How the tensors are arranged (`layout`, default `keras`).
    public var layout: Layout
    /// What the predicted class entries hold (`scores`); `nil` when the header omits it, in which
    /// case the configured default applies (lossd's own default is `probabilities`).
    public var scores: ScoreKind?
    /// `run`, default `default`.
    public var run: String
    /// `split`, default `train`.
    public var split: String
    /// `source`, default `""`.
    public var source: String
    /// `epoch`, an integer ≥ 0 when given.
    public var epoch: Int?
    /// `step`, an integer ≥ 0 when given.
    public var step: Int?
    /// `seq`, counting 0, 1, 2, … per (run, source, stream) when given.
    public var seq: Int?
    /// `stream`, the sender's id for this process (at most 128 bytes, not empty) when given.
    public var stream: String?
    /// `rank`, in `0 ..< worldSize`, when given (always together with ``worldSize``).
    public var rank: Int?
    /// `world_size`, at least 1, when given (always together with ``rank``).
    public var worldSize: Int?
    /// The `loss` object's overrides.
    public var loss: LossOverrides
    /// Which framework's loss the batch is computed as (`profile`); `nil` when the header omits
    /// it, in which case the configured profile applies (lossd's own default is `keras`).
    public var profile: LossProfile?

    /// Creates a header; the defaults are the protocol's.
    public init(
        shape: BatchShape,
        dtype: ScalarType = .float32,
        layout: Layout = .keras,
        scores: ScoreKind? = nil,
        run: String = "default",
        split: String = "train",
        source: String = "",
        epoch: Int? = nil,
        step: Int? = nil,
        seq: Int? = nil,
        stream: String? = nil,
        rank: Int? = nil,
        worldSize: Int? = nil,
        loss: LossOverrides = LossOverrides(),
        profile: LossProfile? = nil
    ) {
        self.shape = shape
        self.dtype = dtype
        self.layout = layout
        self.scores = scores
        self.run = run
        self.split = split
        self.source = source
        self.epoch = epoch
        self.step = step
        self.seq = seq
        self.stream = stream
        self.rank = rank
        self.worldSize = worldSize
        self.loss = loss
        self.profile = profile
    }

    /// The grouping labels of this header.
    public var labels: BatchLabels {
        BatchLabels(
            run: run, split: split, source: source, epoch: epoch, step: step, seq: seq, stream: stream, rank: rank,
            worldSize: worldSize)
    }

    /// The effective loss settings.
    ///
    /// The base is `defaults` (the configured profile with the configured settings) when the
    /// header names no profile or that same profile, and otherwise the named profile's own
    /// settings; the header's `scores` and `loss` overrides apply on top.
    /// - Throws: `bad_header` naming the key and the accepted value when the header sets a
    ///   setting the profile's framework has no knob for.
    public func parameters(defaults: LossParameters) throws(WireError) -> LossParameters {
        let base = profile.map { $0 == defaults.profile ? defaults : $0.parameters } ?? defaults
        var parameters = loss.applied(to: base)
        if let scores { parameters.scores = scores }
        if let refused = parameters.profile.firstUnsupported(in: parameters) {
            let key = refused == .scores ? "scores" : "loss.\(refused.rawValue)"
            let source =
                refused == .scores && scores == nil || refused != .scores && !loss.sets(refused)
                ? "the configured \(key) is \(parameters.value(of: refused)): "
                : #"the header's "\#(key)" is \#(parameters.value(of: refused)): "#
            throw WireError(
                code: .badHeader, message: source + parameters.profile.refusal(of: refused), labels: labels)
        }
        return parameters
    }

    /// The tensor frames this header calls for, in wire order after the header (frames 1, 2, …),
    /// with their exact byte sizes (nil for a size that overflows `Int`): the layout table's
    /// entries for this shape and dtype (``Layout/tensors(shape:dtype:)``).
    public var tensors: [BatchTensor] {
        layout.tensors(shape: shape, dtype: dtype)
    }

    /// The header as compact JSON, keys in protocol order; only present optional keys are written.
    public func jsonBytes() -> [UInt8] {
        var json = JSONWriter(capacity: 192)
        json.beginObject()
        json.key("v")
        json.int(Self.version)
        json.key("batch")
        json.int(shape.batch)
        json.key("boxes")
        json.int(shape.boxes)
        json.key("classes")
        json.int(shape.classes)
        json.key("dtype")
        json.string(dtype.rawValue)
        json.key("layout")
        json.string(layout.rawValue)
        if let scores {
            json.key("scores")
            json.string(scores.rawValue)
        }
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
        if let profile {
            json.key("profile")
            json.string(profile.rawValue)
        }
        if !loss.isEmpty {
            json.key("loss")
            json.beginObject()
            json.optionalInt("neg_pos_ratio", loss.negPosRatio)
            json.optionalInt("n_neg_min", loss.nNegMin)
            if let alpha = loss.alpha {
                json.key("alpha")
                json.double(alpha)
            }
            if let mining = loss.mining {
                json.key("mining")
                json.string(mining.rawValue)
            }
            json.endObject()
        }
        json.endObject()
        return json.bytes
    }
}
