"""mmdetection's SSD loss, transcribed line for line into NumPy (float64).

Upstream: open-mmlab/mmdetection, release 3.3.0 (the PyPI wheel mmdet-3.3.0-py3-none-any.whl):
  * mmdet/models/dense_heads/ssd_head.py: SSDHead.loss_by_feat_single, SSDHead.loss_by_feat
  * mmdet/models/dense_heads/anchor_head.py: AnchorHead.get_targets (the avg_factor line)
  * mmdet/models/task_modules/samplers/sampling_result.py: SamplingResult.__init__
    (num_pos = max(pos_inds.numel(), 1); avg_factor = num_pos with PseudoSampler)
  * mmdet/models/losses/smooth_l1_loss.py: smooth_l1_loss; mmdet/models/losses/utils.py:
    weight_reduce_loss (loss.sum() / (avg_factor + eps), eps = float32 machine epsilon)
  * mmdet/.mim/configs/_base_/models/ssd300.py: train_cfg neg_pos_ratio=3, smoothl1_beta=1.

Why a transcription: mmdet 3.3.0 needs mmcv>=2.0.0rc4,<2.2.0 with its compiled ops, and PyPI has
only mmcv's source distribution (no wheel), so it cannot be installed without compiling.

mmdet's conventions are kept: class scores have num_classes + 1 columns, the background is the
LAST one (label num_classes), and an anchor with label weight 0 keeps the background label.
``to_lossd_compact`` maps such a batch to lossd's compact layout (background 0, ignored -1).
Each upstream line is quoted in a comment above its transcription.
"""

from __future__ import annotations

import numpy as np

FLOAT32_EPS = float(np.finfo(np.float32).eps)


def cross_entropy(cls_score: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """F.cross_entropy(cls_score, labels, reduction='none'), stably, in float64."""
    top = cls_score.max(axis=1, keepdims=True)
    lse = np.log(np.exp(cls_score - top).sum(axis=1)) + top[:, 0]
    return lse - cls_score[np.arange(len(labels)), labels]


def smooth_l1_loss(pred, target, weight, beta, avg_factor):
    """@weighted_loss smooth_l1_loss with reduction='mean' and avg_factor."""
    # diff = torch.abs(pred - target)
    diff = np.abs(pred - target)
    # loss = torch.where(diff < beta, 0.5 * diff * diff / beta, diff - 0.5 * beta)
    loss = np.where(diff < beta, 0.5 * diff * diff / beta, diff - 0.5 * beta)
    # weight_reduce_loss: loss = loss * weight; loss = loss.sum() / (avg_factor + eps)
    return (loss * weight).sum() / (avg_factor + FLOAT32_EPS)


def loss_by_feat_single(cls_score, bbox_pred, labels, label_weights, bbox_targets, bbox_weights, avg_factor,
                        num_classes, neg_pos_ratio=3, smoothl1_beta=1.0):
    """SSDHead.loss_by_feat_single for one image; returns (loss_cls, loss_bbox, negatives taken)."""
    # loss_cls_all = F.cross_entropy(cls_score, labels, reduction='none') * label_weights
    loss_cls_all = cross_entropy(cls_score, labels) * label_weights
    # pos_inds = ((labels >= 0) & (labels < self.num_classes)).nonzero(as_tuple=False).reshape(-1)
    pos_inds = np.nonzero((labels >= 0) & (labels < num_classes))[0]
    # neg_inds = (labels == self.num_classes).nonzero(as_tuple=False).view(-1)
    neg_inds = np.nonzero(labels == num_classes)[0]
    # num_pos_samples = pos_inds.size(0)
    num_pos_samples = pos_inds.shape[0]
    # num_neg_samples = self.train_cfg['neg_pos_ratio'] * num_pos_samples
    num_neg_samples = neg_pos_ratio * num_pos_samples
    # if num_neg_samples > neg_inds.size(0): num_neg_samples = neg_inds.size(0)
    if num_neg_samples > neg_inds.shape[0]:
        num_neg_samples = neg_inds.shape[0]
    # topk_loss_cls_neg, _ = loss_cls_all[neg_inds].topk(num_neg_samples)
    topk_loss_cls_neg = np.sort(loss_cls_all[neg_inds])[::-1][:num_neg_samples]
    # loss_cls_pos = loss_cls_all[pos_inds].sum()
    loss_cls_pos = loss_cls_all[pos_inds].sum()
    # loss_cls_neg = topk_loss_cls_neg.sum()
    loss_cls_neg = topk_loss_cls_neg.sum()
    # loss_cls = (loss_cls_pos + loss_cls_neg) / avg_factor
    loss_cls = (loss_cls_pos + loss_cls_neg) / avg_factor
    # loss_bbox = smooth_l1_loss(bbox_pred, bbox_targets, bbox_weights, beta=..., avg_factor=avg_factor)
    loss_bbox = smooth_l1_loss(bbox_pred, bbox_targets, bbox_weights, smoothl1_beta, avg_factor)
    return loss_cls, loss_bbox, num_neg_samples


def loss_by_feat(all_cls_scores, all_bbox_preds, all_labels, all_label_weights, all_bbox_targets, all_bbox_weights,
                 num_classes, neg_pos_ratio=3):
    """SSDHead.loss_by_feat after get_targets, summed as mmengine's parse_losses sums a list.

    Returns a dict: loss_cls and loss_bbox (sums over images), per_image (each image's
    loss_cls + loss_bbox), avg_factor and negatives (what topk took, over all images).
    """
    # SamplingResult: self.num_pos = max(pos_inds.numel(), 1); avg_factor = num_pos (PseudoSampler)
    # AnchorHead.get_targets: avg_factor = sum([results.avg_factor for results in sampling_results_list])
    avg_factor = sum(max(int(((labels >= 0) & (labels < num_classes) & (weights > 0)).sum()), 1)
                     for labels, weights in zip(all_labels, all_label_weights))
    # losses_cls, losses_bbox = multi_apply(self.loss_by_feat_single, ..., avg_factor=avg_factor)
    results = [loss_by_feat_single(*args, avg_factor=avg_factor, num_classes=num_classes, neg_pos_ratio=neg_pos_ratio)
               for args in zip(all_cls_scores, all_bbox_preds, all_labels, all_label_weights, all_bbox_targets,
                               all_bbox_weights)]
    # parse_losses: sum(_loss.mean() for _loss in loss_value) for each list of per-image losses
    return {
        "loss_cls": sum(r[0] for r in results),
        "loss_bbox": sum(r[1] for r in results),
        "per_image": [r[0] + r[1] for r in results],
        "avg_factor": avg_factor,
        "negatives": sum(r[2] for r in results),
    }


def to_lossd_compact(labels, label_weights, cls_scores, num_classes):
    """mmdet's per-anchor labels and scores in lossd's compact layout: background 0, classes
    1…num_classes, ignored (weight 0) -1; the score columns rotated so the background is first
    (cross-entropy does not depend on the order of the columns)."""
    lossd = np.where(labels == num_classes, 0, labels + 1).astype(np.int32)
    lossd[label_weights == 0] = -1
    scores = np.concatenate([cls_scores[..., num_classes:], cls_scores[..., :num_classes]], axis=-1)
    return lossd, scores
