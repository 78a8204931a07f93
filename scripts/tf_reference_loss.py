#!/usr/bin/env python3
"""Times the reference SSD loss in TensorFlow on the same batch `lossd bench kernel` uses.

Optional and not run in CI (it needs TensorFlow, which lossd itself never does). It reads the
first batch of a .lossrec recording (make one with the same shape as the benchmark:
`lossd synth -o batch.lossrec --count 1 --batch 32 --boxes 8732 --classes 21`), computes the
SSD MultiBox loss with hard-negative mining with TensorFlow ops in graph mode, exactly as SPEC §1
defines it (batch mining; probabilities or logits, as the batch's header says), checks it against lossd's value for the same batch
(`lossd replay batch.lossrec`), and prints the median time per batch so that the two can be
compared side by side on one machine:

    pip install tensorflow numpy
    python3 scripts/tf_reference_loss.py batch.lossrec --threads 2 --repeat 20
    .build/release/lossd bench kernel --repeat 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "clients" / "python"))
from lossd_client import read_recording  # noqa: E402


def first_batch(path):
    for _, frames in read_recording(path):
        header = json.loads(bytes(frames[0]))
        if header.get("layout", "keras") != "keras":
            raise SystemExit("this script times the keras layout; synthesize a keras recording")
        dtype = np.dtype(header.get("dtype", "float32")).newbyteorder("<")
        shape = (header["batch"], header["boxes"], header["classes"] + 12)
        return header, np.frombuffer(bytes(frames[1]), dtype).reshape(shape), np.frombuffer(bytes(frames[2]), dtype).reshape(shape)
    raise SystemExit(f"{path} holds no batch")


def build_loss(tf, classes, logits=False, neg_pos_ratio=3, n_neg_min=0, alpha=1.0):
    def smooth_l1(y_true, y_pred):
        d = tf.abs(y_true - y_pred)
        return tf.reduce_sum(tf.where(d < 1.0, 0.5 * d * d, d - 0.5), axis=-1)

    def log_loss(y_true, y_pred):
        if logits:
            return -tf.reduce_sum(y_true * tf.nn.log_softmax(y_pred, axis=-1), axis=-1)
        y_pred = tf.maximum(y_pred, 1e-15)
        return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)

    @tf.function
    def loss(y_true, y_pred):
        batch = tf.shape(y_pred)[0]
        boxes = tf.shape(y_pred)[1]
        classification = log_loss(y_true[:, :, :classes], y_pred[:, :, :classes])
        localization = smooth_l1(y_true[:, :, classes:classes + 4], y_pred[:, :, classes:classes + 4])
        negatives = y_true[:, :, 0]
        positives = tf.reduce_max(y_true[:, :, 1:classes], axis=-1)
        n_positive = tf.reduce_sum(positives)
        pos_class = tf.reduce_sum(classification * positives, axis=-1)
        neg_class_all = classification * negatives
        n_neg_losses = tf.math.count_nonzero(neg_class_all, dtype=tf.int32)
        k = tf.minimum(tf.maximum(neg_pos_ratio * tf.cast(n_positive, tf.int32), n_neg_min), n_neg_losses)

        def no_negatives():
            return tf.zeros([batch])

        def mined():
            flat = tf.reshape(neg_class_all, [-1])
            _, indices = tf.nn.top_k(flat, k=k, sorted=False)  # ties: lowest index first
            keep = tf.scatter_nd(tf.expand_dims(indices, 1), tf.ones_like(indices, dtype=tf.int32), tf.shape(flat))
            keep = tf.cast(tf.reshape(keep, [batch, boxes]), classification.dtype)
            return tf.reduce_sum(classification * keep, axis=-1)

        neg_class = tf.cond(tf.equal(n_neg_losses, 0), no_negatives, mined)
        class_loss = pos_class + neg_class
        loc_loss = tf.reduce_sum(localization * positives, axis=-1)
        total = (class_loss + alpha * loc_loss) / tf.maximum(1.0, n_positive)
        return total * tf.cast(batch, total.dtype)

    return loss


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Time the reference SSD loss in TensorFlow on a recorded batch.")
    parser.add_argument("recording", help="a .lossrec whose first message is a keras batch")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra- and inter-op threads")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs")
    args = parser.parse_args(argv)

    import tensorflow as tf  # only here: the rest of lossd never needs it

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    header, y_true, y_pred = first_batch(args.recording)
    loss = build_loss(tf, header["classes"], logits=header.get("scores", "probabilities") == "logits")
    y_true_t, y_pred_t = tf.constant(y_true), tf.constant(y_pred)
    value = float(tf.reduce_mean(loss(y_true_t, y_pred_t)))  # traces the graph once
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        tf.reduce_mean(loss(y_true_t, y_pred_t)).numpy()
        times.append(time.perf_counter() - start)
    print(f"reference loss {value:.6f}; compare with `lossd replay {args.recording}` (first record's loss)")
    print(f"TensorFlow graph mode, {header.get('scores', 'probabilities')}, {args.threads} threads: median {statistics.median(times) * 1e3:.2f} ms/batch "
          f"(min {min(times) * 1e3:.2f}, max {max(times) * 1e3:.2f}) over {args.repeat} runs, "
          f"{y_true.nbytes + y_pred.nbytes} bytes per batch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
