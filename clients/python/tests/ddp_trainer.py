#!/usr/bin/env python3
"""One rank of a data-parallel job, as test_distributed_e2e.py starts it: a process of its own,
with the launcher's RANK, WORLD_SIZE and LOCAL_RANK in its environment (as torchrun sets them),
and a LossClient with the default settings (stream, source, rank and world size are the
client's own choice).

It sends one keras-layout batch per step, ``--first`` to ``--last``, paced at ``--rate`` steps per
second (the ranks of a real job move in lockstep), then prints ``sent`` and either exits (closing
the client, which delivers what is queued) or, with ``--hold``, waits to be killed. The batch of
a step depends on (attempt, rank, step), so a resumed job sends other values for the steps it
repeats. Rank r's batches have 2 + r images, so the ranks weigh differently.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from lossd_client import LossClient

BOXES, CLASSES = 64, 5


def batch(attempt: int, rank: int, step: int):
    """(y_true, y_pred) float32 [2 + rank, BOXES, CLASSES + 12]: a few positive boxes per image,
    softmax scores, random offsets."""
    rng = np.random.default_rng([attempt, rank, step])
    images = 2 + rank
    y_true = np.zeros((images, BOXES, CLASSES + 12), np.float32)
    labels = rng.integers(1, CLASSES, size=(images, BOXES))
    labels[rng.random((images, BOXES)) > 0.08] = 0
    y_true[np.arange(images)[:, None], np.arange(BOXES)[None, :], labels] = 1
    y_true[..., CLASSES:CLASSES + 4] = rng.normal(size=(images, BOXES, 4))
    logits = rng.normal(scale=2.0, size=(images, BOXES, CLASSES))
    y_pred = np.zeros_like(y_true)
    y_pred[..., :CLASSES] = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    y_pred[..., CLASSES:CLASSES + 4] = rng.normal(size=(images, BOXES, 4))
    return y_true, y_pred


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("endpoint")
    parser.add_argument("--run", default="ddp")
    parser.add_argument("--first", type=int, required=True)
    parser.add_argument("--last", type=int, required=True)
    parser.add_argument("--attempt", type=int, default=1)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--hold", action="store_true", help="after the last send, wait to be killed")
    args = parser.parse_args()

    client = LossClient(args.endpoint, run=args.run, split="train", send_timeout_ms=60_000)
    print(json.dumps({"rank": client.rank, "world_size": client.world_size, "source": client.source,
                      "stream": client.stream}), flush=True)
    started = time.monotonic()
    for index, step in enumerate(range(args.first, args.last + 1)):
        delay = started + index / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        y_true, y_pred = batch(args.attempt, client.rank or 0, step)
        client.send(y_true, y_pred, step=step, epoch=0)
    print("sent", flush=True)
    if args.hold:
        time.sleep(3600)
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
