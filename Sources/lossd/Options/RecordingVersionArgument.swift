public import ArgumentParser
public import LossWire

/// `--recording-version 1` or `2` on the command line.
extension RecordingFormat.Version: ExpressibleByArgument {
    /// The version named by its number, `1` or `2`.
    public init?(argument: String) {
        guard let number = Int(argument) else { return nil }
        self.init(rawValue: number)
    }

    /// `1` and `2`, for `--help` and completion.
    public static var allValueStrings: [String] { allCases.map(\.description) }
}
