"""A trainer process for the fault tests across hosts (test_faults_hosts.py): it sends small keras
batches through a CURVE ``LossClient`` to the sidecar of its host, seq 0, 1, 2, … under one run
and source, until SIGTERM; then it closes (its queued batches leave within the linger) and prints
its last line.

Every send blocks until ZeroMQ takes the batch (no timeout), so every seq the client numbered
left the trainer: none is skipped. It prints ``{"sent": N}`` after every ``--report`` sends and,
at the end, ``{"done": true, "sent": N, "source": …, "stream": …}``, one JSON object a line.

    python3 fault_trainer.py --endpoint '>tcp://127.0.0.1:5555' --run R --source S \\
        --key trainer.key --server-key sidecar.pub [--interval 0.02] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from lossd_client import LossClient, read_key_pair, read_public_key
from lossd_testkit import synthetic_batch

SMALL = dict(boxes=64, classes=5, batch=2)  # 17 KB a message


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--key", required=True, help="this trainer's key pair (lossd keygen's .key)")
    parser.add_argument("--server-key", required=True, help="the sidecar's public key (.pub)")
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between sends")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", type=int, default=10, help="print the count after every N sends")
    parser.add_argument("--linger-ms", type=int, default=30_000)
    options = parser.parse_args()

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    y_true, y_pred = synthetic_batch(seed=options.seed, **SMALL)
    public, secret = read_key_pair(options.key)
    with LossClient(options.endpoint, run=options.run, source=options.source, linger_ms=options.linger_ms,
                    curve_server_key=read_public_key(options.server_key), curve_public_key=public,
                    curve_secret_key=secret) as client:
        while not stopping:
            seq = client.send(y_true, y_pred, step=client.next_seq)
            if (seq + 1) % options.report == 0:
                print(json.dumps({"sent": seq + 1}), flush=True)
            time.sleep(options.interval)  # the trainer's pace, not a wait for an event
        sent = client.next_seq
        source, stream = client.source, client.stream
    print(json.dumps({"done": True, "sent": sent, "source": source, "stream": stream}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
