"""A trainer written from SPEC §2 alone (plain pyzmq + numpy, no lossd_client) against a real sidecar.

Golden batches are interleaved with malformed messages; a plain PULL sink must get exactly one
record per message, in order, each malformed one an error record with the right code and each
good one exact; the sidecar must survive all of it.
"""

from __future__ import annotations

import json
import signal

import numpy as np
import zmq

from lossd_testkit import check_loss_record, golden_names, load_golden

TIMEOUT_MS = 30_000
RUN, SPLIT, SOURCE = "independent", "val", "trainer-a"


def header(case, seq, **changes):
    h = {
        "v": 1, "batch": case["batch"], "boxes": case["boxes"], "classes": case["classes"],
        "dtype": case["dtype"], "layout": "keras", "scores": case["params"]["scores"],
        "run": RUN, "split": SPLIT, "source": SOURCE, "epoch": 3, "step": 100 + seq, "seq": seq,
        "loss": {k: v for k, v in case["params"].items() if k != "scores"},
        "trainer": "independent",  # unknown keys are ignored
    }
    h.update(changes)
    return json.dumps(h).encode("utf-8")


def tensor_bytes(array):
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def build_messages():
    """[(frames, expected)]: expected is ("loss", case) or ("error", code, seq or None)."""
    cases = [load_golden(name) for name in golden_names()]
    basic = load_golden("basic")
    messages = []
    seq = 0

    def good(case):
        nonlocal seq
        messages.append(([header(case, seq), tensor_bytes(case["y_true"]), tensor_bytes(case["y_pred"])],
                         ("loss", case, seq)))
        seq += 1

    def bad(frames_for_seq, code, has_seq=True):
        nonlocal seq
        messages.append((frames_for_seq(seq), ("error", code, seq if has_seq else None)))
        seq += 1

    t, p = tensor_bytes(basic["y_true"]), tensor_bytes(basic["y_pred"])
    # a non-ignored box of `basic`, for the NaN
    box = int(np.argmax(basic["y_true"][0, :, :basic["classes"]].sum(axis=-1) > 0))
    nan_pred = basic["y_pred"].copy()
    nan_pred[0, box, 0] = np.nan
    c = basic["classes"]
    labels = np.zeros((basic["batch"], basic["boxes"]), np.int32)
    labels[1, 3] = c  # out of range: labels are -1..C-1
    compact = [
        json.dumps({"v": 1, "batch": basic["batch"], "boxes": basic["boxes"], "classes": c, "dtype": "float32",
                    "layout": "compact", "run": RUN, "split": SPLIT, "source": SOURCE, "seq": None}),
        labels.tobytes(),
        tensor_bytes(basic["y_true"][..., c:c + 4]),
        tensor_bytes(basic["y_pred"][..., :c]),
        tensor_bytes(basic["y_pred"][..., c:c + 4]),
    ]

    def compact_frames(s):
        h = json.loads(compact[0])
        h["seq"] = s
        return [json.dumps(h).encode()] + compact[1:]

    malformed = [
        (lambda s: [b'{"v": 1, "batch": 2, "boxes": 50, "classes": ', t, p], "bad_header", False),
        (lambda s: [header(basic, s, v=2), t, p], "unsupported_version", True),
        (lambda s: [header(basic, s), t], "bad_frames", True),
        (lambda s: [header(basic, s), t, p[:-1]], "bad_frames", True),
        (lambda s: [header(basic, s), t, tensor_bytes(nan_pred)], "nonfinite", True),
        (compact_frames, "bad_labels", True),
    ]
    for i, case in enumerate(cases):
        good(case)
        if i < len(malformed):
            bad(*malformed[i])
    assert len(messages) == len(cases) + len(malformed) == 22
    return messages


def test_independent_trainer_against_the_sidecar(start_sidecar):
    messages = build_messages()
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    pull.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
    pull.bind("tcp://127.0.0.1:*")
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.setsockopt(zmq.SNDTIMEO, TIMEOUT_MS)
    sidecar = None
    try:
        sidecar = start_sidecar(">" + pull.getsockopt_string(zmq.LAST_ENDPOINT), workers=2)
        push.connect(sidecar.input_address)
        for frames, _ in messages:
            push.send_multipart(frames)

        records = []
        for _ in messages:
            try:
                records.append(json.loads(pull.recv()))
            except zmq.Again:
                break
        assert len(records) == len(messages), (
            f"{len(records)} records for {len(messages)} messages within {TIMEOUT_MS} ms each: {records}")
        # nothing more than one record per message
        assert pull.poll(500) == 0, f"an extra record: {pull.recv()}"

        failures = []
        for i, (record, (_, expected)) in enumerate(zip(records, messages)):
            try:
                assert record["v"] == 1
                if expected[0] == "loss":
                    _, case, seq = expected
                    assert record.get("seq") == seq, f"seq {record.get('seq')} != {seq} (out of order?)"
                    check_loss_record(record, case)
                    assert (record["run"], record["split"], record["source"]) == (RUN, SPLIT, SOURCE)
                    assert (record["epoch"], record["step"]) == (3, 100 + seq)
                else:
                    _, code, seq = expected
                    assert record["kind"] == "error", f"expected an error record {code}, got {record}"
                    assert record["code"] == code, f"code {record['code']!r} != {code!r}: {record.get('error')}"
                    assert isinstance(record.get("error"), str) and record["error"].strip(), record
                    if seq is None:  # the header could not be read: nothing of it can be echoed
                        assert record.get("seq") is None, record
                    else:
                        assert record.get("seq") == seq, f"seq {record.get('seq')} != {seq} (out of order?)"
                        assert (record.get("run"), record.get("split"), record.get("source")) == (RUN, SPLIT, SOURCE)
            except AssertionError as error:
                what = expected[1]["name"] if expected[0] == "loss" else expected[1]
                failures.append(f"message {i} ({what}): {error}")
        assert not failures, "\n".join(failures)

        assert sidecar.running(), f"the sidecar exited ({sidecar.proc.returncode}); stderr:\n{sidecar.stderr()[-4000:]}"
        assert sidecar.stop(signal.SIGTERM) == 0, sidecar.stderr()[-4000:]
        received, computed, rejected = sidecar.counts()
        assert (received, computed, rejected) == (22, 16, 6)
    finally:
        push.close(linger=0)
        pull.close(linger=0)
        ctx.term()
