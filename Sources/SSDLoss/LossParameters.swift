/// How the tensors of a batch are arranged.
public enum Layout: String, Sendable, Hashable, CaseIterable, Codable {
    /// `y_true` and `y_pred`, each `[B, N, C + 12]`: C class entries, 4 offsets, 8 ignored entries.
    case keras
    /// `labels` int32 `[B, N]`, `gt_offsets [B, N, 4]`, `scores [B, N, C]`, `pred_offsets [B, N, 4]`.
    case compact
}

/// What the class entries of `y_pred` hold.
public enum ScoreKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// Softmax outputs; the loss takes `log(max(p, 1e-15))`.
    case probabilities
    /// Raw logits; the loss takes a numerically stable log-softmax, with no clip.
    case logits
}

/// Where the k hardest negatives are chosen.
public enum MiningMode: String, Sendable, Hashable, CaseIterable, Codable {
    /// Over the whole flattened batch (the reference behaviour).
    case batch
    /// In each image alone, with that image's own positive and non-zero counts.
    case image
}

/// The settings that determine the loss of a batch: a profile and the five values it computes with.
public struct LossParameters: Sendable, Hashable, Codable {
    /// Negatives kept per positive (`k = neg_pos_ratio * floor(n_pos)` before the floor and cap).
    public var negPosRatio: Int
    /// The least number of negatives kept, even when there are no positives.
    public var nNegMin: Int
    /// The weight of the localization loss.
    public var alpha: Double
    /// Where negatives are mined.
    public var mining: MiningMode
    /// What the predicted class entries hold.
    public var scores: ScoreKind
    /// Which framework's loss the batch is computed as (``LossProfile``). Profiles other than
    /// `keras` always mine per image with no minimum, whatever ``mining`` and ``nNegMin`` say:
    /// ``LossProfile/firstUnsupported(in:)`` tells a caller which settings a profile refuses.
    public var profile: LossProfile

    /// Creates parameters; the defaults are the reference loss's.
    public init(
        negPosRatio: Int = 3,
        nNegMin: Int = 0,
        alpha: Double = 1.0,
        mining: MiningMode = .batch,
        scores: ScoreKind = .probabilities,
        profile: LossProfile = .keras
    ) {
        self.negPosRatio = negPosRatio
        self.nNegMin = nNegMin
        self.alpha = alpha
        self.mining = mining
        self.scores = scores
        self.profile = profile
    }

    /// Decodes the settings; a `profile` that is absent (as in data written before profiles
    /// existed, and in the golden cases) means `keras`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            negPosRatio: try container.decode(Int.self, forKey: .negPosRatio),
            nNegMin: try container.decode(Int.self, forKey: .nNegMin),
            alpha: try container.decode(Double.self, forKey: .alpha),
            mining: try container.decode(MiningMode.self, forKey: .mining),
            scores: try container.decode(ScoreKind.self, forKey: .scores),
            profile: try container.decodeIfPresent(LossProfile.self, forKey: .profile) ?? .keras)
    }

    enum CodingKeys: String, CodingKey {
        case negPosRatio = "neg_pos_ratio"
        case nNegMin = "n_neg_min"
        case alpha
        case mining
        case scores
        case profile
    }
}
