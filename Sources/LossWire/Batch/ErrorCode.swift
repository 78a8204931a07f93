/// Why a batch could not be computed; the `code` of an error record.
public enum ErrorCode: String, Sendable, Hashable, CaseIterable, Codable {
    /// The header is missing, not UTF-8, not a JSON object, or has a missing or invalid key.
    case badHeader = "bad_header"
    /// The header's `v` is an integer other than 1.
    case unsupportedVersion = "unsupported_version"
    /// The frame count or a frame's byte size does not match the header.
    case badFrames = "bad_frames"
    /// A grouping label (`run`, `split`, `source`, `epoch`, `step`, `seq`) is invalid, or a
    /// `compact` class label lies outside −1…C−1.
    case badLabels = "bad_labels"
    /// An input tensor holds NaN or ±Inf.
    case nonfinite
    /// The message is larger than `max_message_bytes`.
    case tooLarge = "too_large"
}
