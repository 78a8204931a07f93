"""CURVE end to end: only allowed clients deliver batches, and the output can be encrypted too."""

from __future__ import annotations

import subprocess

import zmq

from lossd_client import LossClient, read_key_pair, read_public_key
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
        # A client whose key is not allowed completes no handshake: nothing arrives.
        stranger_public, stranger_secret = read_key_pair(stranger_key)
        with LossClient(sidecar.input, context=context, curve_server_key=server_key,
                        curve_public_key=stranger_public, curve_secret_key=stranger_secret,
                        linger_ms=0) as stranger:
            send_case(stranger, case)
            assert sink.poll(2000) == 0, "a batch from a client without an allowed key was computed"
        # A client without CURVE at all gets nowhere either.
        with LossClient(sidecar.input, context=context, linger_ms=0) as plain:
            send_case(plain, case)
            assert sink.poll(1000) == 0, "a plain-text batch was computed"
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
