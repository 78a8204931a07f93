"""Send what a PyTorch SSD computes its loss from to lossd (needs torch; torchvision for the SSD hook).

Importing this module imports torch; the rest of lossd_client needs only numpy and pyzmq.

Two ways in:

* :func:`hook_torchvision_ssd` wraps a torchvision ``SSD`` model's ``compute_loss`` so that every
  training step also sends its inputs (head outputs, matched anchors, encoded targets) to lossd,
  which computes the ``torchvision`` profile's loss from them; the model's own losses and
  gradients are untouched.
* :func:`send_tensors` sends a plain (labels, target offsets, logits, predicted offsets) batch
  from any other PyTorch SSD.

Both send the compact layout (a quarter of the keras layout's bytes) in float16 by default, or
float32 for exact comparisons.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import torch

from .client import LossClient

__all__ = ["hook_torchvision_ssd", "send_tensors", "torchvision_batch", "TorchvisionHook"]

_NUMPY_DTYPES = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}


def _to_numpy(tensor: torch.Tensor, dtype: torch.dtype) -> np.ndarray:
    # A copy that lossd_client may send without copying again: nothing else holds it.
    return tensor.detach().to(device="cpu", dtype=dtype).contiguous().numpy()


def torchvision_batch(model: Any, targets: List[Dict[str, torch.Tensor]], head_outputs: Mapping[str, torch.Tensor],
                      anchors: List[torch.Tensor], matched_idxs: List[torch.Tensor]
                      ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The compact-layout tensors of the arguments of torchvision's ``SSD.compute_loss``.

    Returns ``(labels [B, N] int32, gt_offsets [B, N, 4], logits [B, N, C], pred_offsets [B, N, 4])``:
    a box matched to a target gets that target's label and the offsets ``model.box_coder`` encodes
    for it (as ``compute_loss`` does); every other box is background (label 0, offsets 0).
    """
    logits = head_outputs["cls_logits"]
    regression = head_outputs["bbox_regression"]
    labels = torch.zeros(logits.shape[:2], dtype=torch.int32, device=logits.device)
    gt_offsets = torch.zeros_like(regression)
    with torch.no_grad():
        for image, (target, image_anchors, matched) in enumerate(zip(targets, anchors, matched_idxs)):
            foreground = torch.where(matched >= 0)[0]
            assigned = matched[foreground]
            labels[image, foreground] = target["labels"][assigned].to(torch.int32)
            gt_offsets[image, foreground] = model.box_coder.encode_single(
                target["boxes"][assigned], image_anchors[foreground]).to(gt_offsets.dtype)
    return labels, gt_offsets, logits, regression


def send_tensors(client: LossClient, labels: torch.Tensor, gt_offsets: torch.Tensor, logits: torch.Tensor,
                 pred_offsets: torch.Tensor, *, dtype: torch.dtype = torch.float16, profile: str = "torchvision",
                 step: Optional[int] = None, epoch: Optional[int] = None,
                 loss: Optional[Mapping[str, Any]] = None, split: Optional[str] = None) -> int:
    """Sends one batch in the compact layout; returns its seq.

    ``labels`` ``[B, N]`` (−1 ignore, 0 background, 1…C−1 class), ``gt_offsets`` and
    ``pred_offsets`` ``[B, N, 4]``, ``logits`` ``[B, N, C]`` (raw class scores). The float tensors
    are sent as ``dtype`` (float16 halves the bytes; float32 keeps the model's values exactly).
    """
    if dtype not in _NUMPY_DTYPES:
        raise ValueError(f"dtype must be torch.float16, torch.float32 or torch.float64, not {dtype}")
    return client.send_compact(
        _to_numpy(labels, torch.int32), _to_numpy(gt_offsets, dtype), _to_numpy(logits, dtype),
        _to_numpy(pred_offsets, dtype), step=step, epoch=epoch, loss=loss, scores_kind="logits", split=split,
        profile=profile)


class TorchvisionHook:
    """What :func:`hook_torchvision_ssd` returns: counts what it sent; :meth:`remove` unhooks."""

    def __init__(self, model: Any, client: LossClient, dtype: torch.dtype, step: Optional[int]) -> None:
        self.model = model
        self.client = client
        self.dtype = dtype
        self.step = step
        self.sent = 0
        #: The fraction of anchors matched to a target, per image, in the last batch sent.
        self.last_positive_fractions: List[float] = []
        self._original = model.compute_loss

    def __call__(self, targets, head_outputs, anchors, matched_idxs):
        losses = self._original(targets, head_outputs, anchors, matched_idxs)
        labels, gt_offsets, logits, regression = torchvision_batch(self.model, targets, head_outputs, anchors, matched_idxs)
        send_tensors(self.client, labels, gt_offsets, logits, regression, dtype=self.dtype, step=self.step)
        self.last_positive_fractions = [float((m >= 0).sum()) / max(1, m.numel()) for m in matched_idxs]
        self.sent += 1
        if self.step is not None:
            self.step += 1
        return losses

    def remove(self) -> None:
        """Restores the model's own ``compute_loss``."""
        if self.model.__dict__.get("compute_loss") is self:
            del self.model.__dict__["compute_loss"]


def hook_torchvision_ssd(model: Any, client: LossClient, *, dtype: torch.dtype = torch.float16,
                         first_step: Optional[int] = 0) -> TorchvisionHook:
    """Makes every ``compute_loss`` of a torchvision ``SSD`` (hence every training ``forward``)
    also send its inputs to lossd with the ``torchvision`` profile.

    The model's losses are returned unchanged and autograd is untouched (the tensors are detached
    copies). ``first_step`` numbers the batches' ``step`` (None leaves it out).
    """
    if dtype not in _NUMPY_DTYPES:
        raise ValueError(f"dtype must be torch.float16, torch.float32 or torch.float64, not {dtype}")
    hook = TorchvisionHook(model, client, dtype, first_step)
    model.compute_loss = hook
    return hook
