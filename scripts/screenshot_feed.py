#!/usr/bin/env python3
"""Feeds a running `lossd aggregate` a short, realistic live run for `make screenshot`.

Pushes loss records (as sidecars would) for two runs: ssd300-voc (train from two ranks, val now
and then) and ssd512-coco (train, with a few error records, a lost stretch of seqs and a spike).
The losses fall like a training run's: fast at first, then slowly, with batch-to-batch noise.

usage: screenshot_feed.py ENDPOINT [--batches N] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time

import zmq


def record(run: str, split: str, source: str, seq: int, step: int, epoch: int, batch: int,
           classification: float, localization: float) -> bytes:
    loss = classification + localization
    return json.dumps({
        "v": 1, "kind": "loss", "run": run, "split": split, "source": source, "epoch": epoch, "step": step,
        "seq": seq, "batch": batch, "boxes": 8732, "classes": 21, "loss": loss, "classification": classification,
        "localization": localization, "per_item": [loss] * batch, "positives": 40.0, "negatives": 120,
        "negatives_available": 8000, "compute_us": 2100, "sidecar": "screenshot:1"}).encode()


def curve(t: float, start: float, floor: float, scale: float, rng: random.Random, noise: float) -> float:
    return (floor + (start - floor) * math.exp(-t / scale)) * math.exp(rng.gauss(0.0, noise))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("endpoint", help="the aggregator's input, e.g. tcp://127.0.0.1:5556")
    parser.add_argument("--batches", type=int, default=3000, help="training batches per run (default 3000)")
    parser.add_argument("--seconds", type=float, default=4.0, help="how long the run lasts (default 4)")
    args = parser.parse_args()

    rng = random.Random(11)
    context = zmq.Context()
    socket = context.socket(zmq.PUSH)
    socket.setsockopt(zmq.LINGER, 10_000)
    socket.connect(args.endpoint)
    messages = []
    seqs = {"rank0": 0, "rank1": 0, "eval": 0, "coco0": 0}
    for n in range(args.batches):
        epoch = n // 1000
        source = "rank0" if n % 2 == 0 else "rank1"
        cls = curve(n, 5.2, 1.1, 450, rng, 0.12)
        loc = curve(n, 2.3, 0.45, 650, rng, 0.15)
        messages.append(record("ssd300-voc", "train", source, seqs[source], n, epoch, 32, cls, loc))
        seqs[source] += 1
        if n % 60 == 59:
            vcls = curve(n, 5.0, 1.35, 500, rng, 0.03)
            vloc = curve(n, 2.2, 0.6, 700, rng, 0.03)
            messages.append(record("ssd300-voc", "val", "eval", seqs["eval"], n, epoch, 64, vcls, vloc))
            seqs["eval"] += 1
        # ssd512-coco: slower, with a spike, a stretch of lost seqs and a few error records.
        cls = curve(n, 6.5, 1.9, 900, rng, 0.1) * (4.0 if n == 1700 else 1.0)
        loc = curve(n, 2.8, 0.8, 1100, rng, 0.12)
        if 300 <= n < 340:
            seqs["coco0"] += 1  # never sent: counted lost once the seqs move 1024 past them
        else:
            messages.append(record("ssd512-coco", "train", "coco0", seqs["coco0"], n, epoch, 16, cls, loc))
            seqs["coco0"] += 1
        if n in (800, 801, 2200):
            messages.append(json.dumps({
                "v": 1, "kind": "error", "code": "nonfinite", "error": "y_pred holds 3 NaN values",
                "run": "ssd512-coco", "split": "train", "source": "coco1"}).encode())
    pause = args.seconds / max(1, len(messages))
    for message in messages:
        socket.send(message)
        time.sleep(pause)
    socket.close()
    context.term()


if __name__ == "__main__":
    main()
