"""Divergence end to end, with real processes: a LossClient sends batches through a sidecar to
``lossd aggregate --publish``; when the loss explodes (or a batch holds NaN) the aggregator
publishes an ``event`` message that pyzmq and lossd_client's DivergenceWatcher receive, /stats
and /metrics show the flag, and a restart from the state file keeps it."""

from __future__ import annotations

import json
import re
import signal
import time

import numpy as np
import pytest
import zmq

from lossd_client import DivergenceError, DivergenceWatcher, LossClient
from lossd_testkit import free_tcp_port, synthetic_batch, wait_for

BOXES, CLASSES = 512, 6


def subscriber(context: zmq.Context, endpoint: str) -> zmq.Socket:
    """A SUB socket on topics event and stats, returned once the first snapshot arrived (from
    then on no message can be missed)."""
    socket = context.socket(zmq.SUB)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.SUBSCRIBE, b"event")
    socket.setsockopt(zmq.SUBSCRIBE, b"stats")
    socket.connect(endpoint)
    assert socket.poll(20_000), "no snapshot on the publish socket within 20 s"
    socket.recv_multipart()
    return socket


def next_event(socket: zmq.Socket, timeout: float = 20.0):
    """The next message of topic event (JSON), skipping snapshots; fails after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if socket.poll(int(max(1, (deadline - time.monotonic()) * 1000))):
            topic, body = socket.recv_multipart()
            if topic == b"event":
                return json.loads(body)
    raise AssertionError(f"no event within {timeout} s")


def diverging_metric(metrics: str, run: str, split: str = "train") -> float:
    match = re.search(rf'^lossd_diverging{{run="{run}",split="{split}"}} (\S+)$', metrics, re.M)
    assert match, f"no lossd_diverging for {run}/{split}:\n{metrics}"
    return float(match.group(1))


def split_stats(stats, run: str, split: str = "train"):
    """/stats's entry of (run, split), or {} before its first record."""
    return next((s for s in stats["splits"] if s["run"] == run and s["split"] == split), {})


@pytest.fixture
def pipeline(start_aggregator, start_sidecar):
    publish = free_tcp_port()
    flags = ["--publish", f"@tcp://127.0.0.1:{publish}", "--snapshot-interval", "0.2",
             "--divergence-factor", "10", "--divergence-steps", "3"]
    aggregator = start_aggregator(state=True, extra=flags)
    sidecar = start_sidecar(f">{aggregator.input_address}", link=True)
    return aggregator, sidecar, f"tcp://127.0.0.1:{publish}", flags


def test_an_exploding_loss_and_a_nan_batch_raise_events_flags_and_survive_a_restart(pipeline, start_aggregator):
    aggregator, sidecar, publish, flags = pipeline
    context = zmq.Context()
    events = subscriber(context, publish)
    watcher = DivergenceWatcher(publish, run="explode")
    client = LossClient(sidecar.input, run="explode", source="trainer")
    try:
        assert watcher.wait_until_listening(20)
        y_true, y_pred = synthetic_batch(boxes=BOXES, classes=CLASSES, batch=2, seed=1)
        for step in range(8):
            client.send(y_true, y_pred, step=step)
        assert wait_for(lambda: split_stats(aggregator.stats(), "explode").get("batches") == 8, timeout=20)
        calm = split_stats(aggregator.stats(), "explode")
        assert calm["divergence"]["diverging"] is False and diverging_metric(aggregator.metrics(), "explode") == 0
        assert not watcher.diverged
        watcher.raise_if_diverged()  # nothing yet: no exception

        exploded = y_pred.copy()
        exploded[..., CLASSES:CLASSES + 4] *= 1000.0  # predicted offsets far off: localization x ~1000
        for step in range(8, 12):
            client.send(y_true, exploded, step=step)

        event = next_event(events)
        minimum = calm["loss"]["min"]
        assert event["kind"] == "event" and event["event"] == "diverging" and event["v"] == 1
        assert (event["run"], event["split"], event["reason"], event["figure"]) == \
            ("explode", "train", "rising", "batch")
        assert event["step"] == 10 and event["batches"] == 11, event  # the third batch above the threshold
        values = event["values"]
        assert values["factor"] == 10 and values["steps"] == 3 and values["above"] == 3
        assert values["minimum"] == pytest.approx(minimum, rel=1e-12)
        assert values["threshold"] == pytest.approx(10 * minimum, rel=1e-12)
        assert values["loss"] > values["threshold"] and values["nonfinite"] is None

        assert watcher.wait(10), "the watcher did not hear the event"
        assert watcher.event["step"] == 10 and watcher.event["reason"] == "rising"
        with pytest.raises(DivergenceError, match=r"run 'explode', split 'train' diverged at step 10"):
            watcher.raise_if_diverged()

        stats = aggregator.stats()
        divergence = split_stats(stats, "explode")["divergence"]
        assert divergence["diverging"] is True and divergence["reason"] == "rising" and divergence["since"] == 10
        assert divergence["episodes"] == 1 and divergence["minimum"] == pytest.approx(minimum, rel=1e-12)
        assert stats["parameters"]["divergence_factor"] == 10 and stats["parameters"]["divergence_steps"] == 3
        assert diverging_metric(aggregator.metrics(), "explode") == 1

        # A batch with NaN in y_pred: the sidecar's error record (code nonfinite) marks another run at once.
        other = LossClient(sidecar.input, run="nan-run", source="trainer")
        poisoned = y_pred.copy()
        poisoned[1, 4, 3] = np.nan
        other.send(y_true, y_pred, step=0)
        other.send(y_true, poisoned, step=1)
        other.close()
        event = next_event(events)
        assert (event["run"], event["event"], event["reason"], event["figure"], event["step"]) == \
            ("nan-run", "diverging", "nonfinite", "error_record", 1), event
        assert event["values"]["nonfinite"]["y_pred"] == 1, event
    finally:
        client.close(linger_ms=0)
        events.close(linger=0)
        context.term()
        started = time.monotonic()
        watcher.close()
        assert time.monotonic() - started < 2, "closing the watcher took longer than its bounded wait"
        assert not watcher._thread.is_alive()

    # SIGTERM, restart from the state file on the same ports: the flag is still there, and a
    # watcher that joins now (no event will come) learns it from the snapshots.
    assert aggregator.stop(signal.SIGTERM) == 0, aggregator.stderr()
    assert "is diverging at step 10" in aggregator.stderr(), "the event is in the log"
    second = start_aggregator(input_port=aggregator.input_port, http_port=aggregator.http_port,
                              state=aggregator.state, extra=flags)
    assert split_stats(second.stats(), "explode")["divergence"]["diverging"] is True
    assert diverging_metric(second.metrics(), "explode") == 1
    assert diverging_metric(second.metrics(), "nan-run") == 1
    with DivergenceWatcher(publish, run="explode", split="train") as late:
        assert late.wait(20), "a watcher that joined after the event did not learn it from a snapshot"
        assert late.event["figure"] == "snapshot" and late.event["reason"] == "rising" and late.event["step"] == 10
    with DivergenceWatcher(publish, run="explode", split="val") as other_split:
        assert other_split.wait_until_listening(20)
        assert not other_split.wait(0.5), "a watcher of another split must not stop"
    assert second.stop(signal.SIGTERM) == 0
