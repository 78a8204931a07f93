"""lossd serve: an independent pyzmq trainer's batches are computed and aggregated in one process."""

from __future__ import annotations

import json
import signal
import time
import urllib.request

import numpy as np
import zmq

from lossd_testkit import LossdProcess, close_enough, free_tcp_port, load_golden, wait_for, wait_listening

CASES = ["basic", "clip", "k-capped", "smooth-l1-edges", "soft-labels", "ties"]


def header(case, seq):
    params = case["params"]
    return json.dumps({
        "v": 1, "batch": case["batch"], "boxes": case["boxes"], "classes": case["classes"],
        "dtype": case["dtype"], "scores": params["scores"], "run": "serve-e2e", "split": "train",
        "source": "plain-pyzmq", "seq": seq, "step": seq,
        "loss": {k: params[k] for k in ("neg_pos_ratio", "n_neg_min", "alpha", "mining")},
    }).encode()


def stats(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as response:
        return json.load(response)


def test_serve_computes_and_aggregates_an_independent_trainer(lossd_bin, tmp_path):
    batch_port, http_port = free_tcp_port(), free_tcp_port()
    serve = LossdProcess([lossd_bin, "serve", "--input", f"@tcp://127.0.0.1:{batch_port}", "--http",
                          f"127.0.0.1:{http_port}", "--workers", "2", "--state", str(tmp_path / "state.json")],
                         tmp_path, "serve")
    try:
        wait_listening(serve, batch_port)
        # The HTTP side binds on its own: a /stats poll before it listens would be refused.
        wait_listening(serve, http_port)
        cases = [load_golden(name) for name in CASES]
        context = zmq.Context()
        push = context.socket(zmq.PUSH)
        push.connect(f"tcp://127.0.0.1:{batch_port}")
        for seq, case in enumerate(cases):
            push.send_multipart([header(case, seq), np.ascontiguousarray(case["y_true"]).tobytes(),
                                 np.ascontiguousarray(case["y_pred"]).tobytes()])
        push.close(linger=5000)
        context.term()

        assert wait_for(lambda: stats(http_port)["records"] == len(cases), timeout=30), serve.stderr()[-2000:]
        split = stats(http_port)["splits"][0]
        assert (split["run"], split["split"], split["batches"]) == ("serve-e2e", "train", len(cases))
        samples = sum(c["batch"] for c in cases)
        expected = sum(c["expected"]["loss"] * c["batch"] for c in cases) / samples
        assert split["samples"] == samples
        assert close_enough(split["loss"]["mean"], expected), (split["loss"]["mean"], expected)
        assert close_enough(split["loss"]["last"], cases[-1]["expected"]["loss"])
        source = stats(http_port)["sources"][0]
        assert (source["lost"], source["duplicates"]) == (0, 0)
        assert serve.stop(signal.SIGTERM) == 0
        assert "sidecar stopped: received=6 computed=6 rejected=0" in serve.stderr()
        saved = json.loads((tmp_path / "state.json").read_text())
        assert saved, "the state was not saved at shutdown"
    finally:
        serve.kill()
