"""Load and soak: 4 trainers x 2 sidecars x 1 aggregator, real processes over tcp loopback.

- Load: the trainers send BATCHES batches in all, 5 % of them malformed (four error codes in
  turn); every one must be accounted for on the aggregator's /stats: loss records + error records
  == sent, with no seq lost or duplicated, and each sidecar's received = computed + rejected.
- Soak: the same pipeline under steady traffic for SOAK_SECONDS while the resident memory of
  each lossd process is sampled from /proc; none may grow past its bound (SPEC §7 for the
  sidecars), and at the end every batch is accounted for as above.

`make test` runs a short version (2,000 batches, a 20 s soak). LOSSD_LOAD_FULL=1 runs the full
size: 20,000 batches and a 2-minute soak (`make test-load`).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from typing import Dict, List, Optional

import numpy as np
import zmq

from lossd_testkit import proc_status_bytes, source_stats, synthetic_batch, wait_for

FULL = os.environ.get("LOSSD_LOAD_FULL", "") not in ("", "0")
BATCHES = 20_000 if FULL else 2_000
SOAK_SECONDS = 120.0 if FULL else 20.0
TRAINERS, SIDECARS = 4, 2
WORKERS, QUEUE = 2, 2
B, N, C = 2, 64, 5
RUN = "load"
MALFORMED_EVERY = 20  # one message in 20: 5 %
MALFORMED_CODES = ("nonfinite", "bad_frames", "unsupported_version", "bad_header")
MIB = 2**20
# The aggregator's bound: a few (run, split) and (run, source) pairs are kilobytes of statistics
# (a window of 100 batches, 5 bytes a seq of the reorder window); libzmq's receive pipe holds at
# most 1000 records of about 1 KB. 64 MiB is the allowance SPEC §7 gives a sidecar's runtime.
AGGREGATOR_BOUND = 64 * MIB


class LoadTrainer(threading.Thread):
    """A trainer written against SPEC §2 with plain pyzmq: keras batches of B=2, N=64, C=5, every
    20th message malformed (the codes in turn). A bad_header message carries no seq, so the seqs
    of one trainer stay 0, 1, 2, …

    Sends ``count`` messages, or until stopped; ``rate`` (messages/s) paces it, None floods."""

    def __init__(self, index: int, endpoint: str, count: Optional[int] = None, rate: Optional[float] = None) -> None:
        super().__init__(name=f"load-trainer-{index}", daemon=True)
        self.index, self.endpoint, self.count, self.rate = index, endpoint, count, rate
        self.source = f"trainer{index}"
        y_true, y_pred = synthetic_batch(boxes=N, classes=C, batch=B, seed=100 + index)
        self.y_true, self.y_pred = y_true.tobytes(), y_pred.tobytes()
        nan = y_pred.copy()
        nan[0, 0, 0] = np.nan  # every box of synthetic_batch is labelled, so this one counts
        self.y_pred_nan = nan.tobytes()
        self.sent = 0
        self.seqs = 0
        self.codes: Counter = Counter()
        self.stop_event = threading.Event()
        self.error: Optional[BaseException] = None

    def header(self, step: int, **changes) -> bytes:
        h = {"v": 1, "batch": B, "boxes": N, "classes": C, "dtype": "float32", "run": RUN, "split": "train",
             "source": self.source, "step": step, "seq": self.seqs}
        h.update(changes)
        self.seqs += 1
        return json.dumps(h).encode()

    def message(self, i: int) -> List[bytes]:
        if i % MALFORMED_EVERY != MALFORMED_EVERY - 1:
            return [self.header(i), self.y_true, self.y_pred]
        code = MALFORMED_CODES[(i // MALFORMED_EVERY) % len(MALFORMED_CODES)]
        self.codes[code] += 1
        if code == "nonfinite":
            return [self.header(i), self.y_true, self.y_pred_nan]
        if code == "bad_frames":
            return [self.header(i), self.y_true, self.y_pred[:-4]]
        if code == "unsupported_version":
            return [self.header(i, v=2), self.y_true, self.y_pred]
        return [b'{"v": 1, "batch": 2, "boxes": ', self.y_true, self.y_pred]  # bad_header: no seq

    @property
    def good(self) -> int:
        return self.sent - sum(self.codes.values())

    def run(self) -> None:
        context = zmq.Context()
        socket = context.socket(zmq.PUSH)
        try:
            socket.setsockopt(zmq.SNDHWM, 4)
            socket.setsockopt(zmq.SNDTIMEO, 60_000)  # a stall of a minute fails the test
            socket.setsockopt(zmq.LINGER, 60_000)
            socket.connect(self.endpoint)
            started = time.monotonic()
            while not self.stop_event.is_set() and (self.count is None or self.sent < self.count):
                if self.rate is not None:
                    delay = started + self.sent / self.rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                socket.send_multipart(self.message(self.sent))
                self.sent += 1
        except BaseException as error:
            self.error = error
        finally:
            socket.close()  # lingers until the queued messages have left
            context.term()

    def finish(self, timeout: float) -> None:
        self.join(timeout)
        assert not self.is_alive(), f"{self.source} still sending after {timeout} s"
        assert self.error is None, f"{self.source} failed: {self.error!r}"


def start_pipeline(start_sidecar, start_aggregator):
    aggregator = start_aggregator(snapshots=True)
    sidecars = [start_sidecar(f">{aggregator.input_address}", workers=WORKERS, extra=["--queue", str(QUEUE)], link=True)
                for _ in range(SIDECARS)]
    return aggregator, sidecars


def trainers_for(sidecars, **kwargs) -> List[LoadTrainer]:
    """Trainers 0 and 1 send to the first sidecar, 2 and 3 to the second."""
    per = TRAINERS // SIDECARS
    return [LoadTrainer(i, sidecars[i // per].input_address, **kwargs) for i in range(TRAINERS)]


def check_everything_counted(aggregator, sidecars, trainers: List[LoadTrainer], timeout: float) -> Dict[str, int]:
    """Waits until the aggregator has read a record per message sent, then checks that each one is
    a loss or an error record with the right code, no seq is lost or duplicated (also after the
    shutdown, when every gap counts), and the sidecars' counts agree. Stops every process."""
    sent = sum(t.sent for t in trainers)
    good = sum(t.good for t in trainers)
    codes = sum((t.codes for t in trainers), Counter())
    assert wait_for(lambda: aggregator.stats()["records"] >= sent, timeout=timeout, interval=0.5), \
        f"the aggregator has {aggregator.stats()['records']} of {sent} records after {timeout} s"
    stats = aggregator.stats()
    assert (stats["records"], stats["invalid"], stats["overflow"]) == (sent, 0, 0)
    loss_records = sum(s["batches"] for s in stats["splits"])
    errors = sum((Counter(s["errors"]) for s in stats["splits"]), Counter())
    assert loss_records == good
    assert +errors == +codes, f"error records by code {dict(errors)}, sent {dict(codes)}"
    assert loss_records + sum(errors.values()) == sent
    sources = source_stats(stats, RUN)
    for t in trainers:
        s = sources[t.source]
        assert (s["highest_seq"], s["lost"], s["duplicates"], s["pending"]) == (t.seqs - 1, 0, 0, 0), s

    per = TRAINERS // SIDECARS
    for i, sidecar in enumerate(sidecars):
        mine = trainers[i * per:(i + 1) * per]
        assert sidecar.stop(signal.SIGTERM, timeout=60) == 0, sidecar.stderr()[-4000:]
        expected = (sum(t.sent for t in mine), sum(t.good for t in mine), sum(sum(t.codes.values()) for t in mine))
        assert sidecar.counts() == expected
    assert aggregator.stop(signal.SIGTERM, timeout=60) == 0, aggregator.stderr()[-4000:]
    final = aggregator.final_counts()
    assert (final["records"], final["lost"], final["duplicates"]) == (sent, 0, 0), final
    return {"sent": sent, "loss": loss_records, "errors": sum(errors.values())}


