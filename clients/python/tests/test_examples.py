"""The examples a newcomer copies: the numpy trainer runs end to end; every example compiles
(test_framework_examples.py runs the Keras and torchvision ones)."""

from __future__ import annotations

import py_compile
import subprocess
import sys

import zmq

from lossd_testkit import drain, repo_root


def test_numpy_trainer_sends_batches_whose_loss_falls(start_sidecar):
    context = zmq.Context()
    sink = context.socket(zmq.PULL)
    port = sink.bind_to_random_port("tcp://127.0.0.1")
    sidecar = start_sidecar(f">tcp://127.0.0.1:{port}")
    try:
        result = subprocess.run(
            [sys.executable, str(repo_root() / "Examples" / "numpy_trainer.py"), "--endpoint", sidecar.input,
             "--steps", "24", "--steps-per-epoch", "12", "--boxes", "2000", "--run", "example"],
            capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "sent 24 batches" in result.stdout

        def receive(timeout=None):
            return sink.recv_json() if sink.poll(int((timeout or 1) * 1000)) else None

        records = drain(receive, quiet=1.0, limit=60.0)
    finally:
        sink.close(linger=0)
        context.term()
    assert [r["kind"] for r in records] == ["loss"] * 24
    assert [r["seq"] for r in records] == list(range(24))
    assert [r["epoch"] for r in records] == [0] * 12 + [1] * 12
    assert {r["run"] for r in records} == {"example"}
    first, last = sum(r["loss"] for r in records[:4]), sum(r["loss"] for r in records[-4:])
    assert last < first, f"the loss did not fall: {first / 4:.3f} → {last / 4:.3f}"


def test_examples_compile(tmp_path):
    for name in ("keras_fit.py", "torchvision_ssd.py", "numpy_trainer.py"):
        py_compile.compile(str(repo_root() / "Examples" / name), cfile=str(tmp_path / (name + "c")), doraise=True)
