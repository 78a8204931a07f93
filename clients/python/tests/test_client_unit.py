"""Unit tests of lossd_client that need no lossd process: headers, seq, validation, zero copy."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import zmq

from lossd_client import BatchEncoder, HandshakeWarning, LossClient, ResultSink, parse_endpoint
from lossd_client.handshake import REPEATED_FAILURES
from lossd_testkit import wait_for

TIMEOUT_MS = 5000


def keras_pair(batch=2, boxes=5, classes=3, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    shape = (batch, boxes, classes + 12)
    return rng.random(shape).astype(dtype), rng.random(shape).astype(dtype)


def compact_quad(batch=2, boxes=5, classes=3, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(-1, classes, size=(batch, boxes)).astype(np.int32)
    return (labels, rng.random((batch, boxes, 4)).astype(dtype), rng.random((batch, boxes, classes)).astype(dtype),
            rng.random((batch, boxes, 4)).astype(dtype))


@pytest.fixture
def pull():
    """A PULL socket on a free loopback port; yields (socket, ">tcp://…" endpoint for a client)."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.PULL)
    sock.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind("tcp://127.0.0.1:*")
    yield sock, ">" + sock.getsockopt_string(zmq.LAST_ENDPOINT)
    sock.close(linger=0)


def header_of(frames):
    return json.loads(bytes(frames[0]).decode("utf-8"))


# --- headers and seq ---------------------------------------------------------------------------

def test_header_defaults_omit_absent_optional_keys():
    y_true, y_pred = keras_pair(batch=2, boxes=5, classes=3)
    seq, frames = BatchEncoder().keras(y_true, y_pred)
    assert seq == 0
    assert header_of(frames) == {
        "v": 1, "batch": 2, "boxes": 5, "classes": 3, "dtype": "float32", "layout": "keras",
        "run": "default", "split": "train", "source": "", "seq": 0,
    }
    assert len(frames) == 3


def test_header_with_every_optional_key():
    enc = BatchEncoder(run="r1", split="val", source="gpu0", loss={"alpha": 0.5, "mining": "image"})
    y_true, y_pred = keras_pair(dtype=np.float64)
    _, frames = enc.keras(y_true, y_pred, step=7, epoch=2, loss={"neg_pos_ratio": 5, "alpha": 2},
                          scores="logits", split="test")
    assert header_of(frames) == {
        "v": 1, "batch": 2, "boxes": 5, "classes": 3, "dtype": "float64", "layout": "keras",
        "run": "r1", "split": "test", "source": "gpu0", "seq": 0, "epoch": 2, "step": 7,
        "scores": "logits",
        # the client's overrides, extended and overridden by the call's own
        "loss": {"alpha": 2.0, "mining": "image", "neg_pos_ratio": 5},
    }
    # the per-call split does not stick
    _, frames = enc.keras(y_true, y_pred)
    assert header_of(frames)["split"] == "val"
    assert "scores" not in header_of(frames) and "step" not in header_of(frames)


def test_header_is_compact_utf8_json():
    _, frames = BatchEncoder(run="läuft").keras(*keras_pair())
    raw = bytes(frames[0])
    assert b" " not in raw
    assert json.loads(raw.decode("utf-8"))["run"] == "läuft"


def test_compact_header_and_frames():
    labels, gt, scores, pred = compact_quad(batch=2, boxes=5, classes=3, dtype=np.float16)
    seq, frames = BatchEncoder().compact(labels, gt, scores, pred, scores_kind="logits", step=1)
    assert seq == 0
    header = header_of(frames)
    assert header["layout"] == "compact" and header["dtype"] == "float16" and header["classes"] == 3
    assert header["scores"] == "logits" and header["step"] == 1
    assert [len(bytes(f)) for f in frames[1:]] == [2 * 5 * 4, 2 * 5 * 4 * 2, 2 * 5 * 3 * 2, 2 * 5 * 4 * 2]
    assert bytes(frames[1]) == labels.astype("<i4").tobytes()


def test_compact_converts_other_integer_labels():
    labels, gt, scores, pred = compact_quad()
    _, frames = BatchEncoder().compact(labels.astype(np.int64), gt, scores, pred)
    assert bytes(frames[1]) == labels.astype("<i4").tobytes()


