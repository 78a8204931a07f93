"""Recordings end to end: `lossd sidecar --record FILE` then `lossd replay FILE`, and
`lossd replay` over recordings written by lossd_client.Recorder; each in both format versions."""

from __future__ import annotations

import signal

import pytest

from lossd_client import LossClient, Recorder, RecordingError, ResultSink, read_recording
from lossd_testkit import (check_loss_record, collect, golden_names, load_golden, loss_overrides, run_replay,
                           without)
from test_independent_trainer import build_messages

SEND_TIMEOUT_MS = 30_000
VOLATILE = ("compute_us", "sidecar")  # the only fields a replay may change


VERSIONS = pytest.mark.parametrize("version", [1, 2])


@VERSIONS
def test_sidecar_recording_replays_to_the_same_records(start_sidecar, lossd_bin, tmp_path, version):
    recording = tmp_path / "tee.lossrec"
    messages = build_messages()  # golden batches interleaved with six malformed messages
    with ResultSink("@tcp://127.0.0.1:*") as sink:
        sidecar = start_sidecar(">" + sink.endpoint, workers=2, record=recording,
                                extra=["--record-version", str(version)])
        with LossClient(sidecar.input, send_timeout_ms=SEND_TIMEOUT_MS) as client:
            for frames, _ in messages:
                client.send_frames(frames)
            live = collect(sink.receive, len(messages), 60.0)
        assert len(live) == len(messages), f"{len(live)} records for {len(messages)} messages"
        assert sidecar.stop(signal.SIGTERM) == 0, sidecar.stderr()[-4000:]
        assert sidecar.counts()[0] == len(messages)

    # the recording holds every message exactly as sent, in order, in the version asked for
    assert recording.read_bytes()[:8] == f"LOSSREC{version}".encode()
    recorded = list(read_recording(recording))
    assert [frames for _, frames in recorded] == [[bytes(f) for f in frames] for frames, _ in messages]
    times = [t for t, _ in recorded]
    assert all(t > 0 for t in times) and times == sorted(times)

    for workers in (1, 3):
        replayed, summary, done = run_replay(lossd_bin, recording, workers=workers)
        assert done.returncode == 0, done.stderr.decode()[-4000:]
        assert [without(r, *VOLATILE) for r in replayed] == [without(r, *VOLATILE) for r in live]
        errors = sum(1 for r in live if r["kind"] == "error")
        assert summary["batches"] == len(messages)
        assert summary["computed"] == len(messages) - errors
        assert sum(summary["errors"].values()) == errors


@VERSIONS
def test_replay_of_a_client_recording(lossd_bin, tmp_path, version):
    """A Recorder-written file is a valid recording: lossd replay reproduces every golden case."""
    recording = tmp_path / "client.lossrec"
    cases = [load_golden(name) for name in golden_names()]
    with Recorder(recording, run="offline", source="rec", version=version) as rec:
        for i, case in enumerate(cases):
            rec.record(case["y_true"], case["y_pred"], step=i, loss=loss_overrides(case),
                       scores=case["params"]["scores"], receive_time_ns=1_000_000 * (i + 1))
    records, summary, done = run_replay(lossd_bin, recording, workers=2)
    assert done.returncode == 0, done.stderr.decode()[-4000:]
    assert len(records) == len(cases)
    for i, (record, case) in enumerate(zip(records, cases)):
        assert record["seq"] == i and record["step"] == i and record["run"] == "offline"
        check_loss_record(record, case)
    assert (summary["batches"], summary["computed"], summary["errors"]) == (16, 16, {})
    samples = sum(c["batch"] for c in cases)
    assert summary["samples"] == samples
    mean = sum(c["expected"]["loss"] * c["batch"] for c in cases) / samples
    assert abs(summary["loss"] - mean) <= 1e-4 * abs(mean)


@VERSIONS
def test_replay_of_a_damaged_recording(lossd_bin, tmp_path, version):
    """lossd replay processes the good records before the damage and says where it stopped."""
    recording = tmp_path / "damaged.lossrec"
    cases = [load_golden(name) for name in ("basic", "ties", "clip")]
    with Recorder(recording, version=version) as rec:
        for case in cases:
            rec.record(case["y_true"], case["y_pred"], loss=loss_overrides(case), scores=case["params"]["scores"])
    data = bytearray(recording.read_bytes())
    data[-10] ^= 0xFF  # inside the last record's frames: its CRC no longer matches
    recording.write_bytes(bytes(data))
    try:
        list(read_recording(recording))
        raise AssertionError("the damage went unnoticed")
    except RecordingError as error:
        offset, good = error.offset, error.good_records
    assert good == 2
    records, summary, done = run_replay(lossd_bin, recording, workers=2)
    assert len(records) == 2
    for record, case in zip(records, cases):
        check_loss_record(record, case)
    assert summary["batches"] == 2
    stderr = done.stderr.decode()
    assert done.returncode != 0, "a damaged recording must not exit 0"
    assert str(offset) in stderr, f"lossd replay does not name byte {offset}: {stderr}"
