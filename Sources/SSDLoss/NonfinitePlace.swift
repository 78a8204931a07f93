/// What a value of the loss's inputs is, for a report of where a NaN or ±Inf lies and what it
/// probably means.
public enum NonfiniteKind: String, Sendable, Hashable, CaseIterable, Comparable {
    /// A class entry of `y_pred` or a compact `scores` value: a probability or a logit.
    case classScore = "class_score"
    /// A class entry of `y_true`: a class target.
    case groundTruthClass = "gt_class"
    /// A ground-truth box offset (`y_true` offsets, compact `gt_offsets`).
    case groundTruthOffset = "gt_offset"
    /// A predicted box offset (`y_pred` offsets, compact `pred_offsets`).
    case predictedOffset = "pred_offset"
    /// An anchor entry: the keras layout's 8 trailing entries. The loss never reads them, so no
    /// report names this kind today; it is part of the vocabulary for readers of records.
    case anchor

    /// What a person should check, in one sentence.
    public var hint: String {
        switch self {
        case .classScore, .predictedOffset:
            "a non-finite prediction means the model diverged (or a float16 output overflowed): "
                + "lower the learning rate or add warm-up, clip gradients, compute the last layers in float32"
        case .groundTruthOffset:
            "a non-finite ground-truth offset comes from a degenerate box (zero width or height) in the "
                + "encoder's input: drop or fix boxes with xmax <= xmin or ymax <= ymin before encoding"
        case .groundTruthClass:
            "a non-finite class target comes from the target encoder (for example soft labels divided "
                + "by a zero sum): check how the labels are built"
        case .anchor:
            "a non-finite anchor entry comes from the anchor generator: check its sizes and variances"
        }
    }

    /// Orders kinds as they are listed: the order of the cases.
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }

    private var rank: Int {
        switch self {
        case .classScore: 0
        case .groundTruthClass: 1
        case .groundTruthOffset: 2
        case .predictedOffset: 3
        case .anchor: 4
        }
    }
}

/// A non-finite value: NaN, +Inf or −Inf.
public enum NonfiniteValue: String, Sendable, Hashable {
    /// A NaN, quiet or signalling.
    case nan = "NaN"
    /// +Inf.
    case positiveInfinity = "+Inf"
    /// −Inf.
    case negativeInfinity = "-Inf"

    /// The kind of `value`, or nil when it is finite.
    init?(_ value: Double) {
        if value.isNaN {
            self = .nan
        } else if value == .infinity {
            self = .positiveInfinity
        } else if value == -.infinity {
            self = .negativeInfinity
        } else {
            return nil
        }
    }
}

/// Where one non-finite value lies: the tensor, the image, the anchor (box) in that image and the
/// column of the tensor's last axis, and what that column holds.
public struct NonfinitePlace: Sendable, Hashable, CustomStringConvertible {
    /// The tensor's name as on the wire (`y_true`, `y_pred`, `gt_offsets`, `scores`, `pred_offsets`).
    public var tensor: String
    /// The image: the index along the batch axis.
    public var image: Int
    /// The anchor: the box's index within its image.
    public var anchor: Int
    /// The index along the tensor's own last axis (keras: 0..<C class entries, then 4 offsets;
    /// compact `scores`: the class; compact offsets: 0...3).
    public var column: Int
    /// What the column holds.
    public var kind: NonfiniteKind
    /// The class of a class entry (``NonfiniteKind/classScore``, ``NonfiniteKind/groundTruthClass``).
    public var classIndex: Int?
    /// The offset's name (`cx`, `cy`, `w`, `h`) of an offset column.
    public var offsetName: String?
    /// The value found.
    public var value: NonfiniteValue

    /// Creates a place.
    public init(
        tensor: String, image: Int, anchor: Int, column: Int, kind: NonfiniteKind, classIndex: Int? = nil,
        offsetName: String? = nil, value: NonfiniteValue
    ) {
        self.tensor = tensor
        self.image = image
        self.anchor = anchor
        self.column = column
        self.kind = kind
        self.classIndex = classIndex
        self.offsetName = offsetName
        self.value = value
    }

    /// The names of the four box offsets, in column order.
    public static let offsetNames = ["cx", "cy", "w", "h"]

    /// What the column means, e.g. "class 7 score" or "ground-truth offset w".
    public var meaning: String {
        switch kind {
        case .classScore: "class \(classIndex ?? column) score"
        case .groundTruthClass: "class \(classIndex ?? column) target"
        case .groundTruthOffset: "ground-truth offset \(offsetName ?? "\(column)")"
        case .predictedOffset: "predicted offset \(offsetName ?? "\(column)")"
        case .anchor: "anchor entry \(column)"
        }
    }

    /// "NaN in y_pred at image 2, anchor 4000, column 7 (class 7 score)".
    public var description: String {
        "\(value.rawValue) in \(tensor) at image \(image), anchor \(anchor), column \(column) (\(meaning))"
    }
}
