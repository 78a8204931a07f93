"""Stop on divergence with a real Keras model.fit: a tiny SSD trained with a huge learning rate
sends every batch through a real sidecar to a real aggregator; StopOnDivergence ends fit a few
batches after the aggregator publishes the divergence, long before the epoch's end.

Needs TensorFlow (`make test` installs it; see lossd_testkit_frameworks for the skip rule).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lossd_testkit import free_tcp_port
from lossd_testkit_frameworks import require

STEPS = 300


def test_keras_fit_stops_within_a_few_batches_of_the_divergence(start_aggregator, start_sidecar, tmp_path):
    require("tensorflow", load=False)
    publish = free_tcp_port()
    aggregator = start_aggregator(extra=["--publish", f"@tcp://127.0.0.1:{publish}", "--snapshot-interval", "0.2"])
    sidecar = start_sidecar(f">{aggregator.input_address}", link=True)
    out = tmp_path / "keras.json"
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parent / "keras_divergence_trainer.py"),
         "--endpoint", sidecar.input, "--publish", f"tcp://127.0.0.1:{publish}", "--steps", str(STEPS),
         "--out", str(out)],
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    summary = json.loads(out.read_text())
    event = summary["event"]
    assert event is not None, f"training ran all {summary['batches_trained']} batches without stopping"
    assert event["run"] == "keras-explodes" and event["event"] == "diverging", event
    assert event["reason"] in ("rising", "nonfinite"), event
    # Batches are numbered from 0 by Keras; the event names the loss records the aggregator had
    # when it marked the run (batches), so the divergence was seen at batch batches - 1.
    detected_at = event["batches"] - 1 if event["figure"] != "error_record" else event["batches"]
    stopped = summary["stopped_at_batch"]
    assert summary["batches_trained"] == stopped + 1, summary
    lag = stopped - detected_at
    print(f"divergence ({event['reason']}) detected at batch {detected_at}, fit stopped after batch {stopped} "
          f"(lag {lag}); stdout: {done.stdout.strip()}")
    assert 0 <= lag <= 20, f"fit stopped {lag} batches after the divergence was published: {summary}"
    assert stopped < STEPS // 2, summary
    stats = aggregator.stats()
    split = next(s for s in stats["splits"] if s["run"] == "keras-explodes")
    assert split["divergence"]["diverging"] is True and split["divergence"]["episodes"] >= 1
    assert "lossd: run 'keras-explodes' diverged" in done.stdout