def test_load_4_trainers_2_sidecars_1_aggregator_every_batch_counted(start_sidecar, start_aggregator):
    aggregator, sidecars = start_pipeline(start_sidecar, start_aggregator)
    trainers = trainers_for(sidecars, count=BATCHES // TRAINERS)
    started = time.monotonic()
    for t in trainers:
        t.start()
    for t in trainers:
        t.finish(timeout=900 if FULL else 180)
    counts = check_everything_counted(aggregator, sidecars, trainers, timeout=600 if FULL else 120)
    elapsed = time.monotonic() - started
    assert counts["sent"] == BATCHES
    assert counts["errors"] == BATCHES // MALFORMED_EVERY
    print(f"{BATCHES} batches ({counts['errors']} malformed) through 2 sidecars in {elapsed:.1f} s: "
          f"{BATCHES / elapsed:.0f} batches/s")


def test_soak_memory_of_every_process_stays_bounded(start_sidecar, start_aggregator):
    aggregator, sidecars = start_pipeline(start_sidecar, start_aggregator)
    processes = {"aggregator": aggregator, "sidecar0": sidecars[0], "sidecar1": sidecars[1]}
    baseline = {name: p.rss_bytes() for name, p in processes.items()}
    message_bytes = len(json.dumps({"v": 1, "batch": B, "boxes": N, "classes": C, "dtype": "float32",
                                    "run": RUN, "split": "train", "source": "trainer0", "step": 10**9,
                                    "seq": 10**9})) + 2 * B * N * (C + 12) * 4
    bounds = {"aggregator": AGGREGATOR_BOUND,
              "sidecar0": (QUEUE + WORKERS + 1) * message_bytes + 64 * MIB,
              "sidecar1": (QUEUE + WORKERS + 1) * message_bytes + 64 * MIB}
    samples: Dict[str, List[int]] = {name: [] for name in processes}

    trainers = trainers_for(sidecars, rate=100.0)  # 400 batches/s in all
    for t in trainers:
        t.start()
    deadline = time.monotonic() + SOAK_SECONDS
    next_stats = 0.0
    while time.monotonic() < deadline:
        for name, p in processes.items():
            assert p.running(), f"{name} exited during the soak:\n{p.stderr()[-4000:]}"
            samples[name].append(p.rss_bytes())
        if time.monotonic() >= next_stats:  # readers too, as a dashboard would
            aggregator.stats()
            aggregator.metrics()
            next_stats = time.monotonic() + 2.0
        time.sleep(0.5)
    peaks = {name: proc_status_bytes(p.pid, "VmHWM") for name, p in processes.items()}
    for t in trainers:
        t.stop_event.set()
    for t in trainers:
        t.finish(timeout=60)

    report = []
    for name in processes:
        series = samples[name]
        quarter = series[: max(1, len(series) // 4)]
        report.append(f"{name}: start {baseline[name] / MIB:.0f} MiB, peak {peaks[name] / MIB:.0f} MiB, "
                      f"first quarter max {max(quarter) / MIB:.0f} MiB, end {series[-1] / MIB:.0f} MiB, "
                      f"bound +{bounds[name] / MIB:.0f} MiB")
    print("\n".join(report))
    for name in processes:
        growth = max(peaks[name], max(samples[name])) - baseline[name]
        assert growth <= bounds[name], \
            f"{name} grew by {growth / MIB:.1f} MiB over {SOAK_SECONDS:.0f} s; bound {bounds[name] / MIB:.1f} MiB\n" \
            + "\n".join(report)
    counts = check_everything_counted(aggregator, sidecars, trainers, timeout=120)
    print(f"soak: {counts['sent']} batches in {SOAK_SECONDS:.0f} s, all counted")
