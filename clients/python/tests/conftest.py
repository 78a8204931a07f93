"""Fixtures: the lossd binary (from LOSSD_BIN), and sidecar and aggregator processes that are
always killed at the end of the test."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import pytest

try:
    import lossd_client  # noqa: F401  (installed with `pip install -e clients/python`)
except ImportError:  # run from a checkout without installing: use the package next to the tests
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lossd_testkit import AggregatorProcess, LossdProcess, env_lossd_bin, free_tcp_port, wait_listening


@pytest.fixture(scope="session")
def lossd_bin() -> str:
    """The lossd binary named by LOSSD_BIN. Skips only when LOSSD_BIN is unset; fails when it is
    set but does not name an executable."""
    path = env_lossd_bin()
    if path is None:
        pytest.skip("LOSSD_BIN is not set: these tests run the lossd binary "
                    "(`make test-python` sets it to the debug build)")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"LOSSD_BIN={path!r} is not an executable file (build lossd first: `swift build`)")
    return path


class Sidecar:
    """A running ``lossd sidecar``: ``input`` is the endpoint a trainer connects to."""

    def __init__(self, process: LossdProcess, input_port: int) -> None:
        self.process = process
        self.input_port = input_port
        self.input = f">tcp://127.0.0.1:{input_port}"
        self.input_address = f"tcp://127.0.0.1:{input_port}"

    def __getattr__(self, name):
        return getattr(self.process, name)


@pytest.fixture
def start_sidecar(lossd_bin: str, tmp_path: Path) -> Callable[..., Sidecar]:
    """Starts ``lossd sidecar --input @tcp://127.0.0.1:PORT_IN --output OUTPUT --workers N …``
    and waits until it accepts connections on PORT_IN (a free port, or ``port`` to restart a
    sidecar on the endpoint of one that is gone).

    ``link=True`` sends the records over the acknowledged link, to a ``lossd aggregate``'s input;
    otherwise a ZeroMQ output is a plain PUSH (``--output-mode push``) for a pyzmq PULL sink.

    ``preexec_fn`` runs in the child before lossd starts (resource limits, signal dispositions).
    Every sidecar started through this fixture is killed at the end of the test if still running.
    """
    started: List[LossdProcess] = []

    def start(output: str, workers: int = 2, record: Optional[Path] = None, sidecar_id: Optional[str] = None,
              extra: Sequence[str] = (), log_level: str = "info", wait: bool = True,
              port: Optional[int] = None, preexec_fn: Optional[Callable[[], None]] = None,
              link: bool = False) -> Sidecar:
        port = free_tcp_port() if port is None else port
        args = [lossd_bin, "sidecar", "--input", f"@tcp://127.0.0.1:{port}", "--output", output,
                "--workers", str(workers), "--log-level", log_level, "--output-mode", "link" if link else "push"]
        if record is not None:
            args += ["--record", str(record)]
        if sidecar_id is not None:
            args += ["--sidecar-id", sidecar_id]
        args += list(extra)
        process = LossdProcess(args, tmp_path, f"sidecar{len(started)}", preexec_fn=preexec_fn)
        started.append(process)
        if wait:
            wait_listening(process, port)
        return Sidecar(process, port)

    yield start
    for process in started:
        process.kill()


@pytest.fixture
def start_aggregator(lossd_bin: str, tmp_path: Path) -> Callable[..., AggregatorProcess]:
    """Starts ``lossd aggregate --input @tcp://127.0.0.1:PORT --http 127.0.0.1:HTTP_PORT …`` on free
    ports (or the given ones, to restart on the same endpoints) and waits until /healthz answers.

    ``state`` and ``snapshots`` are paths (``True`` picks ``tmp_path/state.json`` and
    ``tmp_path/snapshots.jsonl``). Every aggregator started here is killed at the end of the test.
    """
    started: List[AggregatorProcess] = []

    def start(input_port: Optional[int] = None, http_port: Optional[int] = None, state=None, snapshots=None,
              extra: Sequence[str] = (), wait: bool = True, pull_port: Optional[int] = None) -> AggregatorProcess:
        if state is True:
            state = tmp_path / "state.json"
        if snapshots is True:
            snapshots = tmp_path / "snapshots.jsonl"
        process = AggregatorProcess(
            lossd_bin, tmp_path, f"aggregator{len(started)}",
            input_port=free_tcp_port() if input_port is None else input_port,
            http_port=free_tcp_port() if http_port is None else http_port,
            state=state, snapshots=snapshots, extra=extra, pull_port=pull_port)
        started.append(process)
        if wait:
            process.wait_ready()
        return process

    yield start
    for process in started:
        process.kill()
