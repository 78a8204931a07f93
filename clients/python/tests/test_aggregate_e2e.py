"""lossd aggregate end to end: an independent pyzmq program pushes loss and error records,
computes the statistics itself (SPEC §6), and finds exactly those on /stats and /metrics; after
SIGTERM and a restart from the state file they are still there, and the seq gap counts as lost."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import time
import urllib.request
from collections import deque
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import zmq

from lossd_testkit import free_tcp_port, wait_for

DECAY = 0.98
WINDOW = 100
COMPONENTS = ("loss", "classification", "localization")


class SplitStats:
    """SPEC §6 for one (run, split), computed the plain way."""

    def __init__(self) -> None:
        self.batches = 0
        self.samples = 0
        self.positives = 0.0
        self.negatives = 0
        self.errors: Dict[str, int] = {}
        self.epoch: Optional[int] = None
        self.last_epoch: Optional[int] = None
        self.window: deque = deque(maxlen=WINDOW)
        self.c = {name: dict(sum=0.0, weight=0.0, ema=0.0, steps=0, last=None, min=None, max=None,
                             epoch_sum=0.0, epoch_weight=0.0, last_epoch_mean=None) for name in COMPONENTS}

    def add(self, record: Dict[str, Any]) -> None:
        # A higher epoch starts a new one; a lower one (another source still finishing the
        # previous epoch) counts everywhere but in the epoch means (docs/OPERATIONS.md).
        epoch = record.get("epoch")
        in_epoch = epoch is None or self.epoch is None or epoch >= self.epoch
        if epoch is not None:
            if self.epoch is None:
                self.epoch = epoch
            elif epoch > self.epoch:
                for c in self.c.values():
                    c["last_epoch_mean"] = c["epoch_sum"] / c["epoch_weight"] if c["epoch_weight"] > 0 else None
                    c["epoch_sum"] = c["epoch_weight"] = 0.0
                self.last_epoch, self.epoch = self.epoch, epoch
        w = float(record["batch"])
        self.batches += 1
        self.samples += record["batch"]
        self.positives += record["positives"]
        self.negatives += record["negatives"]
        self.window.append((w, [record[name] for name in COMPONENTS]))
        for name in COMPONENTS:
            x, c = record[name], self.c[name]
            c["sum"] += w * x
            c["weight"] += w
            c["ema"] = DECAY * c["ema"] + (1 - DECAY) * x
            c["steps"] += 1
            c["last"] = x
            c["min"] = x if c["min"] is None else min(c["min"], x)
            c["max"] = x if c["max"] is None else max(c["max"], x)
            if in_epoch:
                c["epoch_sum"] += w * x
                c["epoch_weight"] += w

    def expected(self) -> Dict[str, Any]:
        result: Dict[str, Any] = dict(batches=self.batches, samples=self.samples, epoch=self.epoch,
                                      last_epoch=self.last_epoch, errors=dict(self.errors),
                                      positives_per_batch=self.positives / self.batches,
                                      negatives_per_batch=self.negatives / self.batches)
        for index, name in enumerate(COMPONENTS):
            c = self.c[name]
            result[name] = dict(
                mean=c["sum"] / c["weight"],
                ema=c["ema"] / (1 - DECAY ** c["steps"]),
                window=sum(w * xs[index] for w, xs in self.window) / sum(w for w, _ in self.window),
                last=c["last"], min=c["min"], max=c["max"],
                epoch_mean=c["epoch_sum"] / c["epoch_weight"] if c["epoch_weight"] > 0 else None,
                last_epoch_mean=c["last_epoch_mean"])
        return result


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

    stats = {"train": SplitStats(), "val": SplitStats()}
    seen = set()
    for record in order:
        key = (record["source"], record["seq"])
        if key in seen:
            continue
        seen.add(key)
        if record["kind"] == "error":
            stats[record["split"]].errors[record["code"]] = stats[record["split"]].errors.get(record["code"], 0) + 1
        else:
            stats[record["split"]].add(record)
    return order, {split: s.expected() for split, s in stats.items()}


def close(actual: Optional[float], expected: Optional[float]) -> bool:
    if expected is None or actual is None:
        return actual is expected
    return abs(actual - expected) <= 1e-9 * max(1.0, abs(expected))


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200, url
        return response.read().decode()


class Aggregator:
    def __init__(self, lossd_bin: str, tmp_path: Path, name: str, input_port: int, http_port: int) -> None:
        self.http = f"http://127.0.0.1:{http_port}"
        self.stderr_path = tmp_path / f"{name}.stderr"
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [lossd_bin, "aggregate", "--input", f"@tcp://127.0.0.1:{input_port}", "--http", f"127.0.0.1:{http_port}",
             "--state", str(tmp_path / "state.json"), "--snapshots", str(tmp_path / "snapshots.jsonl"),
             "--snapshot-interval", "0.5"],
            stdout=subprocess.DEVNULL, stderr=self._stderr, stdin=subprocess.DEVNULL)

        def ready() -> bool:
            assert self.proc.poll() is None, f"lossd aggregate exited: {self.stderr_path.read_text()}"
            try:
                return get(self.http + "/healthz") == "ok\n"
            except OSError:
                return False

        assert wait_for(ready, timeout=30), self.stderr_path.read_text()

    def stats(self) -> Dict[str, Any]:
        return json.loads(get(self.http + "/stats"))

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self._stderr.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def check_stats(stats: Dict[str, Any], expected: Dict[str, Dict[str, Any]]) -> None:
    splits = {(s["run"], s["split"]): s for s in stats["splits"]}
    for split, want in expected.items():
        got = splits[("e2e", split)]
        for key in ("batches", "samples", "epoch", "last_epoch", "errors"):
            assert got[key] == want[key], f"{split}.{key}: {got[key]} != {want[key]}"
        for key in ("positives_per_batch", "negatives_per_batch"):
            assert close(got[key], want[key]), f"{split}.{key}: {got[key]} != {want[key]}"
        for name in COMPONENTS:
            for statistic, value in want[name].items():
                assert close(got[name][statistic], value), f"{split}.{name}.{statistic}: {got[name][statistic]} != {value}"


METRIC = re.compile(r'^(\w+)\{([^}]*)\} (\S+)$')


def parse_metrics(text: str) -> Dict[tuple, float]:
    samples = {}
    for line in text.splitlines():
        match = METRIC.match(line)
        if match:
            labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2))))
            samples[(match.group(1), labels)] = float(match.group(3))
    return samples


def test_statistics_match_an_independent_computation_and_survive_a_restart(lossd_bin, tmp_path):
    order, expected = make_script()
    input_port, http_port = free_tcp_port(), free_tcp_port()
    first = Aggregator(lossd_bin, tmp_path, "first", input_port, http_port)
    try:
        context = zmq.Context()
        push = context.socket(zmq.PUSH)
        push.connect(f"tcp://127.0.0.1:{input_port}")
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

        samples = parse_metrics(get(first.http + "/metrics"))
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

        assert first.stop(signal.SIGTERM) == 0, first.stderr_path.read_text()
    finally:
        first.kill()

    second = Aggregator(lossd_bin, tmp_path, "second", input_port, http_port)
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
    snapshots = (tmp_path / "snapshots.jsonl").read_text().splitlines()
    assert len(snapshots) >= 2 and all(json.loads(line)["kind"] == "stats" for line in snapshots)
