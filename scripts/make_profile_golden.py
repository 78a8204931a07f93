#!/usr/bin/env python3
"""Writes the golden cases of lossd's loss profiles to Tests/Fixtures/profiles (NAME.json + NAME.bin).

* mmdet and ssd.pytorch cases come from the line-for-line NumPy transcriptions of the upstream
  functions in clients/python/tests/references (they cannot be installed from PyPI; see there);
* torchvision cases come from torchvision's own ``SSD.compute_loss`` (needs torch and
  torchvision: ``scripts/install-deps.sh --frameworks``).

Each .bin holds a compact-layout batch exactly as frames 1-4 of a message carry it: labels int32
[B, N], gt_offsets [B, N, 4], scores [B, N, C], pred_offsets [B, N, 4] (little-endian, in the
case's dtype). Each .json holds the shape, dtype, profile and what the reference computed.
The Swift tests (ProfileGoldenTests) compare lossd with every case; the Python test
test_profile_references.py checks that this script still writes the same numbers.

    python3 scripts/make_profile_golden.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "Tests" / "Fixtures" / "profiles"
sys.path.insert(0, str(ROOT / "clients" / "python" / "tests"))
sys.path.insert(0, str(ROOT / "clients" / "python"))

from references import mmdet_ssd_loss, ssd_pytorch_loss  # noqa: E402


def representable(values: np.ndarray, dtype: str) -> np.ndarray:
    """The values rounded to the case's dtype, back in float64 (what lossd will read)."""
    return values.astype(dtype).astype(np.float64)


def mmdet_case(name, note, seed, B, N, C, positive_fractions, dtype="float32", ignored=0.0, scale=3.0, huge=False):
    rng = np.random.default_rng(seed)
    num_classes = C - 1
    labels = np.full((B, N), num_classes, dtype=np.int64)
    weights = np.ones((B, N))
    for b, fraction in enumerate(positive_fractions):
        positive = rng.random(N) < fraction
        labels[b, positive] = rng.integers(0, num_classes, positive.sum())
        ignore = (~positive) & (rng.random(N) < ignored)
        weights[b, ignore] = 0.0  # mmdet: weight 0, background label kept
    scores = rng.normal(0, scale, (B, N, C))
    if huge:
        scores[..., num_classes] += 900.0  # background certain: exactly zero loss in float64
        scores[0, :5, num_classes] -= 1800.0
    scores = representable(scores, dtype)
    gt = representable(rng.normal(0, 1, (B, N, 4)) * (labels[..., None] < num_classes), dtype)
    pred = representable(rng.normal(0, 1.2, (B, N, 4)), dtype)
    bbox_weights = np.repeat((labels < num_classes)[..., None].astype(np.float64), 4, axis=2)
    ref = mmdet_ssd_loss.loss_by_feat(list(scores.reshape(B, N, C)), list(pred), list(labels), list(weights), list(gt),
                                      list(bbox_weights), num_classes)
    lossd_labels, lossd_scores = mmdet_ssd_loss.to_lossd_compact(labels, weights, scores, num_classes)
    expected = {"loss": ref["loss_cls"] + ref["loss_bbox"], "classification": ref["loss_cls"],
                "localization": ref["loss_bbox"], "per_item": ref["per_image"],
                "positives": float((lossd_labels > 0).sum()), "negatives": int(ref["negatives"])}
    return write(name, note, "mmdet", dtype, B, N, C, lossd_labels, gt, lossd_scores, pred, expected)


def ssd_pytorch_case(name, note, seed, B, N, C, positive_fractions, dtype="float32", scale=3.0):
    rng = np.random.default_rng(seed)
    conf_t = np.zeros((B, N), dtype=np.int64)
    for b, fraction in enumerate(positive_fractions):
        positive = rng.random(N) < fraction
        conf_t[b, positive] = rng.integers(1, C, positive.sum())
    conf = representable(rng.normal(0, scale, (B, N, C)), dtype)
    loc_t = representable(rng.normal(0, 1, (B, N, 4)) * (conf_t[..., None] > 0), dtype)
    loc = representable(rng.normal(0, 1.2, (B, N, 4)), dtype)
    ref = ssd_pytorch_loss.multibox_loss(loc, conf, loc_t, conf_t)
    expected = {"loss": ref["loss_c"] + ref["loss_l"], "classification": ref["loss_c"], "localization": ref["loss_l"],
                "per_item": ref["per_image"], "positives": ref["num_pos"], "negatives": ref["negatives"]}
    return write(name, note, "ssd.pytorch", dtype, B, N, C, conf_t.astype(np.int32), loc_t, conf, loc, expected)


