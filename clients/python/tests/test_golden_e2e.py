"""End to end: every golden case sent with LossClient through a real `lossd sidecar`."""

from __future__ import annotations

import json
import signal

import numpy as np
import pytest

from lossd_client import LossClient, ResultSink
from lossd_testkit import check_loss_record, collect, drain, golden_names, load_golden, loss_overrides, wait_for

SEND_TIMEOUT_MS = 30_000
RECORD_TIMEOUT_S = 60.0


def check_all(records, cases, first_seq=0):
    """Checks records (in arrival order) against cases; reports every mismatching case at once."""
    assert len(records) == len(cases), f"{len(records)} records for {len(cases)} batches: {records}"
    failures = []
    for i, (record, case) in enumerate(zip(records, cases)):
        try:
            assert record.get("seq") == first_seq + i, f"record {i} has seq {record.get('seq')}, expected {first_seq + i}"
            check_loss_record(record, case)
        except AssertionError as error:
            failures.append(f"{case['name']}: {error}")
    assert not failures, "\n".join(failures)


def one_hot_compact(case):
    """The compact-layout equivalent of a keras case, or None if its y_true is not one-hot."""
    c = case["classes"]
    y_true, y_pred = case["y_true"], case["y_pred"]
    cls = y_true[..., :c].astype(np.float64)
    ignored = np.all(cls == 0, axis=-1)
    one_hot = np.all((cls == 0) | (cls == 1), axis=-1) & (cls.sum(axis=-1) == 1)
    if not np.all(ignored | one_hot):
        return None
    labels = np.where(ignored, -1, cls.argmax(axis=-1)).astype(np.int32)
    return (labels, np.ascontiguousarray(y_true[..., c:c + 4]), np.ascontiguousarray(y_pred[..., :c]),
            np.ascontiguousarray(y_pred[..., c:c + 4]))


def test_golden_cases_through_the_sidecar(start_sidecar):
    cases = [load_golden(name) for name in golden_names()]
    assert len(cases) == 16
    with ResultSink("@tcp://127.0.0.1:*") as sink:
        sidecar = start_sidecar(">" + sink.endpoint, workers=2, sidecar_id="golden-test")
        with LossClient(sidecar.input, run="golden", source="pytest", send_timeout_ms=SEND_TIMEOUT_MS) as client:
            for i, case in enumerate(cases):
                seq = client.send(case["y_true"], case["y_pred"], step=i, epoch=0, loss=loss_overrides(case),
                                  scores=case["params"]["scores"])
                assert seq == i
            records = collect(sink.receive, len(cases), RECORD_TIMEOUT_S)
        check_all(records, cases)
        for i, record in enumerate(records):
            assert (record["run"], record["split"], record["source"]) == ("golden", "train", "pytest")
            assert (record["step"], record["epoch"]) == (i, 0)
            assert record["sidecar"] == "golden-test"
            assert isinstance(record["compute_us"], (int, float)) and record["compute_us"] >= 0
        assert sidecar.stop(signal.SIGTERM) == 0, sidecar.stderr()[-4000:]
        assert drain(sink.receive, quiet=0.5) == []
    assert sidecar.counts() == (16, 16, 0)


def test_golden_cases_in_the_compact_layout(start_sidecar):
    """The compact layout's loss equals the keras loss of the equivalent one-hot input (SPEC §1)."""
    cases = []
    quads = []
    for name in golden_names():
        case = load_golden(name)
        quad = one_hot_compact(case)
        if quad is not None:
            cases.append(case)
            quads.append(quad)
    assert len(cases) >= 10, [c["name"] for c in cases]
    with ResultSink("@tcp://127.0.0.1:*") as sink:
        sidecar = start_sidecar(">" + sink.endpoint, workers=2)
        with LossClient(sidecar.input, run="compact", send_timeout_ms=SEND_TIMEOUT_MS) as client:
            for case, quad in zip(cases, quads):
                client.send_compact(*quad, loss=loss_overrides(case), scores_kind=case["params"]["scores"])
            records = collect(sink.receive, len(cases), RECORD_TIMEOUT_S)
        check_all(records, cases)
        assert sidecar.stop(signal.SIGTERM) == 0, sidecar.stderr()[-4000:]


def test_loss_defaults_come_from_the_sidecar_flags(start_sidecar):
    """A header without a `loss` object uses the sidecar's --neg-pos-ratio/--n-neg-min/--alpha/--mining/--scores."""
    case = load_golden("ratio-alpha-min")  # neg_pos_ratio 5, n_neg_min 40, alpha 0.5, batch mining
    logits = load_golden("logits")
    flags = ["--neg-pos-ratio", "5", "--n-neg-min", "40", "--alpha", "0.5", "--mining", "batch",
             "--scores", "probabilities"]
    with ResultSink("@tcp://127.0.0.1:*") as sink:
        sidecar = start_sidecar(">" + sink.endpoint, extra=flags)
        with LossClient(sidecar.input, send_timeout_ms=SEND_TIMEOUT_MS) as client:
            client.send(case["y_true"], case["y_pred"])  # no overrides: the flags apply
            client.send(logits["y_true"], logits["y_pred"], scores="logits", loss=loss_overrides(logits))
            records = collect(sink.receive, 2, RECORD_TIMEOUT_S)
        check_all(records, [case, logits])
        assert sidecar.stop(signal.SIGTERM) == 0


@pytest.mark.parametrize("to_file", [False, True], ids=["stdout", "jsonl-file"])
def test_json_lines_outputs(start_sidecar, tmp_path, to_file):
    """`--output -` writes JSON Lines to stdout, `--output path.jsonl` to that file."""
    cases = [load_golden("basic"), load_golden("float16")]
    out = tmp_path / "records.jsonl"
    sidecar = start_sidecar(str(out) if to_file else "-")
    with LossClient(sidecar.input, send_timeout_ms=SEND_TIMEOUT_MS) as client:
        for case in cases:
            client.send(case["y_true"], case["y_pred"], loss=loss_overrides(case), scores=case["params"]["scores"])
        client.close()  # lets the messages leave (linger) before the sidecar is asked to stop

    def lines():  # complete lines only: the last one may still be being written
        text = (out.read_text() if out.exists() else "") if to_file else sidecar.stdout()
        return [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]

    # the records are written once computed (and, for a pipeline reader, flushed line by line):
    # wait for both before stopping
    assert wait_for(lambda: len(lines()) >= 2, timeout=RECORD_TIMEOUT_S), \
        f"lossd wrote {len(lines())} of 2 records within {RECORD_TIMEOUT_S} s; stderr:\n{sidecar.stderr()[-4000:]}"
    assert sidecar.stop(signal.SIGTERM) == 0, sidecar.stderr()[-4000:]
    check_all(lines(), cases)
    if to_file:
        assert sidecar.stdout().strip() == "", "records went to stdout as well as the file"
