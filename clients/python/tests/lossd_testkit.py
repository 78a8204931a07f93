"""Shared helpers for the lossd Python tests: golden cases, ports, the lossd process."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
GOLDEN_SUBDIR = Path("Tests") / "SSDLossTests" / "golden"


def repo_root() -> Path:
    """The repository root: the nearest parent of this file holding the golden cases."""
    for parent in HERE.parents:
        if (parent / GOLDEN_SUBDIR).is_dir():
            return parent
    raise FileNotFoundError(f"no {GOLDEN_SUBDIR} above {HERE}: run the tests from a lossd checkout")


def golden_dir() -> Path:
    return repo_root() / GOLDEN_SUBDIR


def golden_names() -> List[str]:
    return sorted(p.stem for p in golden_dir().glob("*.json"))


def load_golden(name: str) -> Dict[str, Any]:
    """The case's json, plus ``y_true`` and ``y_pred`` arrays read from NAME.bin."""
    case = json.loads((golden_dir() / f"{name}.json").read_text())
    dtype = np.dtype(case["dtype"]).newbyteorder("<")
    shape = (case["batch"], case["boxes"], case["classes"] + 12)
    data = np.fromfile(golden_dir() / f"{name}.bin", dtype=dtype)
    count = int(np.prod(shape))
    assert data.size == 2 * count, f"{name}.bin holds {data.size} values, expected {2 * count}"
    case["y_true"] = data[:count].reshape(shape)
    case["y_pred"] = data[count:].reshape(shape)
    return case


def loss_overrides(case: Dict[str, Any]) -> Dict[str, Any]:
    """The case's params minus ``scores`` (which is a header key of its own)."""
    return {k: v for k, v in case["params"].items() if k != "scores"}


def close_enough(actual: float, expected: float, rel: float = 1e-4, abs_: float = 1e-4) -> bool:
    return abs(actual - expected) <= max(rel * abs(expected), abs_)


def check_loss_record(record: Dict[str, Any], case: Dict[str, Any]) -> None:
    """Asserts that a lossd loss record matches a golden case (SPEC §1 accuracy, §3 fields)."""
    name = case["name"]
    exp = case["expected"]
    assert record.get("kind") == "loss", f"{name}: expected a loss record, got {record}"
    assert record["v"] == 1
    assert (record["batch"], record["boxes"], record["classes"]) == (case["batch"], case["boxes"], case["classes"])
    assert close_enough(record["loss"], exp["loss"]), f"{name}: loss {record['loss']} != {exp['loss']}"
    assert len(record["per_item"]) == case["batch"], f"{name}: per_item {record['per_item']}"
    for i, (got, want) in enumerate(zip(record["per_item"], exp["per_item"])):
        assert close_enough(got, want), f"{name}: per_item[{i}] {got} != {want}"
    n_pos = exp["n_positive"]
    denominator = max(1.0, n_pos)
    classification = sum(exp["class_loss"]) / denominator
    localization = sum(exp["loc_loss"]) / denominator
    assert close_enough(record["classification"], classification), \
        f"{name}: classification {record['classification']} != {classification}"
    assert close_enough(record["localization"], localization), \
        f"{name}: localization {record['localization']} != {localization}"
    # positives is a real number (soft labels make it fractional): exact when the golden value is
    # integral; a fractional one is a float32 sum in the golden file, so compare it to 1e-6.
    if float(n_pos).is_integer():
        assert record["positives"] == n_pos, f"{name}: positives {record['positives']} != {n_pos}"
    else:
        assert close_enough(record["positives"], n_pos, rel=1e-6, abs_=1e-6), \
            f"{name}: positives {record['positives']} != {n_pos}"
    assert record["negatives"] == exp["n_negative_keep"], f"{name}: negatives {record['negatives']}"
    assert record["negatives_available"] == exp["n_neg_losses"], \
        f"{name}: negatives_available {record['negatives_available']}"
    params = record["params"]
    for key, value in case["params"].items():
        assert params[key] == value, f"{name}: params.{key} {params[key]!r} != {value!r}"


def synthetic_batch(boxes: int = 8732, classes: int = 21, batch: int = 4, seed: int = 3):
    """A valid keras-layout float32 pair (y_true, y_pred) [batch, boxes, classes + 12]: about 2 %
    positive boxes, softmax probabilities; SSD300-sized by default."""
    rng = np.random.default_rng(seed)
    y_true = np.zeros((batch, boxes, classes + 12), np.float32)
    labels = rng.integers(0, classes, size=(batch, boxes))
    labels[rng.random((batch, boxes)) > 0.02] = 0
    y_true[np.arange(batch)[:, None], np.arange(boxes)[None, :], labels] = 1
    y_true[..., classes:classes + 4] = rng.normal(size=(batch, boxes, 4))
    logits = rng.normal(size=(batch, boxes, classes))
    y_pred = np.zeros_like(y_true)
    y_pred[..., :classes] = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    y_pred[..., classes:classes + 4] = rng.normal(size=(batch, boxes, 4))
    return y_true, y_pred


