"""Every way a client and a lossd input can disagree about CURVE, with real processes: nothing is
delivered, and within 5 s the server logs a warning naming the peer's address and the cause and
counts it (the sidecar's status line, the aggregator's /metrics), and the client says so too (the
Python LossClient's warning; a sidecar's output, its own warning and counter).

The four mismatches, as libzmq 4.3 reports them, are described in
Sources/ZeroMQ/HandshakeFailure.swift; docs/SECURITY.md tells an operator what each means."""

from __future__ import annotations

import re
import subprocess
import time
import warnings
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest
import zmq

from lossd_client import HandshakeError, HandshakeWarning, LossClient, read_key_pair, read_public_key
from lossd_testkit import synthetic_batch, wait_for

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="this libzmq was built without CURVE")

WITHIN = 5.0  # seconds: the warning and the counter appear within this long
RETRY_AFTER = 0.75  # seconds: a client not named by then (its address was not read) tries again
MISMATCHES = ["plain_client_curve_server", "curve_client_plain_server", "wrong_server_key", "client_key_not_allowed"]

# What the server's warning says, per mismatch (the peer's address follows "at").
SERVER_SAYS = {
    "plain_client_curve_server": r"(a plain client|a client) at {peer}.*{socket} requires CURVE",
    "curve_client_plain_server": r"(a CURVE client at {peer}.*|a client at {peer}.*uses CURVE, and .*){socket} is plain",
    "wrong_server_key": r"a CURVE client at {peer}.*does not know {socket}'s public key",
    "client_key_not_allowed": r"refused a client whose CURVE key is not allowed on {socket}, at {peer}",
}
# What the Python client's warning says.
CLIENT_SAYS = {
    "plain_client_curve_server": r"requires CURVE and this client is plain",
    "curve_client_plain_server": r"plain",
    "wrong_server_key": r"curve_server_key is not its public key",
    "client_key_not_allowed": r"refused this client's CURVE key",
}


def keygen(lossd_bin: str, directory: Path, *names: str) -> Dict[str, Path]:
    paths = {}
    for name in names:
        subprocess.run([lossd_bin, "keygen", str(directory / name)], check=True, capture_output=True, timeout=30)
        paths[name] = directory / name
    return paths


def wait_for_log(process, pattern: str, timeout: float) -> bool:
    return wait_for(lambda: re.search(pattern, process.stderr()) is not None, timeout=timeout, interval=0.05)


def handshake_warnings(process) -> List[str]:
    return [line for line in process.stderr().splitlines() if " warning " in line and "handshake failed:" in line]


def wait_started(process, marker: str) -> None:
    """Waits for the start-up line, not for a TCP probe of the port (a probe is a connection too)."""
    assert wait_for_log(process, marker, timeout=30), process.stderr()[-3000:]


def server_warning_names_peer(process, mismatch: str, socket: str, peer: str) -> bool:
    pattern = SERVER_SAYS[mismatch].format(peer=peer, socket=re.escape(socket))
    return any(re.search(pattern, line) for line in handshake_warnings(process))


def until_named(process, mismatch: str, socket: str, try_again: Callable[[], None], deadline: float,
                every: float = RETRY_AFTER) -> bool:
    """Waits until `process` warns naming the peer's address, calling `try_again` (another client)
    whenever an attempt was reported without one, until `deadline` (time.monotonic()).

    The server reads the peer's address when the monitor sees the accepted connection; a
    connection that failed before that is reported without it (HandshakeMonitor.swift: about one
    in eight on this two-core machine) and does not use up the log's period, so a trainer that
    tries again is named. One retry is not enough to make that certain (two in a row without an
    address happened in CI); a retry every `every` seconds within the window is."""
    attempt_started = time.monotonic()
    while True:
        if server_warning_names_peer(process, mismatch, socket, r"127\.0\.0\.1"):
            return True
        now = time.monotonic()
        if now >= deadline:
            return False
        if now - attempt_started >= every:
            try_again()
            attempt_started = time.monotonic()
        time.sleep(0.05)


def status_counter(process, name: str) -> int:
    counts = [int(value) for value in re.findall(rf"\b{name}=(\d+)", process.stderr())]
    return max(counts, default=0)


