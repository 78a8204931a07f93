#!/usr/bin/env python3
"""A stand-in trainer: sends SSD-shaped batches whose predictions improve, like a training run.

It uses only numpy and the lossd Python client, so it runs anywhere lossd does. Point it at a
sidecar and watch the loss fall on the aggregator's /stats or dashboard:

    python3 Examples/numpy_trainer.py --endpoint '>tcp://127.0.0.1:5555' --steps 200

In a real training loop the two arrays come from the model and the matched ground truth: see
keras_fit.py (Keras, model.fit) and torchvision_ssd.py (torchvision) next to this file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

try:
    from lossd_client import LossClient
except ImportError:  # running from a checkout without `pip install -e clients/python`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "clients" / "python"))
    from lossd_client import LossClient


def make_batch(rng: np.random.Generator, batch: int, boxes: int, classes: int, skill: float,
               positives: float = 0.01, ignored: float = 0.01):
    """y_true and y_pred, [batch, boxes, classes + 12] float32, as an SSD encoder lays them out."""
    width = classes + 12
    y_true = np.zeros((batch, boxes, width), np.float32)
    draw = rng.random((batch, boxes))
    labels = np.where(draw < positives, rng.integers(1, classes, size=(batch, boxes)), 0)
    labels = np.where(draw > 1 - ignored, -1, labels)  # -1: ignored (all class entries zero)
    b, n = np.nonzero(labels >= 0)
    y_true[b, n, labels[b, n]] = 1.0
    y_true[..., classes:classes + 4] = rng.normal(0, 0.8, size=(batch, boxes, 4))
    y_true[..., classes + 4:] = (0.5, 0.5, 0.2, 0.2, 0.1, 0.1, 0.2, 0.2)  # anchor and variances

    logits = rng.normal(size=(batch, boxes, classes)).astype(np.float32)
    target = np.where(labels >= 0, labels, 0)
    np.put_along_axis(logits, target[..., None], np.take_along_axis(logits, target[..., None], -1) + 1 + 7 * skill, -1)
    logits -= logits.max(-1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(-1, keepdims=True)
    y_pred = np.empty_like(y_true)
    y_pred[..., :classes] = probabilities
    noise = 0.05 + 1.5 * (1 - skill)
    y_pred[..., classes:classes + 4] = y_true[..., classes:classes + 4] + rng.normal(0, noise, size=(batch, boxes, 4))
    y_pred[..., classes + 4:] = y_true[..., classes + 4:]
    return y_true, y_pred


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", default=">tcp://127.0.0.1:5555", help="the sidecar's input (> connects)")
    parser.add_argument("--run", default="numpy-example", help="the run label")
    parser.add_argument("--split", default="train", help="the split label")
    parser.add_argument("--source", default=None,
                        help="this trainer's name (default: the client's, host:rank under a launcher, else host:pid)")
    parser.add_argument("--steps", type=int, default=100, help="batches to send")
    parser.add_argument("--steps-per-epoch", type=int, default=50, help="batches per epoch")
    parser.add_argument("--batch", type=int, default=4, help="images per batch")
    parser.add_argument("--boxes", type=int, default=8732, help="boxes per image (SSD300: 8732)")
    parser.add_argument("--classes", type=int, default=21, help="classes with background (VOC: 21)")
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between batches")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    started = time.monotonic()
    with LossClient(args.endpoint, run=args.run, split=args.split, source=args.source) as client:
        for step in range(args.steps):
            skill = 1 - 0.9 * 2 ** (-step / max(1, args.steps / 4))
            y_true, y_pred = make_batch(rng, args.batch, args.boxes, args.classes, skill)
            client.send(y_true, y_pred, step=step, epoch=step // args.steps_per_epoch)
            if args.interval:
                time.sleep(args.interval)
        sent, source = client.next_seq, client.source
    print(f"sent {sent} batches in {time.monotonic() - started:.1f} s as run={args.run} source={source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
