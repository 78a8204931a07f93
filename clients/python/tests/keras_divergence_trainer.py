#!/usr/bin/env python3
"""A Keras ``model.fit`` whose loss explodes (a huge learning rate), sending every batch to lossd
and stopping on the aggregator's divergence event with lossd_client.keras.StopOnDivergence.

Used by test_divergence_keras.py (run in a subprocess: TensorFlow and torch never share a
process). Writes a JSON summary to --out: the batches trained, Keras's per-batch losses, the
batch after which the callback stopped training, and the aggregator's event.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import keras  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "clients" / "python"))
sys.path.insert(0, str(ROOT / "Examples"))
from keras_fit import SSDLoss, dataset, tiny_ssd  # noqa: E402
from lossd_client import DivergenceWatcher, LossClient  # noqa: E402
from lossd_client.keras import StopOnDivergence, wrap_loss  # noqa: E402


class BatchCount(keras.callbacks.Callback):
    """The batches trained and Keras's running loss after each."""

    def __init__(self) -> None:
        super().__init__()
        self.logged = []

    def on_train_batch_end(self, batch, logs=None):
        self.logged.append(float((logs or {}).get("loss", float("nan"))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="the sidecar's input")
    parser.add_argument("--publish", required=True, help="the aggregator's --publish endpoint")
    parser.add_argument("--run", default="keras-explodes")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--learning-rate", type=float, default=50.0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    classes, batch = 5, 4
    images, targets = dataset(np.random.default_rng(0), args.steps * batch, classes)
    client = LossClient(args.endpoint, run=args.run, source="keras-divergence")
    watcher = DivergenceWatcher(args.publish, run=args.run)
    if not watcher.wait_until_listening(30):
        print("the aggregator's publish socket sent nothing within 30 s", file=sys.stderr)
        return 2
    model = tiny_ssd(classes)
    model.compile(optimizer=keras.optimizers.SGD(args.learning_rate),
                  loss=wrap_loss(SSDLoss().compute_loss, client), jit_compile=False)
    stop = StopOnDivergence(watcher)
    counted = BatchCount()
    model.fit(images, targets, batch_size=batch, epochs=1, shuffle=False, callbacks=[counted, stop], verbose=0)
    client.close()
    watcher.close()
    Path(args.out).write_text(json.dumps({
        "batches_trained": len(counted.logged), "keras_running_loss": counted.logged,
        "stopped_at_batch": stop.stopped_at_batch, "event": stop.event}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
