/// The dimensions of a batch: B images, N boxes per image, C classes (background included).
public struct BatchShape: Sendable, Hashable, Codable {
    /// B, the number of images (≥ 1).
    public var batch: Int
    /// N, the number of boxes per image (≥ 1).
    public var boxes: Int
    /// C, the number of classes, background included (≥ 2).
    public var classes: Int

    /// Creates a shape. Callers validate the ranges; see `LossWire` for the checked path.
    public init(batch: Int, boxes: Int, classes: Int) {
        self.batch = batch
        self.boxes = boxes
        self.classes = classes
    }

    /// B·N, the number of boxes in the batch.
    public var boxCount: Int { batch * boxes }

    /// C + 12, the length of the last axis of a `keras`-layout tensor.
    public var kerasWidth: Int { classes + 12 }
}