def client_arguments(mismatch: str, keys: Dict[str, Path]) -> dict:
    """LossClient's CURVE arguments for the client side of a mismatch with a sidecar whose key is `sidecar`."""
    if mismatch == "plain_client_curve_server":
        return {}
    if mismatch == "wrong_server_key":
        return {"curve_server_key": read_public_key(keys["other"].with_suffix(".pub"))}
    public, secret = read_key_pair(keys["other"].with_suffix(".key"))
    return {"curve_server_key": read_public_key(keys["sidecar"].with_suffix(".pub")),
            "curve_public_key": public, "curve_secret_key": secret}


def server_arguments(mismatch: str, server: Path, allowed: Path, prefix: str = "input") -> List[str]:
    """The input's CURVE flags for the server side of a mismatch: its key pair `server`, and for
    the refused client, an allowed list holding only `allowed`."""
    if mismatch == "curve_client_plain_server":
        return []
    arguments = [f"--{prefix}-key-file", str(server.with_suffix(".key"))]
    if mismatch == "client_key_not_allowed":
        arguments += [f"--{prefix}-allowed-clients", str(allowed.with_suffix(".pub"))]
    return arguments


@pytest.mark.parametrize("mismatch", MISMATCHES)
def test_a_trainer_that_does_not_match_the_sidecar_input_is_told_on_both_ends(
        mismatch, lossd_bin, start_sidecar, tmp_path):
    keys = keygen(lossd_bin, tmp_path, "sidecar", "other", "allowed")
    records = tmp_path / "records.jsonl"
    sidecar = start_sidecar(str(records), wait=False, extra=[
        "--status-interval-seconds", "1", *server_arguments(mismatch, keys["sidecar"], keys["allowed"])])
    wait_started(sidecar, "sidecar listening")
    y_true, y_pred = synthetic_batch(boxes=64, classes=5, batch=2)
    clients = []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        start = time.monotonic()
        try:
            def connect_and_send() -> None:
                client = LossClient(sidecar.input, linger_ms=0, **client_arguments(mismatch, keys))
                clients.append(client)
                client.send(y_true, y_pred)
            connect_and_send()
            # The server names the client's address, read from the accepted connection; a plain
            # client often stops after its first attempt, so a trainer that tries again is named.
            assert until_named(sidecar, mismatch, "sidecar.input", connect_and_send, deadline=start + WITHIN), \
                sidecar.stderr()[-3000:]
            assert wait_for(lambda: status_counter(sidecar, "handshake_failures") >= 1,
                            timeout=WITHIN - (time.monotonic() - start) + 1.0, interval=0.05), sidecar.stderr()[-3000:]
            assert wait_for(lambda: any(issubclass(w.category, HandshakeWarning) for w in seen),
                            timeout=WITHIN - (time.monotonic() - start), interval=0.05), [str(w.message) for w in seen]
            elapsed = time.monotonic() - start
        finally:
            for client in clients:
                client.close()
    client_warnings = [str(w.message) for w in seen if issubclass(w.category, HandshakeWarning)]
    assert any(re.search(CLIENT_SAYS[mismatch], text) for text in client_warnings), client_warnings
    assert any(sidecar.input_address in text for text in client_warnings), client_warnings
    assert clients[0].handshake_failures >= 1
    assert elapsed < WITHIN + 1.0
    assert sidecar.stop() == 0
    summary = sidecar.final_summary()
    assert summary["received"] == 0, "a batch crossed a failed handshake"
    assert summary["handshake_failures"] >= 1
    assert records.read_text() == ""


def test_with_on_handshake_failure_raise_send_raises_instead_of_waiting(lossd_bin, start_sidecar, tmp_path):
    keys = keygen(lossd_bin, tmp_path, "sidecar")
    sidecar = start_sidecar(str(tmp_path / "records.jsonl"), wait=False,
                            extra=["--input-key-file", str(keys["sidecar"].with_suffix(".key"))])
    wait_started(sidecar, "sidecar listening")
    y_true, y_pred = synthetic_batch(boxes=64, classes=5, batch=2)
    start = time.monotonic()
    with LossClient(sidecar.input, linger_ms=0, sndhwm=1, on_handshake_failure="raise") as client:
        with pytest.raises(HandshakeError, match="requires CURVE"):
            for _ in range(1000):  # the queue holds one; then send waits, until the failure ends the wait
                client.send(y_true, y_pred)
    assert time.monotonic() - start < WITHIN


def output_arguments(mismatch: str, keys: Dict[str, Path]) -> List[str]:
    """The sidecar output's CURVE flags for the client side of a mismatch with an aggregator."""
    if mismatch == "plain_client_curve_server":
        return []
    server = "other" if mismatch == "wrong_server_key" else "server"
    return ["--output-key-file", str(keys["sidecar"].with_suffix(".key")),
            "--output-server-key", str(keys[server].with_suffix(".pub"))]


