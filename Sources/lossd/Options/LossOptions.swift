public import ArgumentParser
import Configuration
import LossBench
public import LossPipeline
public import SSDLoss

extension MiningMode: ExpressibleByArgument {}
extension ScoreKind: ExpressibleByArgument {}
extension LossProfile: ExpressibleByArgument {}
extension Layout: ExpressibleByArgument {}
extension ScalarType: ExpressibleByArgument {}
extension ReplayPace: ExpressibleByArgument {}
extension PipelineBenchmark.Transport: ExpressibleByArgument {}

/// The loss settings a header may override, as flags giving the defaults (`loss.*`, `limits.*`).
struct LossOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Which framework's loss to compute, where a header does not say: keras (SPEC, default), torchvision, "
                + "mmdet or ssd.pytorch.",
            discussion:
                "A profile sets the five settings below; a flag overrides one only where that framework has the same "
                + "knob (docs/LOSSES.md)."
        ))
    var profile: LossProfile?

    @Option(help: "Negatives kept per positive, where a header does not say (default: the profile's, 3).")
    var negPosRatio: Int?

    @Option(help: "The least number of negatives kept, where a header does not say (default 0; keras profile only).")
    var nNegMin: Int?

    @Option(help: "The weight of the localization loss, where a header does not say (default 1.0; keras profile only).")
    var alpha: Double?

    @Option(
        help: ArgumentHelp(
            "Where negatives are mined: batch (the reference, default) or image (keras profile; the others mine per "
                + "image).")
    )
    var mining: MiningMode?

    @Option(
        help: ArgumentHelp(
            "What y_pred's class entries hold, where a header does not say: probabilities (keras default) or logits "
                + "(the other profiles).")
    )
    var scores: ScoreKind?

    @Option(help: "Messages larger than this many bytes get a too_large error record (default 1 GiB).")
    var maxMessageBytes: Int?

    /// The flags that were given, by settings key.
    var flagValues: [String: ConfigContent] {
        var values: [String: ConfigContent] = [:]
        if let profile { values["loss.profile"] = .string(profile.rawValue) }
        if let negPosRatio { values["loss.neg_pos_ratio"] = .int(negPosRatio) }
        if let nNegMin { values["loss.n_neg_min"] = .int(nNegMin) }
        if let alpha { values["loss.alpha"] = .double(alpha) }
        if let mining { values["loss.mining"] = .string(mining.rawValue) }
        if let scores { values["loss.scores"] = .string(scores.rawValue) }
        if let maxMessageBytes { values["limits.max_message_bytes"] = .int(maxMessageBytes) }
        return values
    }
}
