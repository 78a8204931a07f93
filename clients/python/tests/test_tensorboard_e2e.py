"""TensorBoard event files across a restart of the daemon (docs/DISTRIBUTED.md, "TensorBoard"):
``lossd serve --tensorboard DIR --state FILE`` with two ranks sending from this process.

The files are readable while lossd runs (flushed every second), a restarted lossd appends a new
file that TensorBoard reads on from where the first stopped, and a resume from a checkpoint
after the restart makes TensorBoard drop the replaced steps. TensorBoard's own reader
(``EventAccumulator``, in a process of its own: tensorboard_scalars.py) must see exactly the
steps of ``/stats``, step for step.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from ddp_trainer import batch
from lossd_client import LossClient
from lossd_testkit import LossdProcess, free_tcp_port, http_get, wait_for, wait_listening

HERE = Path(__file__).resolve().parent
RUN, WORLD = "tb-restart", 2
FIGURES = [f"{name}/{figure}" for figure in ("pooled", "mean", "ema")
           for name in ("loss", "classification", "localization")]


class Serve:
    """``lossd serve`` on fixed ports, so that a restart is found where the first one was."""

    def __init__(self, lossd_bin: str, tmp_path: Path) -> None:
        self.lossd_bin, self.tmp_path = lossd_bin, tmp_path
        self.batch_port, self.http_port = free_tcp_port(), free_tcp_port()
        self.process: LossdProcess
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.process = LossdProcess(
            [self.lossd_bin, "serve", "--input", f"@tcp://127.0.0.1:{self.batch_port}",
             "--http", f"127.0.0.1:{self.http_port}", "--workers", "2",
             "--state", str(self.tmp_path / "state.json"), "--tensorboard", str(self.tmp_path / "tb"),
             "--log-level", "info"],
            self.tmp_path, f"serve{self.starts}")
        # Both ports: the HTTP server may start listening after the batch input has been bound.
        wait_listening(self.process, self.batch_port)
        wait_listening(self.process, self.http_port)

    def stats(self) -> Dict[str, Any]:
        snapshot = json.loads(http_get(f"http://127.0.0.1:{self.http_port}/stats?steps=1000"))
        return next(s for s in snapshot["splits"] if s["run"] == RUN)

    def send(self, attempt: int, first: int, last: int) -> None:
        """Both ranks, each a client of its own (a new stream), send steps first … last."""
        clients = [LossClient(f">tcp://127.0.0.1:{self.batch_port}", run=RUN, split="train", rank=rank,
                              world_size=WORLD, send_timeout_ms=30_000) for rank in range(WORLD)]
        try:
            for step in range(first, last + 1):
                for rank, client in enumerate(clients):
                    client.send(*batch(attempt, rank, step), step=step)
        finally:
            for client in clients:
                client.close()


def tensorboard_scalars(folder: Path) -> Dict[str, List[List[float]]]:
    read = subprocess.run([sys.executable, str(HERE / "tensorboard_scalars.py"), str(folder)],
                          capture_output=True, text=True, timeout=180)
    assert read.returncode == 0, read.stderr[-4000:]
    return json.loads(read.stdout)


def assert_same_steps(scalars: Dict[str, List[List[float]]], steps: List[Dict[str, Any]]) -> None:
    """TensorBoard's series hold exactly the complete steps of /stats, with their values (float32)."""
    numbers = [s["step"] for s in steps]
    for tag in FIGURES:
        name, figure = tag.split("/")
        assert [step for step, _ in scalars[tag]] == numbers, tag
        for (_, value), step in zip(scalars[tag], steps):
            assert np.float32(value) == np.float32(step[figure][name]), (tag, step["step"])
    assert [value for _, value in scalars["steps/ranks"]] == [WORLD] * len(steps)


def test_event_files_follow_a_restarted_daemon_and_a_resume(lossd_bin, tmp_path):
    serve = Serve(lossd_bin, tmp_path)
    folder = tmp_path / "tb" / RUN / "train"
    serve.start()
    try:
        serve.send(attempt=1, first=0, last=9)
        assert wait_for(lambda: serve.stats()["last_complete_step"] is not None
                        and serve.stats()["last_complete_step"]["step"] == 9, timeout=60, interval=0.1)
        first_steps = serve.stats()["steps"]
        assert [s["step"] for s in first_steps] == list(range(10))
        # Readable while lossd runs: the files are flushed about every second, not only at exit.
        assert wait_for(lambda: len(tensorboard_scalars(folder).get("loss/pooled", [])) == 10,
                        timeout=60, interval=0.5), serve.process.stderr()[-4000:]
        assert_same_steps(tensorboard_scalars(folder), first_steps)
        assert serve.process.stop(signal.SIGTERM) == 0, serve.process.stderr()[-4000:]

        # A restarted lossd (same state) goes on, in a new event file.
        serve.start()
        assert [s["step"] for s in serve.stats()["steps"]] == list(range(10))
        serve.send(attempt=2, first=10, last=19)
        # (A job's restart takes seconds: its last batches have arrived. Batches that arrive later
        # are counted for the steps below the resume only: StepAggregationTests.)
        assert wait_for(lambda: serve.stats()["batches"] == 2 * 20, timeout=60, interval=0.1)
        # Then the job resumes from a checkpoint at step 15 and runs to step 24.
        serve.send(attempt=3, first=15, last=24)
        assert wait_for(lambda: serve.stats()["last_complete_step"]["step"] == 24
                        and serve.stats()["step_counts"]["open"] == 0, timeout=60, interval=0.1)
        final = serve.stats()
        assert serve.process.stop(signal.SIGTERM) == 0, serve.process.stderr()[-4000:]
    finally:
        serve.process.kill()

    steps = final["steps"]
    assert [s["step"] for s in steps] == list(range(25)) and all(s["status"] == "complete" for s in steps)
    counts = final["step_counts"]
    assert (counts["resumes"], counts["replaced"], counts["dropped"], counts["partial"]) == (WORLD, WORLD * 5, 0, 0)
    assert [s["pooled"] for s in steps[:10]] == [s["pooled"] for s in first_steps]  # kept across the restart
    assert len(list(folder.glob("events.out.tfevents.*"))) == 2
    assert_same_steps(tensorboard_scalars(folder), steps)