def free_tcp_port() -> int:
    """A currently free loopback port (bind to port 0, read it back, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SUMMARY_LINE = re.compile(r"received=(\d+)\s+computed=(\d+)\s+rejected=(\d+)")


class LossdProcess:
    """One ``lossd`` process (a sidecar unless a subclass says otherwise); stdout and stderr go to
    files (no pipe can fill up)."""

    def __init__(self, args: Sequence[str], workdir: Path, name: str,
                 preexec_fn: Optional[Callable[[], None]] = None) -> None:
        self.args = list(args)
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        self._stdout = open(self.stdout_path, "wb")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self._stdout, stderr=self._stderr, stdin=subprocess.DEVNULL,
                                     preexec_fn=preexec_fn)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def stderr(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def stdout(self) -> str:
        if not self._stdout.closed:
            self._stdout.flush()
        return self.stdout_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Sends ``sig`` and waits up to ``timeout`` s for the exit status; kills it and fails on timeout."""
        if self.running():
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"lossd did not exit within {timeout} s of signal {sig}; stderr:\n{self.stderr()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL (if still running), reap, close the log files. Also the crash of a fault test."""
        if self.running():
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._stdout.close()
        self._stderr.close()

    def rss_bytes(self) -> int:
        """The resident set size now (VmRSS)."""
        return proc_status_bytes(self.pid, "VmRSS")

    def final_summary(self) -> Dict[str, int]:
        """Every ``key=N`` of the last log line (a sidecar's ``sidecar stopped: received=N computed=M
        rejected=K output_failures=F recording_failures=R``); the process must have exited."""
        lines = [line for line in self.stderr().splitlines() if line.strip()]
        assert lines, "lossd wrote nothing to stderr"
        return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)\b", lines[-1])}

    def counts(self) -> Tuple[int, int, int]:
        """(received, computed, rejected) from the last log line (stderr); the process must have exited."""
        lines = [line for line in self.stderr().splitlines() if line.strip()]
        assert lines, "lossd wrote nothing to stderr"
        match = SUMMARY_LINE.search(lines[-1])
        assert match, f"the last log line has no received=N computed=M rejected=K: {lines[-1]!r}"
        return int(match.group(1)), int(match.group(2)), int(match.group(3))


def proc_status_bytes(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/PID/status (``VmRSS``, ``VmHWM``, …) in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"/proc/{pid}/status has no {field}")


