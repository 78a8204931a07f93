"""The acknowledged record link between sidecars and the aggregator, with real processes: the
aggregator SIGKILLed and restarted while a sidecar sends, a sidecar SIGKILLed and restarted with
its spool, and a sidecar stopped while the aggregator is away. In each, every batch the sidecars
received is on /stats exactly once (docs/PROTOCOL.md, "The record link"). And a link whose
connection goes silent (a network cut) is given up and dialled again.

Every wait is bounded; every process is killed at the end by the fixtures.
"""

from __future__ import annotations

import json
import signal
import socket
import struct
import threading
from pathlib import Path
from typing import List

from lossd_client import LossClient
from lossd_testkit import free_tcp_port, source_stats, synthetic_batch, wait_for
from test_faults import SMALL, Trainer


def batches(aggregator, run: str) -> int:
    return sum(s["batches"] for s in aggregator.stats()["splits"] if s["run"] == run)


def spooled_seqs(folder: Path) -> List[int]:
    """The link seqs of the entries in a spool folder (seq u64, length u32, crc32c u32, bytes)."""
    seqs = []
    for segment in sorted(folder.glob("*.spool")):
        data = segment.read_bytes()
        offset = 0
        while offset + 16 <= len(data):
            seq, length, _ = struct.unpack_from("<QII", data, offset)
            if offset + 16 + length > len(data):
                break
            seqs.append(seq)
            offset += 16 + length
    return seqs


def test_aggregator_sigkilled_and_restarted_while_a_sidecar_sends_counts_every_batch_once(
        start_sidecar, start_aggregator):
    """SIGKILL the aggregator twice under traffic; each new one starts from its state file and the
    sidecar sends again what that state does not hold: every batch once, nothing lost, no
    duplicate, and the sidecar exits 0 with nothing left unacknowledged."""
    # Saves a second apart: a SIGKILL takes hundreds of ingested records with it.
    flags = ["--ack-interval", "1"]
    first = start_aggregator(state=True, extra=flags)
    sidecar = start_sidecar(f">{first.input_address}", workers=1, link=True)
    trainer = Trainer(sidecar.input, run="crash-link", source="t0", interval=0.005, send_timeout_ms=60_000)
    trainer.start()
    aggregator = first
    rolled_back = 0
    for round_ in range(2):
        target = batches(aggregator, "crash-link") + 150
        assert wait_for(lambda: batches(aggregator, "crash-link") >= target, timeout=60), aggregator.stderr()[-2000:]
        aggregator.kill()  # SIGKILL: statistics since the last save are gone, and so are their acks
        # At least `target` records were ingested; the state file holds those of its last save
        # (none when the kill came before the first save).
        saved = json.loads(first.state.read_text())["records"] if first.state.exists() else 0
        rolled_back += max(0, target - saved)
        aggregator = start_aggregator(input_port=first.input_port, http_port=first.http_port,
                                      pull_port=first.pull_port, state=first.state, extra=flags)
    # The state files held fewer records than had been ingested: the sidecar sent those again.
    assert rolled_back > 0
    # The last one catches up with everything sent before it started, then the trainer stops.
    caught_up = len(trainer.sent)
    assert wait_for(lambda: batches(aggregator, "crash-link") >= caught_up, timeout=60), aggregator.stderr()[-2000:]
    trainer.finish(timeout=60)
    sent = len(trainer.sent)
    assert wait_for(lambda: batches(aggregator, "crash-link") == sent, timeout=60), \
        f"{batches(aggregator, 'crash-link')} of {sent} batches on /stats"
    source = source_stats(aggregator.stats(), "crash-link")["t0"]
    assert (source["highest_seq"], source["lost"], source["duplicates"], source["pending"]) == (sent - 1, 0, 0, 0)
    assert sidecar.stop(signal.SIGTERM) == 0, sidecar.stderr()[-3000:]
    summary = sidecar.final_summary()
    assert (summary["received"], summary["computed"], summary["unacknowledged"]) == (sent, sent, 0), summary
    assert aggregator.stop(signal.SIGTERM) == 0
    assert aggregator.final_counts()["duplicates"] == 0
    print(f"{sent} batches through two SIGKILLs of the aggregator, each counted once; "
          f"{rolled_back} records were sent again after the state files rolled back")


