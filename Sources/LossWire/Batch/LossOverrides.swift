public import SSDLoss

/// Per-batch loss settings from the header's `loss` object; absent settings take the configured ones.
public struct LossOverrides: Sendable, Hashable {
    /// `neg_pos_ratio`, an integer ≥ 0.
    public var negPosRatio: Int?
    /// `n_neg_min`, an integer ≥ 0.
    public var nNegMin: Int?
    /// `alpha`, a finite number ≥ 0.
    public var alpha: Double?
    /// `mining`, `batch` or `image`.
    public var mining: MiningMode?

    /// Creates overrides; none by default.
    public init(negPosRatio: Int? = nil, nNegMin: Int? = nil, alpha: Double? = nil, mining: MiningMode? = nil) {
        self.negPosRatio = negPosRatio
        self.nNegMin = nNegMin
        self.alpha = alpha
        self.mining = mining
    }

    /// True when no setting is overridden.
    public var isEmpty: Bool {
        negPosRatio == nil && nNegMin == nil && alpha == nil && mining == nil
    }

    /// Whether the `loss` object sets `setting` (`scores` is a key of the header, never of `loss`).
    public func sets(_ setting: LossSetting) -> Bool {
        switch setting {
        case .negPosRatio: negPosRatio != nil
        case .nNegMin: nNegMin != nil
        case .alpha: alpha != nil
        case .mining: mining != nil
        case .scores: false
        }
    }

    /// `defaults` with every present override applied.
    public func applied(to defaults: LossParameters) -> LossParameters {
        var parameters = defaults
        if let negPosRatio { parameters.negPosRatio = negPosRatio }
        if let nNegMin { parameters.nNegMin = nNegMin }
        if let alpha { parameters.alpha = alpha }
        if let mining { parameters.mining = mining }
        return parameters
    }
}
