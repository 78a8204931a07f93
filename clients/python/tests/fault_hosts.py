"""Three hosts for the fault tests across hosts (test_faults_hosts.py): an aggregation host and two
training hosts on a network of the test's own (netns.py), CURVE on every link.

::

    train-a 10.15.0.21                                     aggregation 10.15.0.10
      trainer a0 ─┐ CURVE, loopback                          lossd aggregate
      trainer a1 ─┴─► lossd sidecar ──── CURVE, 10.15.0.0/24 ──► @tcp://10.15.0.10:5556
    train-b 10.15.0.22                                         /stats on 10.15.0.10:9180
      trainer b0 ─┐                                            state file, snapshots
      trainer b1 ─┴─► lossd sidecar ─────────────────────────────┘

Each trainer is a process of its own (fault_trainer.py) with its own key pair, allowed by its
sidecar; each sidecar has its own pair, allowed by the aggregator, and knows the aggregator's
public key. Each trainer sends under a run of its own (``PHASE-a0``, …), so that /stats gives
every trainer's ``batches`` and ``lost`` apart.

:class:`Cluster` starts, kills and restarts the processes and reads /stats from inside the
aggregation host (``Host.within``); :meth:`Cluster.close` ends every process it started, and the
network's close removes the namespaces (and ends anything left in them). Every wait is bounded
by ``WAIT`` seconds and polls for the event it waits for.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import netns

SUBNET = "10.15.0.0/24"
AGGREGATOR_ADDRESS = "10.15.0.10"
TRAINING_ADDRESSES = {"a": "10.15.0.21", "b": "10.15.0.22"}
RECORDS_PORT = 5556
HTTP_PORT = 9180
SIDECAR_PORT = 5555
TRAINERS_PER_HOST = 2
REORDER_WINDOW = 64  # small, so that a gap is counted lost soon after the trainers go on
WAIT = 60.0  # seconds: the bound of any one wait
HERE = Path(__file__).resolve().parent


def poll(predicate: Callable[[], bool], timeout: float = WAIT, interval: float = 0.1) -> bool:
    """True as soon as ``predicate()`` is; False once ``timeout`` seconds have passed without."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class HostProcess:
    """One process started in a host, in a session of its own, its output in files."""

    def __init__(self, host: netns.Host, argv: Sequence[str], workdir: Path, name: str,
                 env: Optional[Dict[str, str]] = None) -> None:
        self.host, self.argv, self.name = host, list(argv), name
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.proc = host.popen(self.argv, stdout=out, stderr=err, env=env)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def send_signal(self, sig: int) -> None:
        if self.running():
            os.kill(self.pid, sig)

    def kill(self) -> Optional[int]:
        """SIGKILL (if still running) and reap; the exit status (None if it could not be reaped)."""
        if self.running():
            self.proc.kill()
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = WAIT) -> int:
        """Sends ``sig`` and returns the exit status; kills the process and fails after ``timeout``."""
        self.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not exit within {timeout} s of signal {sig}\n{self.tail()}")

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def tail(self, characters: int = 3000) -> str:
        return f"--- {self.name} ({' '.join(self.argv[:2])}…) stderr:\n{self.stderr()[-characters:]}"


@dataclass
class Trainer:
    """A trainer process: ``run`` and ``source`` label its batches, ``side`` names its host."""

    process: HostProcess
    run: str
    source: str
    side: str
    sent: Optional[int] = None  # set by finish()

    def progress(self) -> int:
        """Batches sent so far, from its last ``{"sent": N}`` line."""
        for line in reversed(self.process.stdout().splitlines()):
            try:
                return int(json.loads(line)["sent"])
            except (ValueError, KeyError, TypeError):
                continue
        return 0

    def finish(self) -> int:
        """SIGTERM, then the count of its last line: every seq below it left the trainer."""
        status = self.process.stop(signal.SIGTERM)
        assert status == 0, f"trainer {self.source} exited with status {status}\n{self.process.tail()}"
        lines = [json.loads(line) for line in self.process.stdout().splitlines() if line.startswith("{")]
        assert lines and lines[-1].get("done"), f"trainer {self.source} printed no last line\n{self.process.tail()}"
        self.sent = int(lines[-1]["sent"])
        return self.sent


@dataclass
class Tally:
    """What /stats says of one trainer's run."""

    batches: int
    lost: int
    highest_seq: Optional[int]
    duplicates: int
    late: int
    pending: int

    @staticmethod
    def of(stats: Dict[str, Any], run: str) -> "Tally":
        batches = sum(s["batches"] for s in stats["splits"] if s["run"] == run)
        sources = [s for s in stats["sources"] if s["run"] == run]
        assert len(sources) <= 1, f"run {run} has several sources: {sources}"
        source = sources[0] if sources else {}
        return Tally(batches=batches, lost=source.get("lost", 0), highest_seq=source.get("highest_seq"),
                     duplicates=source.get("duplicates", 0), late=source.get("late", 0),
                     pending=source.get("pending", 0))


