"""Distributed training as it really runs (docs/DISTRIBUTED.md), with real processes over tcp
loopback: ranks in processes of their own with the launcher's variables, two sidecars, one
aggregator writing TensorBoard event files.

The job test: 4 ranks (world size 4, default LossClient settings; ranks 0–1 on one sidecar,
2–3 on the other) run steps 0–120 (ranks 0 and 1 get two steps further), the whole job is
SIGKILLed as torchrun does when a rank fails, and every rank is started again in a new process
from the checkpoint at step 100 and runs to step 199; then rank 3 restarts alone from step 180,
as an independent worker would. Every batch is counted once, every complete step's pooled and
mean figures equal a numpy computation from the records (replayed from the sidecars'
recordings), steps 100–120 hold the second run's values, the partial steps are counted, and
TensorBoard's own reader sees exactly /stats's steps. It takes about 30 s (docs/TESTING.md).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pytest
import zmq

from aggregate_model import parse_metrics
from lossd_testkit import free_tcp_port, http_get, run_replay, source_stats, wait_for

HERE = Path(__file__).resolve().parent
TRAINER = HERE / "ddp_trainer.py"
TENSORBOARD_READER = HERE / "tensorboard_scalars.py"
RUN, WORLD = "ddp", 4
DECAY = 0.98  # the aggregator's default ema_decay
COMPONENTS = ("loss", "classification", "localization")


class Trainer:
    """One rank's process (``ddp_trainer.py``), its output in a file."""

    def __init__(self, workdir: Path, endpoint: str, rank: Optional[int], first: int, last: int, attempt: int,
                 hold: bool = False) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
        env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")])
        if rank is not None:
            env.update(RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank % 2))
        self.output = workdir / f"trainer-{attempt}-{rank}-{first}.out"
        args = [sys.executable, str(TRAINER), endpoint, "--run", RUN, "--first", str(first), "--last", str(last),
                "--attempt", str(attempt)] + (["--hold"] if hold else [])
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
        self.attempt = attempt

    def lines(self) -> List[str]:
        return self.output.read_text().splitlines()

    @property
    def identity(self) -> Dict[str, Any]:
        return json.loads(self.lines()[0])

    def wait_sent(self, timeout: float = 60) -> None:
        assert wait_for(lambda: "sent" in self.lines() or self.proc.poll() is not None, timeout=timeout, interval=0.05)
        assert "sent" in self.lines(), f"trainer failed:\n{self.output.read_text()}"

    def finish(self, timeout: float = 60) -> None:
        assert self.proc.wait(timeout=timeout) == 0, self.output.read_text()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def stats(aggregator, steps: int = 1000) -> Dict[str, Any]:
    return json.loads(http_get(f"{aggregator.http}/stats?steps={steps}"))


def split_of(snapshot: Dict[str, Any]) -> Dict[str, Any]:
    return next(s for s in snapshot["splits"] if (s["run"], s["split"]) == (RUN, "train"))


def close(actual: Optional[float], expected: float) -> bool:
    return actual is not None and abs(actual - expected) <= 1e-9 * max(1.0, abs(expected))


def pooled_and_mean(records: List[Dict[str, Any]]):
    """The step's figures from its records, the plain way (keras profile: one normaliser,
    max(1, Σ positives), over the whole step)."""
    batch = np.array([r["batch"] for r in records], dtype=np.float64)
    normalizer = max(1.0, float(np.sum([r["positives"] for r in records])))
    classification = float(np.sum([r["classification_sum"] for r in records])) / normalizer
    localization = float(np.sum([r["localization_sum"] for r in records])) / normalizer
    alpha = records[0]["params"]["alpha"]
    pooled = {"loss": classification + alpha * localization, "classification": classification,
              "localization": localization}
    mean = {name: float(np.sum(batch * np.array([r[name] for r in records])) / np.sum(batch)) for name in COMPONENTS}
    return pooled, mean


