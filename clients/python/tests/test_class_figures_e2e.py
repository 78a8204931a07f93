"""The aggregator's per-class classification loss against an independent computation.

A sidecar with ``--record`` feeds an aggregator; the batches have known classes (one class absent
from some batches, images without positives). The recording is then read back and the loss per
positive anchor of every class recomputed with numpy from the recorded tensors alone (SPEC §1's
per-anchor classification loss), never from lossd's records; the EMA and window figures on
``/stats`` must equal it to 1e-9 relative, the images without positives and the largest share of
positive anchors in one image (n_pos_b / N). The same figures survive a restart from the state file, and
``/metrics`` passes promtool.
"""
import json
import shutil
import signal
import subprocess
from typing import Dict, List, Tuple

import numpy as np

from lossd_client import LossClient
from lossd_client.recording import read_recording
from lossd_testkit import synthetic_batch, wait_for

RUN = "classes"
CLASSES = 6
WINDOW = 6
DECAY = 0.9
REL = 1e-9


def batches() -> List[Tuple[np.ndarray, np.ndarray]]:
    """Twelve keras-layout batches: every third has class 5 removed (it must keep its EMA), the
    fourth has image 1 without positives, the seventh has images 0 and 3 without positives."""
    made = []
    for index in range(12):
        y_true, y_pred = synthetic_batch(boxes=512, classes=CLASSES, batch=4, seed=100 + index)
        if index % 3 == 2:
            absent = y_true[..., 5] == 1
            y_true[..., :CLASSES][absent] = 0
            y_true[..., 0][absent] = 1
        for image in {3: [1], 6: [0, 3]}.get(index, []):
            y_true[image, :, :CLASSES] = 0
            y_true[image, :, 0] = 1
        made.append((y_true, y_pred))
    return made


def recorded_batches(path) -> List[Tuple[np.ndarray, np.ndarray]]:
    """The keras-layout tensors of every recorded message, read with numpy from the frames."""
    dtypes = {"float32": np.float32, "float64": np.float64, "float16": np.float16}
    out = []
    for _, frames in read_recording(path):
        header = json.loads(frames[0])
        shape = (header["batch"], header["boxes"], header["classes"] + 12)
        dtype = np.dtype(dtypes[header.get("dtype", "float32")]).newbyteorder("<")
        out.append(tuple(np.frombuffer(frame, dtype=dtype).reshape(shape) for frame in frames[1:3]))
    return out


