/// One scalar value of an event: its tag (the series, e.g. `loss/pooled`) and its value.
public struct ScalarValue: Sendable, Hashable {
    /// The series: TensorBoard groups the tags by what comes before their first `/`.
    public var tag: String
    /// The value; TensorBoard keeps scalars as float32.
    public var value: Double

    /// A value as given.
    public init(tag: String, value: Double) {
        self.tag = tag
        self.value = value
    }
}
