"""End to end through a real `lossd sidecar`: non-finite inputs located in the error record, and
the per-batch diagnostics of every loss record against an independent numpy computation over
the golden cases. Each runs on both kernel paths (the CPU's fastest and LOSSD_KERNEL=baseline)."""

from __future__ import annotations

import signal

import numpy as np
import pytest

from lossd_client import LossClient, ResultSink
from lossd_testkit import collect, golden_names, load_golden, loss_overrides

RECORD_TIMEOUT_S = 60.0
KERNELS = ["auto", "baseline"]

try:
    import ml_dtypes
    DTYPES = [np.float32, np.float16, np.float64, ml_dtypes.bfloat16]
except ImportError:  # bfloat16 needs ml_dtypes (it comes with TensorFlow); the others still run
    DTYPES = [np.float32, np.float16, np.float64]

B, N, C = 3, 4001, 21  # room for image 2, anchor 4000, class 7


def nonfinite_batch(layout, dtype):
    """A clean batch with a NaN at image 2, anchor 4000, class 7 of the predicted scores and +Inf
    as the width offset of image 0, anchor 17 of the ground truth."""
    rng = np.random.default_rng(7)
    labels = np.where(rng.random((B, N)) < 0.02, rng.integers(1, C, (B, N)), 0).astype(np.int32)
    scores = rng.random((B, N, C)) + 0.01
    scores /= scores.sum(-1, keepdims=True)
    gt = rng.uniform(-2, 2, (B, N, 4))
    pred = rng.uniform(-2, 2, (B, N, 4))
    scores[2, 4000, 7] = np.nan
    gt[0, 17, 2] = np.inf
    if layout == "compact":
        return labels, gt.astype(dtype), scores.astype(dtype), pred.astype(dtype)
    y_true = np.zeros((B, N, C + 12))
    y_true[..., :C] = np.eye(C)[labels]
    y_true[..., C:C + 4] = gt
    y_pred = np.zeros((B, N, C + 12))
    y_pred[..., :C] = scores
    y_pred[..., C:C + 4] = pred
    return y_true.astype(dtype), y_pred.astype(dtype)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("layout", ["keras", "compact"])
def test_nonfinite_places_named_in_one_error_record(start_sidecar, monkeypatch, layout, kernel):
    monkeypatch.setenv("LOSSD_KERNEL", kernel)
    truth, scores = ("y_true", "y_pred") if layout == "keras" else ("gt_offsets", "scores")
    width_column = C + 2 if layout == "keras" else 2
    with ResultSink("@tcp://127.0.0.1:*") as sink:
        sidecar = start_sidecar(">" + sink.endpoint, workers=2)
        with LossClient(sidecar.input, run="nonfinite", send_timeout_ms=30_000) as client:
            for dtype in DTYPES:
                batch = nonfinite_batch(layout, dtype)
                if layout == "keras":
                    client.send(*batch)
                else:
                    client.send_compact(*batch)
            records = collect(sink.receive, len(DTYPES), RECORD_TIMEOUT_S)
        assert sidecar.stop(signal.SIGTERM) == 0, sidecar.stderr()[-4000:]
    assert len(records) == len(DTYPES), records
    for dtype, record in zip(DTYPES, records):
        name = np.dtype(dtype).name
        assert record["kind"] == "error" and record["code"] == "nonfinite", (name, record)
        details = record["details"]
        counts = details["nonfinite"]
        assert counts[truth] == 1 and counts[scores] == 1 and sum(counts.values()) == 2, (name, counts)
        assert details["nonfinite_kinds"] == {truth: {"gt_offset": 1}, scores: {"class_score": 1}}, name
        places = details["nonfinite_places"]
        assert [p["tensor"] for p in places] == [truth, scores], (name, places)
        first, second = places
        assert (first["image"], first["anchor"], first["column"]) == (0, 17, width_column), (name, first)
        assert (first["kind"], first["value"], first["meaning"]) == ("gt_offset", "+Inf", "ground-truth offset w")
        assert "class" not in first and "degenerate box" in first["hint"]
        assert (second["image"], second["anchor"], second["column"], second["class"]) == (2, 4000, 7, 7), second
        assert (second["kind"], second["value"], second["meaning"]) == ("class_score", "NaN", "class 7 score")
        assert "diverged" in second["hint"]
        sentence = record["error"]
        assert f"image 0, anchor 17, column {width_column} (ground-truth offset w)" in sentence, sentence
        assert "image 2, anchor 4000, column 7 (class 7 score)" in sentence, sentence


def numpy_diagnostics(case):
    """The diagnostics of a keras golden case, computed independently in float64 (SPEC §1's
    per-box terms; a positive's class is the first largest of its targets t[1..C-1])."""
    c = case["classes"]
    t = case["y_true"][..., :c].astype(np.float64)
    p = case["y_pred"][..., :c].astype(np.float64)
    if case["params"]["scores"] == "logits":
        shifted = p - p.max(-1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    else:
        log_p = np.log(np.maximum(p, 1e-15))
    cl = -np.where(t != 0, t * log_p, 0.0).sum(-1)
    pos = t[..., 1:].max(-1)
    label = 1 + t[..., 1:].argmax(-1)
    per_image = pos.sum(-1)
    classes = []
    for k in range(1, c):
        chosen = (pos != 0) & (label == k)
        positives = pos[chosen].sum()
        if positives != 0:
            classes.append((k, positives, (cl * pos)[chosen].sum()))
    return int((per_image == 0).sum()), per_image.max() / case["boxes"], classes


@pytest.mark.parametrize("kernel", KERNELS)
def test_diagnostics_equal_numpy_over_the_golden_cases(start_sidecar, monkeypatch, kernel):
    monkeypatch.setenv("LOSSD_KERNEL", kernel)
    cases = [load_golden(name) for name in golden_names()]
    with ResultSink("@tcp://127.0.0.1:*") as sink:
        sidecar = start_sidecar(">" + sink.endpoint, workers=2)
        with LossClient(sidecar.input, run="diagnostics", send_timeout_ms=30_000) as client:
            for case in cases:
                client.send(case["y_true"], case["y_pred"], loss=loss_overrides(case), scores=case["params"]["scores"])
            records = collect(sink.receive, len(cases), RECORD_TIMEOUT_S)
        assert sidecar.stop(signal.SIGTERM) == 0, sidecar.stderr()[-4000:]
    assert len(records) == len(cases)
    failures = []
    for case, record in zip(cases, records):
        without, share, classes = numpy_diagnostics(case)
        got = record["diagnostics"]
        try:
            assert got["images_without_positives"] == without, (got["images_without_positives"], without)
            assert got["max_positive_share"] == pytest.approx(share, rel=1e-12, abs=0)
            assert [e["class"] for e in got["classes"]] == [k for k, _, _ in classes]
            for entry, (_, positives, total) in zip(got["classes"], classes):
                assert entry["positives"] == pytest.approx(positives, rel=1e-9, abs=1e-12), entry
                assert entry["classification_sum"] == pytest.approx(total, rel=1e-6, abs=1e-9), (entry, total)
            # The classes add up to the batch's positives.
            assert sum(e["positives"] for e in got["classes"]) == pytest.approx(record["positives"], rel=1e-9)
        except AssertionError as error:
            failures.append(f"{case['name']}: {error}")
    assert not failures, "\n".join(failures)