OUTPUT_SAYS = {
    "plain_client_curve_server": r"the server requires CURVE and sidecar\.output is plain|closed the connection",
    "curve_client_plain_server": r"the server is plain and sidecar\.output uses CURVE|closed the connection",
    "wrong_server_key": r"closed the connection during the handshake",
    "client_key_not_allowed": r"refused sidecar\.output's CURVE key",
}
METRIC_REASON = {
    "plain_client_curve_server": ("mechanism", "closed"),
    "curve_client_plain_server": ("mechanism", "closed"),
    "wrong_server_key": ("server_key",),
    "client_key_not_allowed": ("client_key",),
}


def handshake_metric(aggregator, socket: str) -> Dict[str, int]:
    pattern = rf'^lossd_handshake_failures_total\{{(?=[^}}]*socket="{re.escape(socket)}")[^}}]*reason="(\w+)"[^}}]*\}} (\d+)'
    return {reason: int(value) for reason, value in re.findall(pattern, aggregator.metrics(), re.M)}


@pytest.mark.parametrize("mismatch", MISMATCHES)
def test_a_sidecar_that_does_not_match_the_aggregator_input_is_told_on_both_ends(
        mismatch, lossd_bin, start_sidecar, start_aggregator, tmp_path):
    keys = keygen(lossd_bin, tmp_path, "server", "sidecar", "other")
    # The aggregator's key is `server`; for the refused client it allows `other`, not the sidecar's key.
    aggregator = start_aggregator(extra=server_arguments(mismatch, keys["server"], keys["other"]))
    assert handshake_metric(aggregator, "aggregate.input") == {
        "mechanism": 0, "server_key": 0, "client_key": 0, "closed": 0, "protocol": 0}
    # The record waits for a sink that never completes a handshake: let it go at shutdown.
    sidecar_arguments = ["--status-interval-seconds", "1", "--linger-seconds", "0", *output_arguments(mismatch, keys)]
    sidecar = start_sidecar(f">{aggregator.input_address}", wait=False, extra=sidecar_arguments, link=True)
    wait_started(sidecar, "sidecar listening")
    start = time.monotonic()
    with LossClient(sidecar.input, linger_ms=0) as trainer:
        y_true, y_pred = synthetic_batch(boxes=64, classes=5, batch=2)
        trainer.send(y_true, y_pred)

        def counted() -> bool:
            counts = handshake_metric(aggregator, "aggregate.input")
            return sum(counts[reason] for reason in METRIC_REASON[mismatch]) >= 1
        assert wait_for(counted, timeout=WITHIN, interval=0.1), (aggregator.stderr()[-3000:], aggregator.metrics())
        assert wait_for(lambda: handshake_warnings(aggregator), timeout=WITHIN - (time.monotonic() - start),
                        interval=0.05), aggregator.stderr()[-3000:]
        assert wait_for(lambda: any(re.search(OUTPUT_SAYS[mismatch], line) for line in handshake_warnings(sidecar)),
                        timeout=WITHIN - (time.monotonic() - start), interval=0.05), sidecar.stderr()[-3000:]
        assert wait_for(lambda: status_counter(sidecar, "output_handshake_failures") >= 1,
                        timeout=WITHIN - (time.monotonic() - start) + 1.0, interval=0.05), sidecar.stderr()[-3000:]
        # The sidecar's address, as for a trainer: another sidecar while the ones before were gone
        # too soon to be named (a sidecar takes a moment to start, hence the longer window).
        def another_sidecar() -> None:
            retry = start_sidecar(f">{aggregator.input_address}", wait=False, extra=sidecar_arguments, link=True)
            wait_started(retry, "sidecar listening")
        assert until_named(aggregator, mismatch, "aggregate.input", another_sidecar,
                           deadline=start + WITHIN + 5.0, every=1.5), \
            aggregator.stderr()[-3000:]
    assert aggregator.stats()["records"] == 0, "a record crossed a failed handshake"
    # After a mechanism mismatch or a refused key libzmq does not dial again, so the record waits
    # for ever and the sidecar cannot drain: a second signal is the way out (docs/SECURITY.md).
    sidecar.kill()
    assert aggregator.stop() == 0
    assert aggregator.final_counts()["records"] == 0