def torchvision_case(name, note, seed, B, N, C, positive_fractions, dtype="float32", scale=3.0, ties=False,
                     huge=False):
    import torch

    from lossd_testkit_frameworks import tiny_torchvision_ssd, torchvision_loss_inputs
    from lossd_client.torch import torchvision_batch

    torch.manual_seed(seed)
    model = tiny_torchvision_ssd(C)
    rng = np.random.default_rng(seed)
    inputs = torchvision_loss_inputs(rng, B, N, C, positive_fractions, scale=scale, dtype=dtype, ties=ties, huge=huge)
    with torch.no_grad():
        ref = model.compute_loss(*inputs)
    labels, gt, logits, pred = (t.detach().numpy() for t in torchvision_batch(model, *inputs))
    classification, localization = float(ref["classification"]), float(ref["bbox_regression"])
    counts = torchvision_counts(inputs, model)
    expected = {"loss": classification + localization, "classification": classification,
                "localization": localization, "positives": float((labels > 0).sum()), "negatives": counts,
                "reference": f"torchvision {__import__('torchvision').__version__} SSD.compute_loss, torch {torch.__version__}"}
    return write(name, note, "torchvision", dtype, B, N, C, labels.astype(np.int32), gt.astype(np.float64),
                 logits.astype(np.float64), pred.astype(np.float64), expected)


def torchvision_counts(inputs, model):
    """The boxes torchvision's background mask holds: its own lines, counted."""
    import torch
    import torch.nn.functional as F

    targets, head_outputs, anchors, matched_idxs = inputs
    logits = head_outputs["cls_logits"]
    cls_targets = torch.stack([torch.where(m >= 0, t["labels"][m.clamp(min=0)], torch.zeros_like(m))
                               for t, m in zip(targets, matched_idxs)])
    cls_loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), cls_targets.reshape(-1), reduction="none")
    cls_loss = cls_loss.view(cls_targets.size())
    foreground_idxs = cls_targets > 0
    num_negative = model.neg_to_pos_ratio * foreground_idxs.sum(1, keepdim=True)
    negative_loss = cls_loss.clone()
    negative_loss[foreground_idxs] = -float("inf")
    _, idx = negative_loss.sort(1, descending=True)
    return int((idx.sort(1)[1] < num_negative).sum())


def write(name, note, profile, dtype, B, N, C, labels, gt, scores, pred, expected):
    OUT.mkdir(parents=True, exist_ok=True)
    little = np.dtype(dtype).newbyteorder("<")
    blob = (np.ascontiguousarray(labels, "<i4").tobytes() + np.ascontiguousarray(gt, little).tobytes()
            + np.ascontiguousarray(scores, little).tobytes() + np.ascontiguousarray(pred, little).tobytes())
    meta = {"name": name, "note": note, "profile": profile, "dtype": dtype, "batch": B, "boxes": N, "classes": C,
            "expected": {k: (float(v) if isinstance(v, (float, np.floating)) else
                             [float(x) for x in v] if isinstance(v, list) else v) for k, v in expected.items()}}
    return name, blob, json.dumps(meta, indent=1) + "\n"


