/// Which framework's SSD loss a batch is computed as: the semantics that differ between the
/// frameworks people train with (docs/LOSSES.md has the table and the upstream sources).
///
/// Every profile computes the same per-box losses (cross-entropy, smooth L1 with β = 1); they
/// differ in how many negatives are mined per image, whether positives can be counted again,
/// what the sums are divided by, and whether the per-image loss is multiplied by B.
public enum LossProfile: String, Sendable, Hashable, CaseIterable, Codable {
    /// SPEC §1, ssd_keras's `SSDLoss.compute_loss`: the reference and the default.
    case keras
    /// torchvision's `SSD.compute_loss`: per image, `k = ratio × positives` not capped at the
    /// negatives (positives fill the rest and count twice), divided by the batch's positives.
    case torchvision
    /// mmdetection's `SSDHead.loss_by_feat`: per image, `k` capped at the image's negatives,
    /// divided by the sum over images of `max(1, positives of the image)`.
    case mmdet
    /// ssd.pytorch's `MultiBoxLoss`: per image, `k = min(ratio × positives, N − 1)`, positives
    /// never counted twice, divided by the batch's positives.
    case ssdPytorch = "ssd.pytorch"

    /// The settings this profile computes with when nothing overrides them.
    public var parameters: LossParameters {
        switch self {
        case .keras: LossParameters()
        case .torchvision, .mmdet, .ssdPytorch:
            LossParameters(negPosRatio: 3, nNegMin: 0, alpha: 1, mining: .image, scores: .logits, profile: self)
        }
    }

    /// Whether the framework has a knob for `setting`, so that an override may change it.
    ///
    /// Every framework has a negative-to-positive ratio; only the keras reference also has a
    /// minimum, a localization weight, a choice of mining scope and of score kind.
    public func takes(_ setting: LossSetting) -> Bool {
        self == .keras || setting == .negPosRatio
    }

    /// The first setting of `parameters` that differs from this profile's own value where the
    /// framework has no knob for it; nil when the profile can compute with `parameters`.
    public func firstUnsupported(in parameters: LossParameters) -> LossSetting? {
        let own = self.parameters
        for setting in LossSetting.allCases where !takes(setting) {
            if parameters.value(of: setting) != own.value(of: setting) { return setting }
        }
        return nil
    }

    /// Why this profile refuses `setting`, and the one value it accepts, for error messages.
    public func refusal(of setting: LossSetting) -> String {
        let own = parameters.value(of: setting)
        let reason =
            switch setting {
            case .negPosRatio: "it is a knob of every profile"
            case .nNegMin: "\(framework) keeps no minimum of negatives"
            case .alpha: "\(framework) adds the localization loss with weight 1"
            case .mining: "\(framework) mines each image alone"
            case .scores: "\(framework) takes the cross-entropy of raw logits"
            }
        return "profile \(rawValue) cannot take it: \(reason); accepted: \(own) (or choose profile keras)"
    }

    /// The framework's name as people know it.
    public var framework: String {
        switch self {
        case .keras: "ssd_keras"
        case .torchvision: "torchvision"
        case .mmdet: "mmdetection"
        case .ssdPytorch: "ssd.pytorch"
        }
    }
}

/// One of the five loss settings a header's `loss` object (or `scores` key) and the
/// configuration may set.
public enum LossSetting: String, Sendable, Hashable, CaseIterable {
    /// `neg_pos_ratio`.
    case negPosRatio = "neg_pos_ratio"
    /// `n_neg_min`.
    case nNegMin = "n_neg_min"
    /// `alpha`.
    case alpha
    /// `mining`.
    case mining
    /// `scores`.
    case scores
}

extension LossParameters {
    /// The value of `setting`, as text (for comparisons and messages).
    public func value(of setting: LossSetting) -> String {
        switch setting {
        case .negPosRatio: "\(negPosRatio)"
        case .nNegMin: "\(nNegMin)"
        case .alpha: "\(alpha)"
        case .mining: mining.rawValue
        case .scores: scores.rawValue
        }
    }
}