def test_sidecar_sigkilled_and_restarted_with_its_spool_delivers_the_spooled_records_once(
        start_sidecar, start_aggregator, tmp_path):
    """The aggregator is away while a sidecar computes batches into its spool; the sidecar is
    SIGKILLed, a new one starts on the same spool, the aggregator comes: the spooled records
    arrive once, and the new sidecar's own batches too."""
    spool = tmp_path / "spool"
    input_port = free_tcp_port()
    link = f">tcp://127.0.0.1:{input_port}"
    first = start_sidecar(link, workers=1, link=True, extra=["--spool", str(spool)])
    y_true, y_pred = synthetic_batch(**SMALL)
    with LossClient(first.input, run="spool", source="t0") as client:
        for _ in range(40):
            client.send(y_true, y_pred)
    # Nothing acknowledges them: they wait in the outbox and the spool.
    assert wait_for(lambda: len(spooled_seqs(spool)) == 40, timeout=30), spooled_seqs(spool)
    first.kill()
    second = start_sidecar(link, workers=1, link=True, extra=["--spool", str(spool)])
    aggregator = start_aggregator(input_port=input_port, state=True)
    assert wait_for(lambda: batches(aggregator, "spool") == 40, timeout=60), second.stderr()[-3000:]
    assert "records from the spool are sent again" in second.stderr()
    with LossClient(second.input, run="spool", source="t1") as client:
        for _ in range(10):
            client.send(y_true, y_pred)
    assert wait_for(lambda: batches(aggregator, "spool") == 50, timeout=60)
    # Acknowledged records leave the spool.
    assert wait_for(lambda: spooled_seqs(spool) == [], timeout=30), spooled_seqs(spool)
    stats = source_stats(aggregator.stats(), "spool")
    assert (stats["t0"]["highest_seq"], stats["t0"]["lost"], stats["t0"]["duplicates"]) == (39, 0, 0)
    assert (stats["t1"]["highest_seq"], stats["t1"]["lost"], stats["t1"]["duplicates"]) == (9, 0, 0)
    assert second.stop(signal.SIGTERM) == 0
    assert second.final_summary()["unacknowledged"] == 0


def test_a_sidecar_stopped_while_the_aggregator_is_away_counts_what_it_could_not_deliver(
        start_sidecar, tmp_path):
    """Without a spool, records never acknowledged are lost: counted unacknowledged, exit 2.
    With a spool they are kept for the next start: counted spooled, exit 0."""
    y_true, y_pred = synthetic_batch(**SMALL)
    nowhere = f">tcp://127.0.0.1:{free_tcp_port()}"
    for spool in (None, tmp_path / "spool"):
        extra = ["--ack-timeout-seconds", "1", "--status-interval-seconds", "0.1"]
        extra += ["--spool", str(spool)] if spool else []
        sidecar = start_sidecar(nowhere, workers=1, link=True, extra=extra)
        with LossClient(sidecar.input, run="away", source="t0") as client:
            for _ in range(5):
                client.send(y_true, y_pred)
        # Every batch taken and computed (its record waits in the outbox) before the stop.
        assert wait_for(lambda: "computed=5" in sidecar.stderr(), timeout=30), sidecar.stderr()[-2000:]
        status = sidecar.stop(signal.SIGTERM)
        summary = sidecar.final_summary()
        assert (summary["received"], summary["computed"]) == (5, 5), summary
        if spool is None:
            assert status == 2 and summary["unacknowledged"] == 5, (status, summary)
        else:
            assert status == 0 and summary["spooled"] == 5 and summary["unacknowledged"] == 0, (status, summary)
            assert spooled_seqs(spool) == [0, 1, 2, 3, 4]


class SilentPeer:
    """A TCP listener that completes a ZMTP 3.1 NULL handshake as a ROUTER on every connection,
    then never sends another byte: what a sidecar sees of an aggregator cut off by the network
    while its connection stays open. It counts the connections and the ones the other end closed."""

    # The greeting (signature, version 3.1, mechanism NULL, as-server 0, filler) and the READY
    # command with the property Socket-Type=ROUTER (RFC 23, ZMTP 3.1).
    GREETING = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x01" + b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31
    READY_BODY = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", 6) + b"ROUTER"
    READY = b"\x04" + bytes([len(READY_BODY)]) + READY_BODY

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.address = f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepted = 0
        self.closed_by_peer = 0
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except socket.timeout:
                continue
            self.accepted += 1
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.sendall(self.GREETING + self.READY)
            connection.settimeout(0.2)
            while not self.stopping.is_set():  # read (and drop) whatever comes; answer nothing
                try:
                    if not connection.recv(65536):
                        self.closed_by_peer += 1
                        return
                except socket.timeout:
                    continue
                except OSError:
                    self.closed_by_peer += 1
                    return

    def close(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)
        self.listener.close()


def test_a_link_whose_connection_goes_silent_is_dialled_again(start_sidecar):
    """The aggregator's end stops answering (PINGs go unanswered, as in a network cut that leaves
    the connection open): the sidecar closes that connection after its heartbeat timeout (5 s)
    and dials again, so that records flow as soon as the network is back instead of after TCP's
    retransmission back-off (docs/RELIABILITY.md)."""
    peer = SilentPeer()
    try:
        start_sidecar(f">{peer.address}", workers=1, link=True)
        assert wait_for(lambda: peer.accepted >= 1, timeout=10), "the sidecar did not dial its link"
        # 1 s until the first PING, 5 s without an answer: a new connection well within 15 s.
        assert wait_for(lambda: peer.accepted >= 2, timeout=15), \
            f"the silent connection was kept: {peer.accepted} accepted, {peer.closed_by_peer} closed by the sidecar"
        assert peer.closed_by_peer >= 1
    finally:
        peer.close()
