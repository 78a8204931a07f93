/// One figure of a step for the three loss components; nil where it cannot be given.
public struct StepValues: Sendable, Hashable {
    /// `loss`.
    public var loss: Double?
    /// `classification`.
    public var classification: Double?
    /// `localization`.
    public var localization: Double?

    /// Values as given.
    public init(loss: Double? = nil, classification: Double? = nil, localization: Double? = nil) {
        self.loss = loss
        self.classification = classification
        self.localization = localization
    }

    /// No value for any component.
    public static let none = StepValues()

    /// The three components by name: loss, classification, localization.
    public var named: [(name: String, value: Double?)] {
        [("loss", loss), ("classification", classification), ("localization", localization)]
    }
}