def http_get(url: str, timeout: float = 10.0) -> str:
    """The body of a 200 answer to GET url."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        assert response.status == 200, f"GET {url}: status {response.status}"
        return response.read().decode()


AGGREGATOR_STOPPED = re.compile(
    r"aggregator stopped: records=(\d+) invalid=(\d+) overflow=(\d+) lost=(\d+) duplicates=(\d+)")


class AggregatorProcess(LossdProcess):
    """One ``lossd aggregate`` process: sidecars' record links arrive on ``input_address`` (tcp,
    loopback), plain PUSH producers send to ``pull_address``, the HTTP server answers on ``http``."""

    def __init__(self, lossd_bin: str, workdir: Path, name: str, input_port: int, http_port: int,
                 state: Optional[Path] = None, snapshots: Optional[Path] = None, extra: Sequence[str] = (),
                 pull_port: Optional[int] = None) -> None:
        pull_port = free_tcp_port() if pull_port is None else pull_port
        args = [lossd_bin, "aggregate", "--input", f"@tcp://127.0.0.1:{input_port}",
                "--pull-input", f"@tcp://127.0.0.1:{pull_port}", "--http", f"127.0.0.1:{http_port}"]
        if state is not None:
            args += ["--state", str(state)]
        if snapshots is not None:
            args += ["--snapshots", str(snapshots)]
        args += list(extra)
        super().__init__(args, workdir, name)
        self.input_port = input_port
        self.http_port = http_port
        self.input_address = f"tcp://127.0.0.1:{input_port}"
        self.pull_port = pull_port
        self.pull_address = f"tcp://127.0.0.1:{pull_port}"
        self.http = f"http://127.0.0.1:{http_port}"
        self.state = state
        self.snapshots = snapshots

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Waits until /healthz answers (state loaded by then). Senders may connect at any time:
        a ZeroMQ connect waits for the bind."""
        def ready() -> bool:
            if not self.running():
                raise AssertionError(f"lossd aggregate exited with status {self.proc.returncode}; "
                                     f"stderr:\n{self.stderr()[-4000:]}")
            try:
                return http_get(self.http + "/healthz", timeout=2) == "ok\n"
            except OSError:
                return False
        assert wait_for(ready, timeout=timeout, interval=0.05), \
            f"lossd aggregate did not answer /healthz within {timeout} s; stderr:\n{self.stderr()[-4000:]}"

    def stats(self) -> Dict[str, Any]:
        return json.loads(http_get(self.http + "/stats"))

    def metrics(self) -> str:
        return http_get(self.http + "/metrics")

    def final_counts(self) -> Dict[str, int]:
        """records, invalid, overflow, lost, duplicates from the last log line; the process must have exited."""
        lines = [line for line in self.stderr().splitlines() if line.strip()]
        assert lines, "lossd aggregate wrote nothing to stderr"
        match = AGGREGATOR_STOPPED.search(lines[-1])
        assert match, f"the last log line is not 'aggregator stopped: …': {lines[-1]!r}"
        return dict(zip(("records", "invalid", "overflow", "lost", "duplicates"), map(int, match.groups())))

    def last_snapshot(self) -> Dict[str, Any]:
        """The last line of the snapshots file: after a graceful stop, the figures at shutdown
        (every seq gap counted lost), the same JSON as /stats."""
        assert self.snapshots is not None, "started without --snapshots"
        lines = [line for line in self.snapshots.read_text().splitlines() if line.strip()]
        assert lines, f"{self.snapshots} is empty"
        return json.loads(lines[-1])


def source_stats(stats: Dict[str, Any], run: str) -> Dict[str, Dict[str, Any]]:
    """/stats's ``sources`` of one run, by source."""
    return {s["source"]: s for s in stats["sources"] if s["run"] == run}


def run_replay(lossd_bin: str, recording: Path, workers: int = 2, timeout: float = 120.0
               ) -> Tuple[List[Dict[str, Any]], Dict[str, Any], subprocess.CompletedProcess]:
    """``lossd replay FILE --output - --workers N``: (records, summary, completed process)."""
    done = subprocess.run([lossd_bin, "replay", str(recording), "--output", "-", "--workers", str(workers)],
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    lines = [json.loads(line) for line in done.stdout.decode().splitlines() if line.strip()]
    assert lines, f"lossd replay wrote nothing (exit {done.returncode}); stderr:\n{done.stderr.decode()[-4000:]}"
    summary = lines[-1]
    assert summary.get("kind") == "summary", f"the last line of lossd replay is not a summary: {summary}"
    return lines[:-1], summary, done


def wait_for(predicate, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def tcp_endpoint_port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def env_lossd_bin() -> Optional[str]:
    return os.environ.get("LOSSD_BIN") or None


def wait_listening(process: "LossdProcess", port: int, timeout: float = 20.0) -> None:
    """Waits until something accepts TCP connections on 127.0.0.1:port (lossd has bound its input);
    fails with lossd's stderr if the process exits first or the port stays closed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.running():
            raise AssertionError(f"lossd exited with status {process.proc.returncode} before binding port {port}; "
                                 f"command: {' '.join(process.args)}\nstderr:\n{process.stderr()[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as probe:
                # Close with a reset: lossd counts a client that hangs up in the middle of the
                # handshake as a failed one (reason closed), and logs a reset at debug level only.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"lossd did not bind 127.0.0.1:{port} within {timeout} s; stderr:\n{process.stderr()[-4000:]}")


def collect(receive, count: int, timeout: float) -> List[Dict[str, Any]]:
    """Up to ``count`` records from ``receive(timeout_seconds) -> dict | None`` within ``timeout`` s in all."""
    records: List[Dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(records) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        record = receive(min(left, 1.0))
        if record is not None:
            records.append(record)
    return records


def drain(receive, quiet: float = 1.0, limit: float = 30.0) -> List[Dict[str, Any]]:
    """Every record until ``quiet`` seconds pass without one (at most ``limit`` s in all)."""
    records: List[Dict[str, Any]] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        record = receive(quiet)
        if record is None:
            break
        records.append(record)
    return records


def without(record: Dict[str, Any], *keys: str) -> Dict[str, Any]:
    return {k: v for k, v in record.items() if k not in keys}
