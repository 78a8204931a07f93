"""SPEC §6 computed the plain way, independently of lossd: what /stats must say for a list of
records. Shared by the aggregator's end-to-end and fault tests."""

from __future__ import annotations

import re
from collections import deque
from typing import Any, Dict, Iterable, Optional

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


def expected_stats(records: Iterable[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """split -> SplitStats.expected() for records of one run, in order; a (source, seq) seen
    before is a duplicate and skipped, as lossd does."""
    stats: Dict[str, SplitStats] = {}
    seen = set()
    for record in records:
        if record.get("seq") is not None:
            key = (record.get("source", ""), record["seq"])
            if key in seen:
                continue
            seen.add(key)
        split = stats.setdefault(record.get("split", "train"), SplitStats())
        if record["kind"] == "error":
            split.errors[record["code"]] = split.errors.get(record["code"], 0) + 1
        else:
            split.add(record)
    return {name: s.expected() for name, s in stats.items()}


def close(actual: Optional[float], expected: Optional[float]) -> bool:
    if expected is None or actual is None:
        return actual is expected
    return abs(actual - expected) <= 1e-9 * max(1.0, abs(expected))


def check_stats(stats: Dict[str, Any], expected: Dict[str, Dict[str, Any]], run: str = "e2e") -> None:
    """Asserts that /stats holds ``expected`` (split -> SplitStats.expected()) for ``run``."""
    splits = {(s["run"], s["split"]): s for s in stats["splits"]}
    for split, want in expected.items():
        got = splits[(run, split)]
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