def test_seq_increments_and_failed_validation_does_not_use_one(pull):
    sock, endpoint = pull
    with LossClient(endpoint, send_timeout_ms=TIMEOUT_MS) as client:
        y_true, y_pred = keras_pair()
        assert client.send(y_true, y_pred) == 0
        assert client.send(y_true, y_pred) == 1
        with pytest.raises(ValueError):
            client.send(y_true, y_pred.astype(np.float64))
        assert client.send_compact(*compact_quad()) == 2
        assert client.next_seq == 3
        seqs = [header_of(sock.recv_multipart())["seq"] for _ in range(3)]
    assert seqs == [0, 1, 2]


def test_client_sends_exact_bytes_over_zmq(pull):
    sock, endpoint = pull
    y_true, y_pred = keras_pair(batch=3, boxes=100, classes=21)
    with LossClient(endpoint, run="exp", source="w1", loss={"n_neg_min": 4}, send_timeout_ms=TIMEOUT_MS,
                    stream="w1-a", rank=0, world_size=1) as client:
        client.send(y_true, y_pred, step=3, epoch=1)
        frames = sock.recv_multipart()
    assert len(frames) == 3
    assert header_of(frames) == {
        "v": 1, "batch": 3, "boxes": 100, "classes": 21, "dtype": "float32", "layout": "keras", "run": "exp",
        "split": "train", "source": "w1", "seq": 0, "epoch": 1, "step": 3, "loss": {"n_neg_min": 4},
        "stream": "w1-a", "rank": 0, "world_size": 1}
    assert frames[1] == y_true.tobytes() and frames[2] == y_pred.tobytes()


def test_client_binds_with_at(pull):
    ctx = zmq.Context.instance()
    with LossClient("@tcp://127.0.0.1:*", send_timeout_ms=TIMEOUT_MS) as client:
        assert client.endpoints[0].startswith("tcp://127.0.0.1:")
        sock = ctx.socket(zmq.PULL)
        sock.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
        sock.connect(client.endpoints[0])
        try:
            client.send(*keras_pair())
            assert header_of(sock.recv_multipart())["seq"] == 0
        finally:
            sock.close(linger=0)


# --- validation --------------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: (np.zeros((2, 5, 15), np.float32), np.zeros((2, 5, 15), np.float64)), "same dtype"),
    (lambda: (np.zeros((2, 5, 15), np.float32), np.zeros((2, 6, 15), np.float32)), "same shape"),
    (lambda: (np.zeros((10, 15), np.float32), np.zeros((10, 15), np.float32)), "3 dimensions"),
    (lambda: (np.zeros((2, 5, 13), np.float32), np.zeros((2, 5, 13), np.float32)), "classes >= 2"),
    (lambda: (np.zeros((0, 5, 15), np.float32), np.zeros((0, 5, 15), np.float32)), ">= 1"),
    (lambda: (np.zeros((2, 5, 15), np.int32), np.zeros((2, 5, 15), np.int32)), "not supported"),
    (lambda: (np.zeros((2, 5, 15), np.complex64), np.zeros((2, 5, 15), np.complex64)), "not supported"),
])
def test_keras_validation_errors(make, message):
    with pytest.raises(ValueError, match=message):
        BatchEncoder().keras(*make())


@pytest.mark.parametrize("change, message", [
    (lambda q: (q[0].astype(np.float32),) + q[1:], "integer"),
    (lambda q: (q[0][:, :, None],) + q[1:], "2 dimensions"),
    (lambda q: (q[0], q[1][:, :4]) + q[2:], "gt_offsets must have shape"),
    (lambda q: q[:3] + (q[3][..., :3],), "pred_offsets must have shape"),
    (lambda q: (q[0], q[1], q[2][..., :1], q[3]), "classes >= 2"),
    (lambda q: (q[0], q[1], q[2][:, :4], q[3]), "scores must have shape"),
    (lambda q: (q[0], q[1].astype(np.float64), q[2], q[3]), "same dtype"),
])
def test_compact_validation_errors(change, message):
    with pytest.raises(ValueError, match=message):
        BatchEncoder().compact(*change(compact_quad()))


@pytest.mark.parametrize("loss, message", [
    ({"neg_pos_ratio": -1}, "neg_pos_ratio"),
    ({"n_neg_min": 1.5}, "n_neg_min"),
    ({"alpha": float("nan")}, "alpha"),
    ({"alpha": -0.1}, "alpha"),
    ({"mining": "everything"}, "mining"),
    ({"scores": "logits"}, "scores="),
    ({"neg_ratio": 3}, "unknown loss override"),
])
def test_loss_override_validation(loss, message):
    with pytest.raises(ValueError, match=message):
        BatchEncoder(loss=loss)
    with pytest.raises(ValueError, match=message):
        BatchEncoder().keras(*keras_pair(), loss=loss)


