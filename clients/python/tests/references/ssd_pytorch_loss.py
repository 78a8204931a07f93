"""ssd.pytorch's MultiBoxLoss.forward, transcribed line for line into NumPy (float64).

Upstream: amdegroot/ssd.pytorch (not a package on PyPI, so it cannot be installed and is
transcribed): layers/modules/multibox_loss.py (MultiBoxLoss.forward) as of commit
07a475801dc083ff43187d1586cca6ccdb409021 and layers/box_utils.py (log_sum_exp) as of commit
26078c6ca672c914a8ed83bc2b8404653f92d377; neither function changed between the two.

The transcription starts after ``match()``: it takes the matched ``conf_t`` (0 background,
1…C−1 class) and encoded ``loc_t`` as they come out of it. Each upstream line is quoted in a
comment above its transcription. Where torch's sort leaves ties unspecified (entries whose
mining loss is 0: the positives, and negatives with no loss), this uses a stable sort; only
which zero-loss boxes are taken depends on it, never the loss.
"""

from __future__ import annotations

import numpy as np


def log_sum_exp(x: np.ndarray) -> np.ndarray:
    # x_max = x.data.max(); return torch.log(torch.sum(torch.exp(x-x_max), 1, keepdim=True)) + x_max
    x_max = x.max()
    return np.log(np.exp(x - x_max).sum(axis=1, keepdims=True)) + x_max


def cross_entropy_sum(conf_p: np.ndarray, targets: np.ndarray) -> float:
    """F.cross_entropy(conf_p, targets, size_average=False): the summed cross-entropy."""
    top = conf_p.max(axis=1, keepdims=True)
    lse = np.log(np.exp(conf_p - top).sum(axis=1)) + top[:, 0]
    return float((lse - conf_p[np.arange(len(targets)), targets]).sum())


def smooth_l1_sum(a: np.ndarray, b: np.ndarray) -> float:
    """F.smooth_l1_loss(a, b, size_average=False) (beta 1)."""
    d = np.abs(a - b)
    return float(np.where(d < 1, 0.5 * d * d, d - 0.5).sum())


def multibox_loss(loc_data, conf_data, loc_t, conf_t, negpos_ratio=3):
    """Returns a dict: loss_l, loss_c, per_image (each image's share, for lossd's per_item),
    num_pos, negatives (background boxes the negative mask takes)."""
    num, num_priors, num_classes = conf_data.shape
    # pos = conf_t > 0
    pos = conf_t > 0
    # num_pos = pos.sum(dim=1, keepdim=True)
    num_pos = pos.sum(axis=1, keepdims=True)
    # loc_p = loc_data[pos_idx].view(-1, 4); loc_t = loc_t[pos_idx].view(-1, 4)
    # loss_l = F.smooth_l1_loss(loc_p, loc_t, size_average=False)
    loss_l_image = [smooth_l1_sum(loc_data[b][pos[b]], loc_t[b][pos[b]]) for b in range(num)]
    loss_l = sum(loss_l_image)
    # batch_conf = conf_data.view(-1, self.num_classes)
    batch_conf = conf_data.reshape(-1, num_classes)
    # loss_c = log_sum_exp(batch_conf) - batch_conf.gather(1, conf_t.view(-1, 1))
    loss_c = log_sum_exp(batch_conf) - np.take_along_axis(batch_conf, conf_t.reshape(-1, 1), axis=1)
    # loss_c[pos.view(-1, 1)] = 0  # filter out pos boxes for now
    loss_c[pos.reshape(-1, 1)] = 0
    # loss_c = loss_c.view(num, -1)
    loss_c = loss_c.reshape(num, -1)
    # _, loss_idx = loss_c.sort(1, descending=True)
    loss_idx = np.argsort(-loss_c, axis=1, kind="stable")
    # _, idx_rank = loss_idx.sort(1)
    idx_rank = np.argsort(loss_idx, axis=1, kind="stable")
    # num_pos = pos.long().sum(1, keepdim=True)
    num_pos = pos.astype(np.int64).sum(axis=1, keepdims=True)
    # num_neg = torch.clamp(self.negpos_ratio*num_pos, max=pos.size(1)-1)
    num_neg = np.minimum(negpos_ratio * num_pos, pos.shape[1] - 1)
    # neg = idx_rank < num_neg.expand_as(idx_rank)
    neg = idx_rank < num_neg
    # conf_p = conf_data[(pos_idx+neg_idx).gt(0)].view(-1, self.num_classes)
    # targets_weighted = conf_t[(pos+neg).gt(0)]
    # loss_c = F.cross_entropy(conf_p, targets_weighted, size_average=False)
    chosen = pos | neg
    loss_c_image = [cross_entropy_sum(conf_data[b][chosen[b]], conf_t[b][chosen[b]]) for b in range(num)]
    loss_c = sum(loss_c_image)
    # N = num_pos.data.sum(); loss_l /= N.float(); loss_c /= N.float()
    N = float(num_pos.sum())
    return {
        "loss_l": loss_l / N,
        "loss_c": loss_c / N,
        "per_image": [(c + l) / N for c, l in zip(loss_c_image, loss_l_image)],
        "num_pos": N,
        "negatives": int((neg & ~pos).sum()),
    }
