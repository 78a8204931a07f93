#!/usr/bin/env python3
"""Trains a tiny SSD-shaped Keras model with model.fit for a few steps; every batch also goes to
lossd, which computes the same loss as the model's (ssd_keras's SSDLoss.compute_loss).

    lossd serve &                                    # sidecar on 127.0.0.1:5555
    pip install tensorflow -e clients/python
    python3 Examples/keras_fit.py --steps 8

The model is compiled with ``lossd_client.keras.wrap_loss(SSDLoss().compute_loss, client)``:
the loss value and gradients are the seed loss's own, and inside the training graph each batch's
``y_true`` and ``y_pred`` ([B, N, C + 12]: C class probabilities, 4 offsets, 8 anchor entries)
are sent to lossd in the keras layout. lossd's record for each batch equals the loss Keras
computed for it; the script prints Keras's per-batch losses (``--losses-out`` writes them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "clients" / "python"))
from lossd_client import LossClient  # noqa: E402
from lossd_client.keras import wrap_loss  # noqa: E402

GRID, SIZE = 8, 32  # an 8 x 8 feature map over 32 x 32 images
SHAPES = [(0.25, 1.0), (0.25, 2.0), (0.45, 1.0), (0.45, 0.5)]  # anchor (scale, aspect ratio) per cell
VARIANCES = np.array([0.1, 0.1, 0.2, 0.2])


class SSDLoss:
    """ssd_keras's SSD loss (pierluigiferrari/ssd_keras, keras_loss_function/keras_ssd_loss.py),
    the reference lossd's keras profile computes (SPEC §1), written for TensorFlow 2.

    ``compute_loss(y_true, y_pred)`` returns one value per image: (class + alpha * loc) /
    max(1, n_pos) * B, so that Keras's mean over the batch is the loss of the batch. Negatives
    are the k = min(max(neg_pos_ratio * n_pos, n_neg_min), n_nonzero) largest of the batch.
    """

    def __init__(self, neg_pos_ratio: int = 3, n_neg_min: int = 0, alpha: float = 1.0) -> None:
        self.neg_pos_ratio = neg_pos_ratio
        self.n_neg_min = n_neg_min
        self.alpha = alpha

    @staticmethod
    def smooth_l1_loss(y_true, y_pred):
        difference = tf.abs(y_true - y_pred)
        return tf.reduce_sum(tf.where(difference < 1.0, 0.5 * difference ** 2, difference - 0.5), axis=-1)

    @staticmethod
    def log_loss(y_true, y_pred):
        return -tf.reduce_sum(y_true * tf.math.log(tf.maximum(y_pred, 1e-15)), axis=-1)

    def compute_loss(self, y_true, y_pred):
        batch_size = tf.shape(y_pred)[0]
        n_boxes = tf.shape(y_pred)[1]
        classification = self.log_loss(y_true[:, :, :-12], y_pred[:, :, :-12])
        localization = self.smooth_l1_loss(y_true[:, :, -12:-8], y_pred[:, :, -12:-8])
        negatives = y_true[:, :, 0]
        positives = tf.reduce_max(y_true[:, :, 1:-12], axis=-1)
        n_positive = tf.reduce_sum(positives)
        positive_class = tf.reduce_sum(classification * positives, axis=-1)
        negative_class_all = classification * negatives
        n_nonzero = tf.math.count_nonzero(negative_class_all, dtype=tf.int32)
        k = tf.minimum(tf.maximum(self.neg_pos_ratio * tf.cast(n_positive, tf.int32), self.n_neg_min), n_nonzero)

        def kept():
            flat = tf.reshape(negative_class_all, [-1])
            _, indices = tf.nn.top_k(flat, k=k, sorted=False)
            mask = tf.scatter_nd(tf.expand_dims(indices, 1), tf.ones_like(indices), tf.shape(flat))
            mask = tf.cast(tf.reshape(mask, [batch_size, n_boxes]), classification.dtype)
            return tf.reduce_sum(classification * mask, axis=-1)

        negative_class = tf.cond(tf.equal(n_nonzero, 0), lambda: tf.zeros([batch_size]), kept)
        location = tf.reduce_sum(localization * positives, axis=-1)
        total = (positive_class + negative_class + self.alpha * location) / tf.maximum(1.0, n_positive)
        return total * tf.cast(batch_size, tf.float32)


def anchors() -> np.ndarray:
    """[N, 4] anchor boxes (cx, cy, w, h), normalized, N = GRID² · len(SHAPES)."""
    boxes = []
    for row in range(GRID):
        for column in range(GRID):
            for scale, ratio in SHAPES:
                boxes.append(((column + 0.5) / GRID, (row + 0.5) / GRID, scale * np.sqrt(ratio), scale / np.sqrt(ratio)))
    return np.array(boxes)


def iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """IoU of each (cx, cy, w, h) of ``boxes`` with ``box``."""
    low = np.maximum(boxes[:, :2] - boxes[:, 2:] / 2, box[:2] - box[2:] / 2)
    high = np.minimum(boxes[:, :2] + boxes[:, 2:] / 2, box[:2] + box[2:] / 2)
    inter = np.prod(np.clip(high - low, 0, None), axis=1)
    return inter / (np.prod(boxes[:, 2:], axis=1) + np.prod(box[2:]) - inter)


def encode(objects, classes: int, priors: np.ndarray) -> np.ndarray:
    """ssd_keras-style y_true for one image: IoU >= 0.5 (or an object's best anchor) is positive
    with encoded offsets, IoU in [0.3, 0.5) is ignored (all-zero class entries), the rest background."""
    y = np.zeros((len(priors), classes + 12), np.float32)
    y[:, 0] = 1.0
    best = np.zeros(len(priors))
    for label, box in objects:
        overlap = iou(priors, box)
        matched = (overlap >= 0.5) | (np.arange(len(priors)) == overlap.argmax())
        take = matched & (overlap > best)
        y[take, :classes] = 0
        y[take, label] = 1
        y[take, classes:classes + 2] = (box[:2] - priors[take, :2]) / priors[take, 2:] / VARIANCES[:2]
        y[take, classes + 2:classes + 4] = np.log(box[2:] / priors[take, 2:]) / VARIANCES[2:]
        best = np.where(take, overlap, best)
        ignore = (overlap >= 0.3) & (best < 0.5) & (y[:, 0] == 1)
        y[ignore, :classes] = 0
    y[:, classes + 4:classes + 8] = priors
    y[:, classes + 8:] = VARIANCES
    return y


def dataset(rng: np.random.Generator, count: int, classes: int):
    """Images with 1-3 rectangles whose colour says their class, and their encoded targets."""
    priors = anchors()
    images = rng.uniform(0, 0.2, (count, SIZE, SIZE, 3)).astype(np.float32)
    targets = []
    for image in images:
        objects = []
        for _ in range(rng.integers(1, 4)):
            label = int(rng.integers(1, classes))
            w, h = rng.uniform(0.2, 0.6, 2)
            cx, cy = rng.uniform(w / 2, 1 - w / 2), rng.uniform(h / 2, 1 - h / 2)
            x0, y0 = int((cx - w / 2) * SIZE), int((cy - h / 2) * SIZE)
            image[y0:y0 + int(h * SIZE), x0:x0 + int(w * SIZE), label % 3] = 0.5 + 0.5 * label / classes
            objects.append((label, np.array([cx, cy, w, h])))
        targets.append(encode(objects, classes, priors))
    return images, np.stack(targets)


def tiny_ssd(classes: int) -> keras.Model:
    """Two strided convolutions, then per anchor: class probabilities, 4 offsets, 8 zeros."""
    boxes = GRID * GRID * len(SHAPES)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    scores = keras.layers.Reshape((boxes, classes))(keras.layers.Conv2D(len(SHAPES) * classes, 3, padding="same")(x))
    offsets = keras.layers.Reshape((boxes, 4))(keras.layers.Conv2D(len(SHAPES) * 4, 3, padding="same")(x))
    probabilities = keras.layers.Softmax()(scores)
    padding = keras.layers.Concatenate()([keras.ops.zeros_like(offsets), keras.ops.zeros_like(offsets)])
    return keras.Model(inputs, keras.layers.Concatenate()([probabilities, offsets, padding]))


class BatchLosses(keras.callbacks.Callback):
    """Keras's loss of each batch. ``logs["loss"]`` is the mean of the epoch's batches so far
    (weighted by batch size, all equal here), so batch i's own loss is
    (i + 1) · mean_i − i · mean_(i−1)."""

    def __init__(self) -> None:
        super().__init__()
        self.losses, self._previous = [], 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._previous = 0.0

    def on_train_batch_end(self, batch, logs=None):
        mean = float(logs["loss"])
        self.losses.append((batch + 1) * mean - batch * self._previous)
        self._previous = mean


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default=">tcp://127.0.0.1:5555", help="lossd's input (lossd serve's default)")
    parser.add_argument("--steps", type=int, default=8, help="training steps (batches), in one epoch")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--classes", type=int, default=5, help="classes, background included")
    parser.add_argument("--run", default="keras-example")
    parser.add_argument("--losses-out", help="write Keras's per-batch losses here (JSON lines)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    images, targets = dataset(np.random.default_rng(args.seed), args.steps * args.batch, args.classes)
    client = LossClient(args.endpoint, run=args.run, source="keras-example")
    model = tiny_ssd(args.classes)
    # jit_compile=False: the send is a Python call XLA cannot compile.
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=wrap_loss(SSDLoss().compute_loss, client),
                  jit_compile=False)
    logger = BatchLosses()
    model.fit(images, targets, batch_size=args.batch, epochs=1, shuffle=False, callbacks=[logger], verbose=0)
    client.close()
    for step, loss in enumerate(logger.losses):
        print(f"batch {step}: Keras loss {loss:.6f}")
    if args.losses_out:
        with open(args.losses_out, "w") as out:
            for step, loss in enumerate(logger.losses):
                out.write(json.dumps({"step": step, "loss": loss}) + "\n")
    print(f"sent {len(logger.losses)} batches to {args.endpoint} (model.fit, graph mode)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
