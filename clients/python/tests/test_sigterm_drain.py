"""SIGTERM drain: a burst of batches, SIGTERM right after the last send; every message the
sidecar received gets its record out and the sidecar exits 0."""

from __future__ import annotations

import signal
import time

import pytest
import zmq

from lossd_client import LossClient, ResultSink
from lossd_testkit import check_loss_record, drain, load_golden, loss_overrides

BURST = 30


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_drains_every_received_batch(start_sidecar, sig):
    case = load_golden("voc-sized")  # ~0.5 MB a tensor: the workers are still busy when the signal comes
    context = zmq.Context()
    try:
        with ResultSink("@tcp://127.0.0.1:*", context=context) as sink:
            sidecar = start_sidecar(">" + sink.endpoint, workers=2)
            with LossClient(sidecar.input, context=context, send_timeout_ms=30_000,
                            linger_ms=0) as client:
                for _ in range(BURST):
                    client.send(case["y_true"], case["y_pred"], loss=loss_overrides(case),
                                scores=case["params"]["scores"])
                started = time.monotonic()
                status = sidecar.stop(sig, timeout=30.0)  # sends the signal once, waits for the exit
                assert status == 0, f"exit status {status} after {sig!r}; stderr:\n{sidecar.stderr()[-4000:]}"
                assert time.monotonic() - started < 30.0
            records = drain(sink.receive, quiet=1.0, limit=30.0)
    finally:
        context.term()

    received, computed, rejected = sidecar.counts()
    # exactly one record per message received, none lost in the drain, in order
    assert len(records) == received, f"lossd says received={received}, the sink has {len(records)} records"
    assert (computed, rejected) == (received, 0)
    assert received <= BURST
    assert [r.get("seq") for r in records] == list(range(received))
    for record in records:
        check_loss_record(record, case)
    # received < BURST is legitimate: the rest were still in transit (in the sockets' queues)
    # when the sidecar stopped receiving; when every send was delivered, received == BURST.
    print(f"received {received} of {BURST} batches before the signal")