def keygen(lossd_bin: str, directory: Path, names: Sequence[str]) -> Dict[str, Path]:
    """``lossd keygen`` for each name: name → the path without suffix (``.key`` and ``.pub`` beside)."""
    paths = {}
    for name in names:
        path = directory / name
        subprocess.run([lossd_bin, "keygen", str(path)], check=True, capture_output=True, timeout=30)
        paths[name] = path
    return paths


class Cluster:
    """The three hosts and the processes of one test (see the module's docstring)."""

    def __init__(self, network: netns.Network, lossd_bin: str, workdir: Path, keys: Dict[str, Path]) -> None:
        self.network, self.lossd_bin, self.workdir, self.keys = network, lossd_bin, workdir, keys
        self.aggregation = network.hosts.get("aggregation") or network.add_host("aggregation", AGGREGATOR_ADDRESS)
        self.training = {side: network.hosts.get(f"train-{side}") or network.add_host(f"train-{side}", address)
                         for side, address in TRAINING_ADDRESSES.items()}
        self.processes: List[HostProcess] = []
        self.aggregator: Optional[HostProcess] = None
        self.sidecars: Dict[str, HostProcess] = {}
        self.state = workdir / "state.json"
        self.snapshots = workdir / "snapshots.jsonl"
        self._starts: Dict[str, int] = {}

    def _name(self, kind: str) -> str:
        self._starts[kind] = self._starts.get(kind, 0) + 1
        return f"{kind}{self._starts[kind]}"

    def _start(self, host: netns.Host, argv: Sequence[str], kind: str,
               env: Optional[Dict[str, str]] = None) -> HostProcess:
        process = HostProcess(host, argv, self.workdir, self._name(kind), env=env)
        self.processes.append(process)
        return process

    # The aggregator.

    def start_aggregator(self, extra: Sequence[str] = ()) -> HostProcess:
        """``lossd aggregate`` on the aggregation host (the same endpoints, state file and snapshots
        file at every start) once /healthz answers."""
        key = self.keys["aggregator"]
        allowed = ",".join(str(self.keys[f"sidecar-{side}"].with_suffix(".pub")) for side in self.training)
        argv = [self.lossd_bin, "aggregate", "--input", f"@tcp://{AGGREGATOR_ADDRESS}:{RECORDS_PORT}",
                "--http", f"{AGGREGATOR_ADDRESS}:{HTTP_PORT}", "--state", str(self.state),
                "--snapshots", str(self.snapshots), "--reorder-window", str(REORDER_WINDOW),
                "--input-key-file", str(key.with_suffix(".key")), "--input-allowed-clients", allowed,
                "--log-level", "info", *extra]
        self.aggregator = self._start(self.aggregation, argv, "aggregator")
        process = self.aggregator

        def ready() -> bool:
            assert process.running(), f"lossd aggregate exited with status {process.proc.returncode}\n{process.tail()}"
            try:
                return self._get("/healthz", timeout=2) == "ok\n"
            except OSError:
                return False
        assert poll(ready, interval=0.05), f"lossd aggregate did not answer /healthz within {WAIT} s\n{process.tail()}"
        return process

    def _get(self, path: str, timeout: float = 10) -> str:
        def get() -> str:
            url = f"http://{AGGREGATOR_ADDRESS}:{HTTP_PORT}{path}"
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.read().decode()
        return self.aggregation.within(get, timeout=timeout + 5)

    def stats(self) -> Dict[str, Any]:
        """/stats, read on the aggregation host."""
        return json.loads(self._get("/stats"))

    def tallies(self, trainers: Sequence[Trainer], stats: Optional[Dict[str, Any]] = None) -> Dict[str, Tally]:
        stats = self.stats() if stats is None else stats
        return {t.run: Tally.of(stats, t.run) for t in trainers}

    def batches(self, trainers: Sequence[Trainer]) -> int:
        """Batches on /stats, over the trainers' runs."""
        return sum(t.batches for t in self.tallies(trainers).values())

    # Sidecars.

    def start_sidecar(self, side: str, extra: Sequence[str] = ()) -> HostProcess:
        """``lossd sidecar`` on training host ``side``, its input on the host's loopback (CURVE, its
        trainers' keys allowed), its output to the aggregator (CURVE), once its input accepts
        connections. The same sidecar id at every start."""
        host = self.training[side]
        key = self.keys[f"sidecar-{side}"].with_suffix(".key")
        allowed = ",".join(str(self.keys[f"trainer-{side}{i}"].with_suffix(".pub")) for i in range(TRAINERS_PER_HOST))
        argv = [self.lossd_bin, "sidecar", "--input", f"@tcp://127.0.0.1:{SIDECAR_PORT}",
                "--output", f">tcp://{AGGREGATOR_ADDRESS}:{RECORDS_PORT}", "--workers", "2",
                "--sidecar-id", f"train-{side}", "--input-key-file", str(key), "--input-allowed-clients", allowed,
                "--output-key-file", str(key), "--output-server-key", str(self.keys["aggregator"].with_suffix(".pub")),
                "--status-interval-seconds", "0", "--log-level", "info", *extra]
        process = self._start(host, argv, f"sidecar-{side}-")
        self.sidecars[side] = process

        def listening() -> bool:
            assert process.running(), f"lossd sidecar exited with status {process.proc.returncode}\n{process.tail()}"
            return host.within(probe, "127.0.0.1", SIDECAR_PORT)
        assert poll(listening, interval=0.05), f"lossd sidecar did not bind its input within {WAIT} s\n{process.tail()}"
        return process

    # Trainers.

    def start_trainers(self, phase: str, interval: float = 0.02) -> List[Trainer]:
        """``TRAINERS_PER_HOST`` trainers on each training host, sending to its sidecar."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env["PYTHONUNBUFFERED"] = "1"
        trainers = []
        for side, host in self.training.items():
            for index in range(TRAINERS_PER_HOST):
                source = f"{side}{index}"
                run = f"{phase}-{source}"
                argv = [sys.executable, str(HERE / "fault_trainer.py"), "--endpoint", f">tcp://127.0.0.1:{SIDECAR_PORT}",
                        "--run", run, "--source", source, "--interval", str(interval), "--seed", str(index),
                        "--key", str(self.keys[f"trainer-{source}"].with_suffix(".key")),
                        "--server-key", str(self.keys[f"sidecar-{side}"].with_suffix(".pub"))]
                trainers.append(Trainer(self._start(host, argv, f"trainer-{source}-", env=env), run, source, side))
        return trainers

    def wait_progress(self, trainers: Sequence[Trainer], batches: int, what: str) -> None:
        """Waits until /stats holds ``batches`` more batches of these trainers than now."""
        start = self.batches(trainers)
        assert poll(lambda: self.batches(trainers) >= start + batches), \
            f"{what}: /stats gained {self.batches(trainers) - start} of {batches} batches in {WAIT} s\n" \
            + self.tails(trainers)

    def wait_beyond(self, trainers: Sequence[Trainer], seqs: int, what: str) -> None:
        """Waits until /stats holds, for every trainer, a seq ``seqs`` past the last one it had sent
        by now: any gap left by a fault before now is then more than the reorder window behind."""
        targets = {t.run: t.progress() + seqs for t in trainers}

        def beyond() -> bool:
            tallies = self.tallies(trainers)
            return all((tallies[run].highest_seq or -1) >= target for run, target in targets.items())
        assert poll(beyond), f"{what}: /stats did not reach seqs {targets} in {WAIT} s: {self.tallies(trainers)}\n" \
            + self.tails(trainers)

    def wait_sent(self, trainers: Sequence[Trainer], batches: int, what: str) -> None:
        """Waits until these trainers together sent ``batches`` more than now (their own count)."""
        start = sum(t.progress() for t in trainers)
        assert poll(lambda: sum(t.progress() for t in trainers) >= start + batches), \
            f"{what}: the trainers sent {sum(t.progress() for t in trainers) - start} of {batches} batches " \
            f"in {WAIT} s\n" + self.tails(trainers)

    def settle(self, trainers: Sequence[Trainer]) -> Dict[str, Tally]:
        """Once the trainers have finished: waits until every batch sent is accounted for on
        /stats (aggregated or lost, none pending) and returns the tallies then, or the last ones
        read when ``WAIT`` seconds pass first (the test's assertions then say what is missing)."""
        def accounted(tally: Tally, trainer: Trainer) -> bool:
            assert trainer.sent is not None
            return (tally.highest_seq == trainer.sent - 1 and tally.pending == 0
                    and tally.batches + tally.lost >= trainer.sent)
        last: Dict[str, Tally] = {}

        def done() -> bool:
            last.update(self.tallies(trainers))
            return all(accounted(last[t.run], t) for t in trainers)
        poll(done, interval=0.2)
        return dict(last)

    def tails(self, trainers: Sequence[Trainer] = ()) -> str:
        shown = [p for p in self.processes if not p.name.startswith("trainer")] + [t.process for t in trainers[:1]]
        return "\n".join(p.tail(1500) for p in shown)

    def close(self) -> None:
        """Kills every process this cluster started (the network's close removes the hosts)."""
        for process in self.processes:
            process.kill()


def probe(address: str, port: int) -> bool:
    """True when something accepts TCP connections on address:port. Closes with a reset, so a
    lossd input does not log the probe as a client that hung up in its handshake."""
    try:
        with socket.create_connection((address, port), timeout=0.5) as connection:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return True
    except OSError:
        return False
