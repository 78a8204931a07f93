"""lossd aggregate end to end: an independent pyzmq program pushes loss and error records,
computes the statistics itself (SPEC §6), and finds exactly those on /stats and /metrics; after
SIGTERM and a restart from the state file they are still there, and the seq gap counts as lost."""

from __future__ import annotations

import json
import random
import signal
from typing import Any, Dict, List

import zmq

from aggregate_model import COMPONENTS, check_stats, close, expected_stats, parse_metrics
from lossd_testkit import wait_for


def make_script(seed: int = 7):
    """The records to push, and the statistics they must produce."""
    rng = random.Random(seed)
    records: List[Dict[str, Any]] = []
    for source, split, count in (("rank0", "train", 240), ("rank1", "train", 200), ("eval", "val", 60)):
        for seq in range(count):
            batch = rng.randint(1, 16)
            classification = rng.uniform(0.5, 6.0) / (1 + seq / 50)
            localization = rng.uniform(0.1, 2.0) / (1 + seq / 50)
            loss = classification + localization
            records.append({
                "v": 1, "kind": "loss", "run": "e2e", "split": split, "source": source,
                "epoch": seq // 50, "step": seq, "seq": seq, "batch": batch, "boxes": 8732, "classes": 21,
                "loss": loss, "classification": classification, "localization": localization,
                "per_item": [loss] * batch, "positives": float(rng.randint(0, 40)), "negatives": rng.randint(0, 120),
                "negatives_available": 5000, "compute_us": 100, "sidecar": "pytest:1"})
    # Interleave the sources as several sidecars would, keeping each source's order.
    streams = {}
    for record in records:
        streams.setdefault(record["source"], []).append(record)
    order: List[Dict[str, Any]] = []
    while any(streams.values()):
        source = rng.choice([s for s, queue in streams.items() if queue])
        order.append(streams[source].pop(0))
    # Reorder inside the window: swap a few neighbours of rank0; drop rank0's seq 17; resend seq 5.
    rank0 = [i for i, r in enumerate(order) if r["source"] == "rank0"]
    for a, b in zip(rank0[30:60:2], rank0[31:61:2]):
        if order[a]["epoch"] == order[b]["epoch"]:
            order[a], order[b] = order[b], order[a]
    dropped = next(r for r in order if r["source"] == "rank0" and r["seq"] == 17)
    order.remove(dropped)
    order.append(dict(next(r for r in order if r["source"] == "rank0" and r["seq"] == 5)))
    # rank1's seq 200 gets an error record instead of a loss record.
    order.append({"v": 1, "kind": "error", "code": "bad_frames", "error": "frame 2 is short",
                  "run": "e2e", "split": "train", "source": "rank1", "seq": 200})

    return order, expected_stats(order)


def test_statistics_match_an_independent_computation_and_survive_a_restart(start_aggregator):
    order, expected = make_script()
    started = dict(state=True, snapshots=True, extra=["--snapshot-interval", "0.5"])
    first = start_aggregator(**started)
    try:
        context = zmq.Context()
        push = context.socket(zmq.PUSH)
        push.connect(first.pull_address)
        for record in order:
            push.send_string(json.dumps(record))
        push.send_string("this is not a record")
        push.close(linger=10_000)
        context.term()

        total = len(order) + 1
        assert wait_for(lambda: first.stats()["records"] == total, timeout=30), first.stats()["records"]
        stats = first.stats()
        assert stats["invalid"] == 1
        check_stats(stats, expected)
        sources = {s["source"]: s for s in stats["sources"]}
        assert sources["rank0"]["duplicates"] == 1
        assert sources["rank0"]["lost"] == 0          # seq 17 is still within the reorder window
        assert sources["rank0"]["pending"] == 1
        assert sources["rank1"]["highest_seq"] == 200  # the error record's seq counts as seen

        samples = parse_metrics(first.metrics())
        for split, want in expected.items():
            for name in COMPONENTS:
                for statistic in ("mean", "ema", "window", "last", "min", "max", "epoch_mean"):
                    key = (f"lossd_loss_{statistic}", (("component", name), ("run", "e2e"), ("split", split)))
                    assert close(samples[key], want[name][statistic]), f"{key}: {samples[key]} != {want[name][statistic]}"
            assert samples[("lossd_batches_total", (("run", "e2e"), ("split", split)))] == want["batches"]
            assert samples[("lossd_samples_total", (("run", "e2e"), ("split", split)))] == want["samples"]
        assert samples[("lossd_errors_total", (("code", "bad_frames"), ("run", "e2e"), ("split", "train")))] == 1
        assert samples[("lossd_duplicate_batches_total", (("run", "e2e"), ("source", "rank0")))] == 1
        assert samples[("lossd_lost_batches_total", (("run", "e2e"), ("source", "rank0")))] == 0

        assert first.stop(signal.SIGTERM) == 0, first.stderr()
    finally:
        first.kill()

    second = start_aggregator(input_port=first.input_port, http_port=first.http_port, pull_port=first.pull_port, **started)
    try:
        stats = second.stats()
        assert stats["records"] == total
        check_stats(stats, expected)
        sources = {s["source"]: s for s in stats["sources"]}
        assert sources["rank0"]["lost"] == 1  # at shutdown every gap counts
        assert sources["rank0"]["pending"] == 0
        assert second.stop(signal.SIGINT) == 0
    finally:
        second.kill()
    snapshots = second.snapshots.read_text().splitlines()
    assert len(snapshots) >= 2 and all(json.loads(line)["kind"] == "stats" for line in snapshots)