def test_job_killed_and_resumed_from_a_checkpoint(lossd_bin, start_sidecar, start_aggregator, tmp_path):
    started = time.monotonic()
    tensorboard = tmp_path / "tensorboard"
    aggregator = start_aggregator(extra=["--tensorboard", str(tensorboard), "--step-timeout", "5",
                                         "--open-steps", "256"])
    recordings = [tmp_path / f"sidecar{index}.lossrec" for index in range(2)]
    sidecars = [start_sidecar(f">{aggregator.input_address}", record=recordings[index], link=True) for index in range(2)]

    def endpoint(rank: int) -> str:  # two hosts of two ranks each
        return sidecars[rank // 2].input

    trainers: List[Trainer] = []
    try:
        # The first job: steps 0–120 everywhere; ranks 0 and 1 got two steps further before a
        # rank failed. Then torchrun kills the whole job.
        first = [Trainer(tmp_path, endpoint(rank), rank, 0, 122 if rank < 2 else 120, attempt=1, hold=True)
                 for rank in range(WORLD)]
        trainers += first
        for trainer in first:
            trainer.wait_sent()
        sent = 4 * 121 + 2 * 2
        assert wait_for(lambda: stats(aggregator, 0)["records"] == sent, timeout=60, interval=0.2)
        for trainer in first:
            trainer.kill()
        # Steps 121 and 122 lack ranks 2 and 3: partial once their timeout passes.
        assert wait_for(lambda: [s["status"] for s in split_of(stats(aggregator, 2))["steps"]] == ["partial"] * 2,
                        timeout=15, interval=0.2), split_of(stats(aggregator, 3))["steps"]
        before_resume = split_of(stats(aggregator))
        assert before_resume["step_counts"]["partial"] == 2 and before_resume["last_complete_step"]["step"] == 120

        # Every rank again, in new processes, from the checkpoint at step 100 to step 199.
        second = [Trainer(tmp_path, endpoint(rank), rank, 100, 199, attempt=2) for rank in range(WORLD)]
        trainers += second
        for trainer in second:
            trainer.finish()
        sent += 4 * 100
        # Then rank 3 alone restarts from step 180 (an independent worker).
        third = Trainer(tmp_path, endpoint(3), 3, 180, 199, attempt=3)
        trainers.append(third)
        third.finish()
        sent += 20
        assert wait_for(lambda: stats(aggregator, 0)["records"] == sent, timeout=60, interval=0.2)
        assert wait_for(lambda: split_of(stats(aggregator, 0))["step_counts"]["open"] == 0, timeout=15, interval=0.2)
        final = stats(aggregator)
        for sidecar in sidecars:
            assert sidecar.stop(signal.SIGTERM) == 0, sidecar.stderr()
        assert aggregator.stop(signal.SIGTERM) == 0, aggregator.stderr()
    finally:
        for trainer in trainers:
            trainer.kill()
    streams = {trainer.identity["stream"]: trainer.attempt for trainer in trainers}
    assert len(streams) == len(trainers)  # every process drew a stream of its own

    # The records, as the sidecars computed them: replayed from their recordings.
    records = []
    for recording in recordings:
        replayed, summary, _ = run_replay(lossd_bin, recording)
        assert summary["errors"] == {}, summary
        records += replayed
    assert len(records) == sent and all(r["kind"] == "loss" for r in records)

    # No batch counted as duplicate, none missing from the averages.
    split = split_of(final)
    assert split["batches"] == sent
    weights = np.array([r["batch"] for r in records], dtype=np.float64)
    assert close(split["loss"]["mean"], float(np.sum(weights * np.array([r["loss"] for r in records]))
                                        / np.sum(weights)))
    sources = source_stats(final, RUN)
    assert sorted(sources) == sorted(trainer.identity["source"] for trainer in first)
    for rank, trainer in enumerate(first):
        source = sources[trainer.identity["source"]]
        assert (source["duplicates"], source["lost"], source["pending"]) == (0, 0, 0), source
        assert source["streams"] == (3 if rank == 3 else 2)

    # Every step complete, with the figures of the latest record of each rank.
    latest: Dict[int, Dict[int, Dict[str, Any]]] = defaultdict(dict)
    for record in sorted(records, key=lambda r: streams[r["stream"]]):
        assert (record["rank"], record["world_size"]) in {(r, WORLD) for r in range(WORLD)}
        latest[record["step"]][record["rank"]] = record
    steps = {s["step"]: s for s in split["steps"]}
    assert sorted(steps) == list(range(200)) and all(s["status"] == "complete" for s in steps.values())
    raw, power = np.zeros(3), 1.0
    for number in range(200):
        step, ranks = steps[number], latest[number]
        assert sorted(ranks) == list(range(WORLD)) and step["ranks"] == WORLD
        assert step["samples"] == sum(r["batch"] for r in ranks.values())
        pooled, mean = pooled_and_mean([ranks[rank] for rank in range(WORLD)])
        raw = DECAY * raw + (1 - DECAY) * np.array([pooled[name] for name in COMPONENTS])
        power *= DECAY
        for name in COMPONENTS:
            assert close(step["pooled"][name], pooled[name]), (number, name, step["pooled"][name], pooled[name])
            assert close(step["mean"][name], mean[name]), (number, name, step["mean"][name], mean[name])
        assert close(step["ema"]["loss"], float(raw[0] / (1 - power)))
        # Steps 100–199 hold the second run's values (rank 3's of 180–199 come from its own restart).
        expected_attempts = {1} if number < 100 else {2} if number < 180 else {2, 3}
        assert {streams[r["stream"]] for r in ranks.values()} == expected_attempts, number
    replaced = pooled_and_mean([r for r in records if r["step"] == 110 and streams[r["stream"]] == 1])[0]
    assert not close(steps[110]["pooled"]["loss"], replaced["loss"])  # the first run's value is gone
    counts = split["step_counts"]
    assert counts["partial"] >= 2 and counts["resumes"] == WORLD + 1 and counts["open"] == 0
    assert split["last_complete_step"]["step"] == 199

    # TensorBoard's own reader sees exactly these steps, the replaced ones with their new values.
    read = subprocess.run([sys.executable, str(TENSORBOARD_READER), str(tensorboard / RUN / "train")],
                          capture_output=True, text=True, timeout=180)
    assert read.returncode == 0, read.stderr[-4000:]
    scalars = json.loads(read.stdout)
    for figure in ("pooled", "mean", "ema"):
        for name in COMPONENTS:
            series = scalars[f"{name}/{figure}"]
            assert [step for step, _ in series] == list(range(200)), f"{name}/{figure}"
            for step, value in series:
                assert np.float32(value) == np.float32(steps[step][figure][name]), (name, figure, step)
    assert [value for _, value in scalars["steps/ranks"]] == [WORLD] * 200
    assert [value for _, value in scalars["steps/error_records"]] == [0] * 200

    elapsed = time.monotonic() - started
    print(f"\n4 ranks x 2 runs + 1 restart, {sent} batches, 2 sidecars, 1 aggregator: {elapsed:.1f} s")


def test_two_default_clients_on_one_run_count_twice_the_batches(start_sidecar, start_aggregator, tmp_path):
    """The README's client, twice, without source or rank: two processes, two sources, no duplicate."""
    aggregator = start_aggregator()
    sidecar = start_sidecar(f">{aggregator.input_address}", link=True)
    trainers = [Trainer(tmp_path, sidecar.input, None, 0, 19, attempt=index) for index in (1, 2)]
    for trainer in trainers:
        trainer.finish()
    assert wait_for(lambda: aggregator.stats()["records"] == 40, timeout=30, interval=0.1)
    snapshot = aggregator.stats()
    assert split_of(snapshot)["batches"] == 40
    sources = source_stats(snapshot, RUN)
    assert len(sources) == 2 and all(s["duplicates"] == 0 and s["lost"] == 0 for s in sources.values())
    assert {trainer.identity["source"] for trainer in trainers} == set(sources)
    # Without rank and world size there are no steps across ranks.
    assert split_of(snapshot)["steps"] == [] and split_of(snapshot)["last_complete_step"] is None


def promtool_check(text: str) -> None:
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, f"promtool check metrics:\n{check.stdout}{check.stderr}"


def test_counters_only_go_up_around_a_late_arrival(start_aggregator):
    """/metrics scraped before and after a batch counted lost arrives after all: every _total is as
    high as before, promtool accepts both scrapes, the late arrival has its own counter."""
    aggregator = start_aggregator(extra=["--reorder-window", "2"])
    context = zmq.Context()
    push = context.socket(zmq.PUSH)
    push.connect(aggregator.pull_address)

    def record(seq: int) -> str:
        return json.dumps({"v": 1, "kind": "loss", "run": "late", "split": "train", "source": "rank0",
                           "stream": "s1", "seq": seq, "batch": 2, "boxes": 8, "classes": 4, "loss": 1.5,
                           "classification": 1.0, "localization": 0.5, "per_item": [1.5, 1.5], "positives": 2.0,
                           "negatives": 6, "negatives_available": 9})

    try:
        for seq in (0, 1, 2, 5, 6, 7):  # 3 and 4 fall out of the reorder window: lost
            push.send_string(record(seq))
        assert wait_for(lambda: aggregator.stats()["records"] == 6, timeout=30, interval=0.1)
        before_text = aggregator.metrics()
        promtool_check(before_text)
        push.send_string(record(3))  # arrives after all
        assert wait_for(lambda: aggregator.stats()["records"] == 7, timeout=30, interval=0.1)
        after_text = aggregator.metrics()
        promtool_check(after_text)
    finally:
        push.close(linger=0)
        context.term()
    before, after = parse_metrics(before_text), parse_metrics(after_text)
    labels = (("run", "late"), ("source", "rank0"))
    assert before[("lossd_lost_batches_total", labels)] == 2 and after[("lossd_lost_batches_total", labels)] == 2
    assert before[("lossd_late_batches_total", labels)] == 0 and after[("lossd_late_batches_total", labels)] == 1
    assert before[("lossd_missing_batches", labels)] == 2 and after[("lossd_missing_batches", labels)] == 1
    counters = [key for key in before if key[0].endswith("_total")]
    assert len(counters) >= 15  # every labelled counter family of the run, its split and its source
    for key in counters:
        assert after.get(key, -1) >= before[key], f"{key}: {before[key]} -> {after.get(key)}"
    assert aggregator.stats()["sources"][0]["lost"] == 1


@pytest.mark.parametrize("flags, status, message", [
    (["--resume", "rewind"], 64, "aggregate.resume"),
    (["--step-timeout", "0"], 64, "aggregate.step_timeout"),
    (["--open-steps", "0"], 64, "aggregate.open_steps"),
    (["--max-streams", "0"], 64, "aggregate.max_streams"),
    (["--tensorboard", "{file}/runs"], 1, "cannot create the TensorBoard folder"),
])
def test_bad_settings_stop_the_aggregator_at_start(lossd_bin, tmp_path, flags, status, message):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    args = [lossd_bin, "aggregate", "--input", f"@tcp://127.0.0.1:{free_tcp_port()}", "--http", "127.0.0.1:0"]
    args += [flag.replace("{file}", str(blocker)) for flag in flags]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == status, done.stderr
    assert message in done.stderr, done.stderr