def cases(with_torchvision: bool):
    out = [
        mmdet_case("mmdet-random", "per-image mining, k well under the negatives", 11, 3, 200, 6, [0.05, 0.02, 0.1]),
        mmdet_case("mmdet-cap", "an image 40% positive: k capped at its negatives", 12, 2, 150, 5, [0.4, 0.05]),
        mmdet_case("mmdet-empty-image", "an image with no positive still adds 1 to avg_factor", 13, 3, 120, 4,
                   [0.1, 0.0, 0.05]),
        mmdet_case("mmdet-ignored", "weight-0 anchors: background label, zero loss, in the negative pool", 14, 2, 160,
                   5, [0.3, 0.1], ignored=0.3),
        mmdet_case("mmdet-float16", "float16 inputs", 15, 2, 256, 6, [0.05, 0.08], dtype="float16"),
        mmdet_case("mmdet-huge", "background logits 900 above: zero-loss negatives count for topk", 16, 2, 100, 4,
                   [0.3, 0.05], dtype="float64", huge=True),
        ssd_pytorch_case("ssd-pytorch-random", "k well under the negatives", 21, 3, 200, 6, [0.05, 0.02, 0.1]),
        ssd_pytorch_case("ssd-pytorch-crowded", "an image 40% positive: positives ranked at 0, never twice", 22, 2,
                         150, 5, [0.4, 0.05]),
        ssd_pytorch_case("ssd-pytorch-clamp", "an image 60% positive: k clamped at N - 1", 23, 2, 80, 4, [0.6, 0.2]),
        ssd_pytorch_case("ssd-pytorch-float16", "float16 inputs", 24, 2, 256, 6, [0.05, 0.08], dtype="float16"),
    ]
    if with_torchvision:
        out += [
            torchvision_case("torchvision-random", "k well under the negatives", 31, 3, 300, 6, [0.05, 0.02, 0.1]),
            torchvision_case("torchvision-crowded", "images 27% and 30% positive: some positives counted twice", 32,
                             2, 300, 5, [0.27, 0.3]),
            torchvision_case("torchvision-whole-image", "an image entirely positive, one with none", 33, 2, 120, 4,
                             [1.0, 0.0]),
            torchvision_case("torchvision-no-positives", "no positive in the batch: N = 1, no negative", 34, 2, 100, 4,
                             [0.0, 0.0]),
            torchvision_case("torchvision-ties", "logits in steps of 0.5: many equal losses", 35, 2, 200, 4,
                             [0.3, 0.1], ties=True),
            torchvision_case("torchvision-float16", "float16 logits", 36, 2, 256, 6, [0.05, 0.3], dtype="float16"),
            torchvision_case("torchvision-huge", "logits of +-60: float32 losses of exactly 0", 37, 2, 150, 4,
                             [0.1, 0.05], huge=True),
        ]
    return out


def torch_sort_orders():
    """Arrays (float32, with ties and -inf) and the permutation torch's CPU sort(descending=True)
    gives each: the fixture of the Swift test of TorchSortOrder."""
    import torch

    rng = np.random.default_rng(41)
    arrays = []
    for n in (1, 2, 5, 16, 17, 18, 33, 64, 100, 257, 1000):
        values = rng.random(n).astype(np.float32)
        values[rng.random(n) < 0.35] = -np.inf
        if n % 2:
            values = np.round(values * 4) / 4  # many equal values
        values = values.astype(np.float32)
        order = torch.from_numpy(values).sort(descending=True)[1].tolist()
        arrays.append({"values": [None if not np.isfinite(v) else float(v) for v in values], "order": order})
    meta = {"note": "None stands for -inf", "reference": f"torch {torch.__version__} CPU Tensor.sort(descending=True)",
            "cases": arrays}
    return "torch-sort-order", None, json.dumps(meta) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    parser.add_argument("--without-torchvision", action="store_true", help="only the transcription cases")
    args = parser.parse_args(argv)
    stale = []
    everything = cases(not args.without_torchvision)
    if not args.without_torchvision:
        everything.append(torch_sort_orders())
    for name, blob, meta in everything:
        if blob is None:  # the sort-order fixture: JSON only
            if args.check:
                if json.loads((OUT / f"{name}.json").read_text())["cases"] != json.loads(meta)["cases"]:
                    stale.append(name)
            else:
                (OUT / f"{name}.json").write_text(meta)
                print(f"wrote {name}")
            continue
        if args.check:
            old = json.loads((OUT / f"{name}.json").read_text())
            new = json.loads(meta)
            same_bin = (OUT / f"{name}.bin").read_bytes() == blob
            close = all(np.allclose(np.asarray(old["expected"][k], dtype=float), np.asarray(v, dtype=float),
                                    rtol=1e-12, atol=0) for k, v in new["expected"].items() if k != "reference")
            if not (same_bin and close):
                stale.append(name)
        else:
            (OUT / f"{name}.bin").write_bytes(blob)
            (OUT / f"{name}.json").write_text(meta)
            print(f"wrote {name}")
    if stale:
        print("stale golden cases: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
