"""Unit tests of a sender's identity (no lossd process): the stream each client draws, the default
source, and rank and world size from the launchers' environment variables or the arguments."""

from __future__ import annotations

import json
import os
import re
import socket

import numpy as np
import pytest

from lossd_client import BatchEncoder, LossClient, detect_placement
from lossd_client.launcher import Placement

LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "HOROVOD_RANK", "HOROVOD_SIZE", "HOROVOD_LOCAL_RANK",
                      "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "TF_CONFIG")


@pytest.fixture(autouse=True)
def no_launcher(monkeypatch):
    """Every test starts outside any launcher, whatever the environment pytest runs in."""
    for name in LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def header(client: LossClient):
    y = np.zeros((1, 2, 14), np.float32)
    _, frames = client._encoder.keras(y, y, step=3)
    return json.loads(bytes(frames[0]))


def test_default_client_has_a_random_stream_and_a_per_process_source():
    first, second = LossClient(">tcp://127.0.0.1:1", linger_ms=0), LossClient(">tcp://127.0.0.1:1", linger_ms=0)
    try:
        assert re.fullmatch(r"[0-9a-f]{16}", first.stream) and first.stream != second.stream
        assert first.source == second.source == f"{socket.gethostname()}:{os.getpid()}"
        h = header(first)
        assert h["stream"] == first.stream and h["source"] == first.source
        assert "rank" not in h and "world_size" not in h
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("environment, placement", [
    ({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1"}, Placement(3, 8, 1, "torchrun")),
    ({"HOROVOD_RANK": "0", "HOROVOD_SIZE": "2", "HOROVOD_LOCAL_RANK": "0"}, Placement(0, 2, 0, "horovod")),
    ({"OMPI_COMM_WORLD_RANK": "5", "OMPI_COMM_WORLD_SIZE": "6"}, Placement(5, 6, None, "mpi")),
    ({"TF_CONFIG": json.dumps({"cluster": {"chief": ["c:1"], "worker": ["w:1", "w:2"], "ps": ["p:1"]},
                               "task": {"type": "worker", "index": 1}})}, Placement(2, 3, None, "tf_config")),
    ({"TF_CONFIG": json.dumps({"cluster": {"worker": ["w:1", "w:2"]}, "task": {"type": "worker", "index": 0}})},
     Placement(0, 2, None, "tf_config")),
    ({"TF_CONFIG": json.dumps({"cluster": {"chief": ["c:1"], "worker": ["w:1"]}, "task": {"type": "chief"}})},
     Placement(0, 2, None, "tf_config")),
    ({"TF_CONFIG": json.dumps({"cluster": {"worker": ["w:1"], "ps": ["p:1"]}, "task": {"type": "ps", "index": 0}})},
     None),
    ({}, None),
])
def test_placement_from_each_launcher(monkeypatch, environment, placement):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert detect_placement() == placement


def test_the_client_fills_rank_world_size_and_source_from_the_launcher(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    with LossClient(">tcp://127.0.0.1:1", linger_ms=0) as client:
        h = header(client)
        assert (h["rank"], h["world_size"], h["step"]) == (3, 4, 3)
        assert h["source"] == f"{socket.gethostname()}:3" == client.source
        assert client.placement == Placement(3, 4, 1, "torchrun")


def test_arguments_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    with LossClient(">tcp://127.0.0.1:1", source="gpu7", stream="run-42", rank=1, world_size=2, linger_ms=0) as c:
        h = header(c)
        assert (h["source"], h["stream"], h["rank"], h["world_size"]) == ("gpu7", "run-42", 1, 2)
        assert c.placement is None


@pytest.mark.parametrize("environment, message", [
    ({"RANK": "two", "WORLD_SIZE": "4"}, "RANK is 'two'"),
    ({"RANK": "4", "WORLD_SIZE": "4"}, "RANK is 4 but WORLD_SIZE is 4"),
    ({"RANK": "0", "WORLD_SIZE": "0"}, "WORLD_SIZE is 0"),
    ({"RANK": "1"}, "sets RANK but not WORLD_SIZE"),
    ({"HOROVOD_SIZE": "2"}, "sets HOROVOD_SIZE but not HOROVOD_RANK"),
    ({"TF_CONFIG": "{not json"}, "TF_CONFIG is not JSON"),
    ({"TF_CONFIG": json.dumps({"cluster": {"worker": ["w"]}, "task": {"type": "worker", "index": 3}})},
     "TF_CONFIG's task is 3"),
])
def test_bad_launcher_variables_are_errors_naming_them(monkeypatch, environment, message):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=re.escape(message)):
        LossClient(">tcp://127.0.0.1:1", linger_ms=0)


@pytest.mark.parametrize("arguments, message", [
    (dict(rank=0, world_size=0), "world_size must be >= 1"),
    (dict(rank=4, world_size=4), "rank must be in 0 .. world_size - 1 = 3"),
    (dict(rank=-1, world_size=4), "rank must be in 0 .. world_size - 1 = 3"),
    (dict(rank=1), "give rank and world_size together"),
    (dict(world_size=8), "give rank and world_size together"),
    (dict(rank=1.0, world_size=2), "rank must be an int"),
    (dict(stream=""), "stream must be a non-empty string"),
    (dict(stream="s" * 129), "stream is 129 bytes"),
    (dict(stream=7), "stream must be a non-empty string"),
])
def test_bad_identity_arguments_are_errors(arguments, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        BatchEncoder(**arguments)
    with pytest.raises(ValueError, match=re.escape(message)):
        LossClient(">tcp://127.0.0.1:1", linger_ms=0, **arguments)


def test_a_recorder_writes_no_stream_unless_asked():
    y = np.zeros((1, 2, 14), np.float32)
    _, frames = BatchEncoder(source="rank0").keras(y, y)
    assert "stream" not in json.loads(bytes(frames[0]))