def test_other_argument_validation():
    with pytest.raises(ValueError, match="scores"):
        BatchEncoder().keras(*keras_pair(), scores="softmax")
    with pytest.raises(ValueError, match="128"):
        BatchEncoder(run="x" * 129)
    with pytest.raises(ValueError, match="step"):
        BatchEncoder().keras(*keras_pair(), step=1.5)
    with pytest.raises(ValueError, match="transport"):
        LossClient("127.0.0.1:5555")


# --- zero copy and byte order ------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_frames_share_memory_with_contiguous_little_endian_arrays(dtype):
    y_true, y_pred = keras_pair(dtype=dtype)
    _, frames = BatchEncoder().keras(y_true, y_pred)
    assert np.shares_memory(np.frombuffer(frames[1], np.uint8), y_true)
    assert np.shares_memory(np.frombuffer(frames[2], np.uint8), y_pred)
    quad = compact_quad(dtype=dtype)
    _, frames = BatchEncoder().compact(*quad)
    for frame, array in zip(frames[1:], quad):
        assert np.shares_memory(np.frombuffer(frame, np.uint8), array)


def test_big_endian_and_non_contiguous_inputs_are_converted():
    y_true, y_pred = keras_pair(batch=2, boxes=6)
    big_true = y_true.astype(">f4")
    strided_pred = np.asfortranarray(y_pred)
    _, frames = BatchEncoder().keras(big_true, big_true.copy())
    assert header_of(frames)["dtype"] == "float32"
    assert bytes(frames[1]) == y_true.astype("<f4").tobytes()
    assert not np.shares_memory(np.frombuffer(frames[1], np.uint8), big_true)
    _, frames = BatchEncoder().keras(y_true, strided_pred)
    assert bytes(frames[2]) == y_pred.tobytes()
    # a slice view that is not contiguous
    wide = np.zeros((2, 12, 15), np.float32)
    wide[:, ::2] = y_true
    _, frames = BatchEncoder().keras(wide[:, ::2], wide[:, ::2])
    assert bytes(frames[1]) == y_true.tobytes()


def test_zero_copy_through_the_socket(pull):
    """What the client hands to pyzmq is the array's own memory (copy=False)."""
    sock, endpoint = pull
    y_true, y_pred = keras_pair(batch=4, boxes=2000, classes=21)  # > pyzmq's copy threshold
    sent = []
    with LossClient(endpoint, send_timeout_ms=TIMEOUT_MS) as client:
        original = client.socket.send_multipart

        def spy(frames, **kwargs):
            sent.append((list(frames), kwargs))
            return original(frames, **kwargs)

        client.socket.send_multipart = spy
        client.send(y_true, y_pred)
        frames = sock.recv_multipart()
    (frames_sent, kwargs), = sent
    assert kwargs.get("copy") is False
    assert np.shares_memory(np.frombuffer(frames_sent[1], np.uint8), y_true)
    assert np.shares_memory(np.frombuffer(frames_sent[2], np.uint8), y_pred)
    assert frames[1] == y_true.tobytes() and frames[2] == y_pred.tobytes()


# --- endpoints and the result sink -------------------------------------------------------------

def test_parse_endpoint():
    assert parse_endpoint("@tcp://127.0.0.1:1", bind_by_default=False) == [(True, "tcp://127.0.0.1:1")]
    assert parse_endpoint(">tcp://127.0.0.1:1", bind_by_default=True) == [(False, "tcp://127.0.0.1:1")]
    assert parse_endpoint("ipc:///tmp/x", bind_by_default=True) == [(True, "ipc:///tmp/x")]
    assert parse_endpoint("inproc://x", bind_by_default=False) == [(False, "inproc://x")]
    assert parse_endpoint("@inproc://a,>inproc://b", bind_by_default=False) == [(True, "inproc://a"), (False, "inproc://b")]


