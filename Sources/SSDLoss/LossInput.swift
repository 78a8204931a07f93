/// The tensors of one batch, viewed in place as little-endian bytes.
///
/// The buffers are borrowed for the duration of one ``MultiBoxLoss/compute(_:shape:dtype:workspace:)``
/// call; the loss never copies them into arrays of the whole batch.
public enum LossInput {
    /// `y_true` and `y_pred`, each `[B, N, C + 12]` elements of the batch's scalar type.
    case keras(yTrue: UnsafeRawBufferPointer, yPred: UnsafeRawBufferPointer)
    /// `labels` int32 `[B, N]` (−1 ignore, 0 background, 1…C−1 class), `gt_offsets [B, N, 4]`,
    /// `scores [B, N, C]` and `pred_offsets [B, N, 4]`, the last three of the batch's scalar type.
    case compact(
        labels: UnsafeRawBufferPointer,
        gtOffsets: UnsafeRawBufferPointer,
        scores: UnsafeRawBufferPointer,
        predOffsets: UnsafeRawBufferPointer
    )
}