def per_class(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> Dict[str, object]:
    """One batch's figures by SPEC §1: each anchor's classification loss
    cl = -Σ_k t[k]·log(max(p[k], 1e-15)), its positive weight pos = max(t[1..C-1]) and its class
    (the arg max of t[1..C-1]); per class Σ pos and Σ cl·pos over its positive anchors."""
    t = y_true[..., :classes].astype(np.float64)
    p = y_pred[..., :classes].astype(np.float64)
    cl = -(t * np.log(np.maximum(p, 1e-15))).sum(-1)
    pos = t[..., 1:].max(-1)
    label = t[..., 1:].argmax(-1) + 1
    figures = {}
    for c in range(1, classes):
        mask = (label == c) & (pos > 0)
        if mask.any():
            figures[c] = (float(pos[mask].sum()), float((cl * pos)[mask].sum()))
    per_image = pos.sum(-1)
    return {"classes": figures, "without": int((per_image == 0).sum()),
            "share": float(per_image.max() / t.shape[1])}


def expected(recorded, classes: int):
    """EMA (one debiased step per batch with the class) and window (Σ over the last WINDOW
    batches) per class, and the batch figures, recomputed from the tensors."""
    per_batch = [per_class(t, p, classes) for t, p in recorded]
    result = {}
    for c in range(1, classes):
        ema, power, count, total = 0.0, 1.0, 0, 0.0
        for figures in per_batch:
            if c in figures["classes"]:
                positives, summed = figures["classes"][c]
                ema = DECAY * ema + (1 - DECAY) * (summed / positives)
                power *= DECAY
                count += 1
                total += positives
        window = [f["classes"][c] for f in per_batch[-WINDOW:] if c in f["classes"]]
        result[c] = {
            "ema": ema / (1 - power) if count else None, "batches": count, "positives": total,
            "window": sum(s for _, s in window) / sum(p for p, _ in window) if window else None,
            "window_positives": sum(p for p, _ in window),
        }
    batch = {
        "images_without_positives": sum(f["without"] for f in per_batch),
        "window_images_without_positives": sum(f["without"] for f in per_batch[-WINDOW:]),
        "window_max_positive_share": max(f["share"] for f in per_batch[-WINDOW:]),
        "last_max_positive_share": per_batch[-1]["share"],
    }
    return result, batch


def close(actual, wanted, what):
    if wanted is None:
        assert actual is None, f"{what}: {actual} where none was expected"
        return
    assert actual is not None, f"{what}: missing, expected {wanted}"
    assert abs(actual - wanted) <= REL * abs(wanted), f"{what}: {actual!r} != {wanted!r}"


def check(split, recorded):
    classes, batch = expected(recorded, CLASSES)
    assert set(split["classes"]) == {str(c) for c, v in classes.items() if v["batches"]}
    for c, wanted in classes.items():
        got = split["classes"][str(c)]
        assert got["batches"] == wanted["batches"], f"class {c}"
        for key in ("ema", "window", "positives", "window_positives"):
            close(got[key], wanted[key], f"class {c} {key}")
    diagnostics = split["diagnostics"]
    assert diagnostics["batches"] == len(recorded)
    assert diagnostics["window_batches"] == WINDOW
    assert diagnostics["images_without_positives"] == batch["images_without_positives"]
    assert diagnostics["window_images_without_positives"] == batch["window_images_without_positives"]
    close(diagnostics["window_max_positive_share"], batch["window_max_positive_share"], "window max share")
    close(diagnostics["last_max_positive_share"], batch["last_max_positive_share"], "last max share")


def test_per_class_figures_equal_an_independent_computation(start_sidecar, start_aggregator, tmp_path):
    sent = batches()
    state = tmp_path / "state.json"
    aggregator = start_aggregator(state=state, extra=["--window", str(WINDOW), "--ema-decay", str(DECAY)])
    recording = tmp_path / "run.lossrec"
    # One worker: the records leave in the order the batches came, which the EMA depends on.
    sidecar = start_sidecar(f">{aggregator.input_address}", workers=1, record=recording, link=True)
    with LossClient(sidecar.input, run=RUN, send_timeout_ms=30_000) as client:
        for y_true, y_pred in sent:
            client.send(y_true, y_pred)

    def split():
        return next((s for s in aggregator.stats()["splits"] if s["run"] == RUN), None)

    assert wait_for(lambda: (split() or {}).get("batches") == len(sent), timeout=60, interval=0.05), \
        f"{split()}\n{aggregator.stderr()[-3000:]}"
    assert sidecar.stop(signal.SIGTERM) == 0, sidecar.stderr()[-3000:]

    recorded = recorded_batches(recording)
    assert len(recorded) == len(sent)
    assert all(np.array_equal(r[0], s[0]) for r, s in zip(recorded, sent))
    live = split()
    check(live, recorded)
    assert live["classes"]["5"]["batches"] == 8  # absent from 4 of the 12 batches

    metrics = aggregator.metrics()
    assert f'lossd_class_loss_ema{{run="{RUN}",split="train",class="5"}}' in metrics
    if shutil.which("promtool"):
        checked = subprocess.run(["promtool", "check", "metrics"], input=metrics, capture_output=True, text=True,
                                 timeout=60)
        assert checked.returncode == 0, checked.stdout + checked.stderr

    # A restart from the state file keeps every figure.
    assert aggregator.stop(signal.SIGTERM) == 0, aggregator.stderr()[-3000:]
    restarted = start_aggregator(state=state, extra=["--window", str(WINDOW), "--ema-decay", str(DECAY)])
    again = next(s for s in restarted.stats()["splits"] if s["run"] == RUN)
    assert again["classes"] == live["classes"]
    assert again["diagnostics"] == live["diagnostics"]
