"""CURVE end to end: only allowed clients deliver batches, and the output can be encrypted too."""

from __future__ import annotations

import re
import subprocess
import time

import pytest
import zmq

from lossd_client import HandshakeWarning, LossClient, read_key_pair, read_public_key
from lossd_testkit import check_loss_record, load_golden, loss_overrides


def keygen(lossd_bin, path):
    subprocess.run([lossd_bin, "keygen", str(path)], check=True, capture_output=True, timeout=30)
    return path.with_suffix(".key"), path.with_suffix(".pub")


def send_case(client, case):
    client.send(case["y_true"], case["y_pred"], loss=loss_overrides(case), scores=case["params"]["scores"])


def test_only_allowed_clients_deliver_and_the_output_is_encrypted(lossd_bin, start_sidecar, tmp_path):
    sidecar_key, sidecar_pub = keygen(lossd_bin, tmp_path / "sidecar")
    trainer_key, trainer_pub = keygen(lossd_bin, tmp_path / "trainer")
    stranger_key, _ = keygen(lossd_bin, tmp_path / "stranger")
    sink_key, sink_pub = keygen(lossd_bin, tmp_path / "sink")
    case = load_golden("basic")

    context = zmq.Context()
    sink = context.socket(zmq.PULL)
    sink_public, sink_secret = read_key_pair(sink_key)
    sink.curve_server = True
    sink.curve_publickey = sink_public.encode()
    sink.curve_secretkey = sink_secret.encode()
    port = sink.bind_to_random_port("tcp://127.0.0.1")
    sidecar = start_sidecar(
        f">tcp://127.0.0.1:{port}",
        extra=["--key-file", str(sidecar_key), "--allowed-clients", str(trainer_pub),
               "--output-server-key", str(sink_pub)])
    server_key = read_public_key(sidecar_pub)
    try:
        # A client whose key is not allowed completes no handshake: nothing arrives, and it says why.
        stranger_public, stranger_secret = read_key_pair(stranger_key)
        with pytest.warns(HandshakeWarning, match="refused this client's CURVE key"), \
                LossClient(sidecar.input, context=context, curve_server_key=server_key,
                           curve_public_key=stranger_public, curve_secret_key=stranger_secret,
                           linger_ms=0) as stranger:
            send_case(stranger, case)
            assert sink.poll(2000) == 0, "a batch from a client without an allowed key was computed"
        # A client without CURVE at all gets nowhere either.
        with pytest.warns(HandshakeWarning, match="requires CURVE"), \
                LossClient(sidecar.input, context=context, linger_ms=0) as plain:
            send_case(plain, case)
            assert sink.poll(2000) == 0, "a plain-text batch was computed"
        # The allowed trainer's batch is computed and its record arrives over the encrypted output.
        trainer_public, trainer_secret = read_key_pair(trainer_key)
        with LossClient(sidecar.input, context=context, curve_server_key=server_key,
                        curve_public_key=trainer_public, curve_secret_key=trainer_secret) as trainer:
            send_case(trainer, case)
            assert sink.poll(10_000), "the allowed trainer's batch produced no record"
            check_loss_record(sink.recv_json(), case)
        assert sidecar.stop() == 0
        assert "refused a client whose CURVE key is not allowed" in sidecar.stderr()
        received, computed, rejected = sidecar.counts()
        assert (received, computed, rejected) == (1, 1, 0)
    finally:
        sink.close(linger=0)
        context.term()