def test_result_sink_receive_timeout_and_iteration():
    with ResultSink("@tcp://127.0.0.1:*", timeout=0.2) as sink:
        assert sink.receive(timeout=0.05) is None
        push = zmq.Context.instance().socket(zmq.PUSH)
        push.setsockopt(zmq.SNDTIMEO, TIMEOUT_MS)
        push.connect(sink.endpoint)
        try:
            for i in range(3):
                push.send(json.dumps({"kind": "loss", "seq": i}).encode())
            assert sink.receive(timeout=5)["seq"] == 0
            assert [r["seq"] for r in sink] == [1, 2]  # iteration ends after 0.2 s of quiet
        finally:
            push.close(linger=0)


def test_result_sink_connects_with_gt():
    ctx = zmq.Context.instance()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.SNDTIMEO, TIMEOUT_MS)
    push.bind("tcp://127.0.0.1:*")
    try:
        with ResultSink(">" + push.getsockopt_string(zmq.LAST_ENDPOINT)) as sink:
            push.send(b'{"kind":"error","code":"bad_header"}')
            assert sink.receive(timeout=5) == {"kind": "error", "code": "bad_header"}
    finally:
        push.close(linger=0)


@pytest.mark.skipif(not zmq.has("curve"), reason="this libzmq was built without CURVE")
def test_curve_client_reaches_a_curve_server():
    server_public, server_secret = zmq.curve_keypair()
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.PULL)
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_SECRETKEY, server_secret)
    sock.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind("tcp://127.0.0.1:*")
    try:
        endpoint = ">" + sock.getsockopt_string(zmq.LAST_ENDPOINT)
        with LossClient(endpoint, curve_server_key=server_public.decode(), send_timeout_ms=TIMEOUT_MS) as client:
            client.send(*keras_pair())
            assert header_of(sock.recv_multipart())["seq"] == 0
        with pytest.raises(ValueError, match="both"):
            LossClient(endpoint, curve_server_key=server_public, curve_public_key=server_public)
        with pytest.raises(ValueError, match="curve_server_key"):
            LossClient(endpoint, curve_secret_key=server_secret)
    finally:
        sock.close(linger=0)


@pytest.mark.skipif(not zmq.has("curve"), reason="this libzmq was built without CURVE")
def test_a_failing_handshake_warns_once_and_ignore_watches_nothing():
    """Two clients with another server key than a pyzmq CURVE server's: every attempt fails
    (the server closes the connection), the watching client warns once however many fail, and
    the one made with on_handshake_failure="ignore" counts and says nothing."""
    _, server_secret = zmq.curve_keypair()
    other_public, _ = zmq.curve_keypair()
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.PULL)
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_SECRETKEY, server_secret)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind("tcp://127.0.0.1:*")
    endpoint = ">" + sock.getsockopt_string(zmq.LAST_ENDPOINT)
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with LossClient(endpoint, curve_server_key=other_public, linger_ms=0,
                            on_handshake_failure="ignore") as ignoring, \
                    LossClient(endpoint, curve_server_key=other_public, linger_ms=0) as watching:
                ignoring.send(*keras_pair())
                watching.send(*keras_pair())
                assert wait_for(lambda: watching.handshake_failures >= REPEATED_FAILURES + 2, timeout=10), \
                    watching.handshake_failures
                assert ignoring.handshake_failures == 0 and ignoring.handshake_problem is None
                problem = watching.handshake_problem
        told = [str(w.message) for w in seen if issubclass(w.category, HandshakeWarning)]
        assert told == [problem], told
        assert "curve_server_key is not its public key" in problem
        assert sock.poll(0) == 0, "a batch crossed a failed handshake"
        with pytest.raises(ValueError, match="warn, raise, ignore"):
            LossClient(endpoint, on_handshake_failure="quiet")
    finally:
        sock.close(linger=0)


def test_profile_goes_into_the_header_per_client_or_per_call():
    y_true, y_pred = keras_pair()
    enc = BatchEncoder(profile="torchvision")
    _, frames = enc.keras(y_true, y_pred)
    assert header_of(frames)["profile"] == "torchvision"
    _, frames = enc.compact(*compact_quad(), profile="ssd.pytorch")
    assert header_of(frames)["profile"] == "ssd.pytorch"
    _, frames = BatchEncoder().keras(y_true, y_pred)
    assert "profile" not in header_of(frames)
    with pytest.raises(ValueError, match="profile must be one of keras, torchvision, mmdet, ssd.pytorch"):
        BatchEncoder(profile="detectron")
    with pytest.raises(ValueError, match="profile must be one of"):
        enc.keras(y_true, y_pred, profile="yolo")
