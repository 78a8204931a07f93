"""Sends the messages behind sidecar-mixed.lossrec to a `lossd sidecar --record` input (see README.md).

usage: python3 make_sidecar_recording.py ENDPOINT

Plain pyzmq and numpy, fixed seeds: good keras and compact batches between malformed messages that
each get an error record, and one message of 17 frames, more than a sidecar keeps (16).
"""
import json
import sys
import time

import numpy as np
import zmq

rng = np.random.default_rng(18)
B, N, C = 2, 12, 4


def header(seq, **changes):
    fields = {"v": 1, "batch": B, "boxes": N, "classes": C, "run": "mixed-v1", "source": "fixture",
              "seq": seq, "step": 10 * seq}
    fields.update(changes)
    return json.dumps(fields).encode()


def keras(logits=False):
    y_true = np.zeros((B, N, C + 12), dtype="<f4")
    y_true[:, :, 0] = 1.0
    y_true[:, 1, :C] = [0, 1, 0, 0]
    y_true[:, 5, :C] = [0, 0, 0, 1]
    y_true[:, :, C:C + 4] = rng.normal(size=(B, N, 4))
    y_pred = rng.random((B, N, C + 12), dtype=np.float32)
    if logits:
        y_pred[:, :, :C] = rng.normal(scale=3, size=(B, N, C))
    else:
        y_pred[:, :, :C] /= y_pred[:, :, :C].sum(axis=-1, keepdims=True)
    return y_true, y_pred


def compact():
    labels = rng.integers(-1, C, size=(B, N)).astype("<i4")
    return [labels.tobytes(), rng.normal(size=(B, N, 4)).astype("<f2").tobytes(),
            rng.normal(scale=2, size=(B, N, C)).astype("<f2").tobytes(),
            rng.normal(size=(B, N, 4)).astype("<f2").tobytes()]


messages = []
t, p = keras()
messages.append([header(0), t.tobytes(), p.tobytes()])                                  # loss
messages.append([b"{not json", t.tobytes(), p.tobytes()])                              # bad_header
messages.append([header(2, v=2)])                                                      # unsupported_version
messages.append([header(3), t.tobytes()])                                              # bad_frames: 2 of 3
nan = p.copy()
nan[1, 5, 0] = np.nan
messages.append([header(4), t.tobytes(), nan.tobytes()])                               # nonfinite
messages.append([header(5, layout="compact", dtype="float16", scores="logits",
                        loss={"mining": "image"})] + compact())                        # loss
messages.append([header(6)] + [t.tobytes()] * 16)                                      # 17 frames
t, p = keras(logits=True)
messages.append([header(7, scores="logits", loss={"neg_pos_ratio": 2}), t.tobytes(), p.tobytes()])  # loss
messages.append([header(8), t.tobytes(), p.tobytes()[:-4]])                            # bad_frames: short

context = zmq.Context()
push = context.socket(zmq.PUSH)
push.setsockopt(zmq.LINGER, 10_000)
push.connect(sys.argv[1])
for frames in messages:
    push.send_multipart(frames)
# Stay connected while the sidecar takes them in: messages still in the kernel's buffers when the
# connection closes are lost (its receive high-water mark is 1, so libzmq reads them one by one).
time.sleep(3)
push.close()
context.term()
print(len(messages))
