"""Examples/keras_fit.py and Examples/torchvision_ssd.py train against a running lossd and
lossd's record of every batch equals the loss the framework computed for it (1e-5 relative).

They need TensorFlow and torch/torchvision (`make test` installs them; see
lossd_testkit_frameworks for the skip rule).
"""

from __future__ import annotations

import json
import subprocess
import sys

import zmq

from lossd_testkit import collect, repo_root
from lossd_testkit_frameworks import require


def run_example(start_sidecar, tmp_path, script, args, batches):
    context = zmq.Context()
    sink = context.socket(zmq.PULL)
    port = sink.bind_to_random_port("tcp://127.0.0.1")
    sidecar = start_sidecar(f">tcp://127.0.0.1:{port}")
    losses_out = tmp_path / "losses.jsonl"
    try:
        done = subprocess.run([sys.executable, str(repo_root() / "Examples" / script), "--endpoint", sidecar.input,
                               "--losses-out", str(losses_out), *args],
                              capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr[-4000:]
        records = collect(lambda timeout=None: sink.recv_json() if sink.poll(int((timeout or 1) * 1000)) else None,
                          batches, timeout=60)
    finally:
        sink.close(linger=0)
        context.term()
    logged = [json.loads(line) for line in losses_out.read_text().splitlines()]
    assert len(logged) == batches and len(records) == batches
    return records, logged, done.stdout


def test_keras_fit_records_equal_the_losses_keras_computed(start_sidecar, tmp_path):
    require("tensorflow", load=False)
    records, logged, stdout = run_example(start_sidecar, tmp_path, "keras_fit.py", ["--steps", "8"], 8)
    assert "model.fit, graph mode" in stdout
    for record, keras_loss in zip(records, logged):
        assert record["kind"] == "loss" and record["profile"] == "keras", record
        assert abs(record["loss"] - keras_loss["loss"]) <= 1e-5 * abs(keras_loss["loss"]), (record, keras_loss)
    assert [r["seq"] for r in records] == list(range(8))


def test_torchvision_example_records_equal_compute_loss(start_sidecar, tmp_path):
    require("torch")
    require("torchvision")
    records, logged, _ = run_example(start_sidecar, tmp_path, "torchvision_ssd.py", ["--steps", "6"], 6)
    crowded = [line for line in logged if max(line["positive_fractions"]) > 0.25]
    assert crowded, "no batch had an image with more than a quarter of its anchors positive"
    for record, step in zip(records, logged):
        assert record["kind"] == "loss" and record["profile"] == "torchvision", record
        assert record["step"] == step["step"]
        assert abs(record["loss"] - step["loss"]) <= 1e-5 * abs(step["loss"]), (record, step)
        assert abs(record["classification"] - step["classification"]) <= 1e-5 * abs(step["classification"])