def test_the_aggregator_takes_records_only_from_allowed_sidecars(lossd_bin, start_sidecar, tmp_path):
    import json
    import urllib.request

    from lossd_testkit import LossdProcess, free_tcp_port, wait_for

    aggregator_key, aggregator_pub = keygen(lossd_bin, tmp_path / "aggregator")
    sidecar_key, sidecar_pub = keygen(lossd_bin, tmp_path / "sidecar")
    stranger_key, _ = keygen(lossd_bin, tmp_path / "stranger")
    records_port, http_port = free_tcp_port(), free_tcp_port()
    aggregator = LossdProcess(
        [lossd_bin, "aggregate", "--input", f"@tcp://127.0.0.1:{records_port}", "--http", f"127.0.0.1:{http_port}",
         "--key-file", str(aggregator_key), "--allowed-clients", str(sidecar_pub)], tmp_path, "aggregator")

    def records():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/stats", timeout=2) as response:
                return json.load(response)["records"]
        except OSError:
            return None

    try:
        assert wait_for(lambda: records() is not None, timeout=20), aggregator.stderr()
        # A record sent with a key the aggregator does not allow never arrives.
        context = zmq.Context()
        stranger = context.socket(zmq.DEALER)
        public, secret = read_key_pair(stranger_key)
        stranger.curve_serverkey = read_public_key(aggregator_pub).encode()
        stranger.curve_publickey, stranger.curve_secretkey = public.encode(), secret.encode()
        stranger.connect(f"tcp://127.0.0.1:{records_port}")
        stranger.send_json({"v": 1, "kind": "error", "code": "bad_header", "error": "forged", "run": "x"})
        time.sleep(1.5)
        assert records() == 0
        stranger.close(linger=0)
        context.term()
        # The allowed sidecar's records arrive, encrypted.
        sidecar = start_sidecar(f">tcp://127.0.0.1:{records_port}", link=True,
                                extra=["--key-file", str(sidecar_key), "--output-server-key", str(aggregator_pub)])
        case = load_golden("basic")
        # The sidecar's key file makes its input CURVE too; with no allowed list, any client
        # that knows its public key may send (a fresh key pair is made for this one).
        with LossClient(sidecar.input, curve_server_key=read_public_key(sidecar_pub)) as trainer:
            send_case(trainer, case)
        assert wait_for(lambda: records() == 1, timeout=20), aggregator.stderr()[-2000:]
        assert "refused a client whose CURVE key is not allowed" in aggregator.stderr()
    finally:
        aggregator.kill()


def publish_handshake_failures(aggregator) -> dict:
    pattern = r'^lossd_handshake_failures_total\{(?=[^}]*socket="aggregate\.publish")[^}]*reason="(\w+)"[^}]*\} (\d+)'
    return {reason: int(value) for reason, value in re.findall(pattern, aggregator.metrics(), re.M)}


def test_the_publish_socket_speaks_only_to_subscribers_it_lets_in(lossd_bin, start_aggregator, tmp_path):
    """--publish-key-file makes the divergence feed a CURVE server: a DivergenceWatcher with the
    aggregator's key and an allowed pair hears the snapshots; one with a key it does not allow,
    and a plain one, hear nothing, and the aggregator counts both failed handshakes."""
    from lossd_client import DivergenceWatcher
    from lossd_testkit import free_tcp_port, wait_for

    aggregator_key, aggregator_pub = keygen(lossd_bin, tmp_path / "aggregator")
    watcher_key, watcher_pub = keygen(lossd_bin, tmp_path / "watcher")
    stranger_key, _ = keygen(lossd_bin, tmp_path / "stranger")
    port = free_tcp_port()
    aggregator = start_aggregator(extra=[
        "--publish", f"@tcp://127.0.0.1:{port}", "--snapshot-interval", "0.2",
        "--publish-key-file", str(aggregator_key), "--publish-allowed-clients", str(watcher_pub)])
    assert publish_handshake_failures(aggregator) == {
        "mechanism": 0, "server_key": 0, "client_key": 0, "closed": 0, "protocol": 0}
    endpoint = f"tcp://127.0.0.1:{port}"
    server_key = read_public_key(aggregator_pub)
    public, secret = read_key_pair(watcher_key)
    stranger_public, stranger_secret = read_key_pair(stranger_key)
    with DivergenceWatcher(endpoint, run="any", curve_server_key=server_key,
                           curve_public_key=public, curve_secret_key=secret) as allowed, \
            DivergenceWatcher(endpoint, run="any", curve_server_key=server_key,
                              curve_public_key=stranger_public, curve_secret_key=stranger_secret) as stranger, \
            DivergenceWatcher(endpoint, run="any") as plain:
        assert allowed.wait_until_listening(20), aggregator.stderr()[-2000:]
        # Both refusals are counted (a refused key; a plain subscriber's mechanism, or its hang-up).
        assert wait_for(lambda: publish_handshake_failures(aggregator).get("client_key", 0) >= 1
                        and publish_handshake_failures(aggregator).get("mechanism", 0)
                        + publish_handshake_failures(aggregator).get("closed", 0) >= 1,
                        timeout=20, interval=0.1), (publish_handshake_failures(aggregator), aggregator.stderr()[-3000:])
        # Many snapshots went out meanwhile; neither of the others heard one.
        assert not stranger.wait_until_listening(1.0)
        assert not plain.wait_until_listening(0.1)
    # The first failure of the period is logged in full (the log's rule), whichever came first.
    assert re.search(r"warning .*handshake failed: .*aggregate\.publish", aggregator.stderr()), aggregator.stderr()
    assert "publish_security=CURVE server" in aggregator.stderr()
    assert aggregator.stop() == 0
