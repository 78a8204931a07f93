"""Who this process is in a distributed job: rank, world size and local rank from the launcher's
environment, and the defaults LossClient derives from them (``source``, ``stream``).

Launchers set these variables in every process they start:

* torchrun (``torch.distributed.run``) and ``torch.distributed.launch --use-env``: ``RANK``,
  ``WORLD_SIZE``, ``LOCAL_RANK``;
* Horovod (``horovodrun``, Gloo): ``HOROVOD_RANK``, ``HOROVOD_SIZE``, ``HOROVOD_LOCAL_RANK``;
  with ``mpirun`` (Open MPI) ``OMPI_COMM_WORLD_RANK``, ``OMPI_COMM_WORLD_SIZE``,
  ``OMPI_COMM_WORLD_LOCAL_RANK``;
* TensorFlow's multi-worker strategies: ``TF_CONFIG``, a JSON object whose ``cluster`` lists the
  tasks by type and whose ``task`` names this one. The ranks are TensorFlow's own task ids: the
  ``chief`` (if any) is rank 0 and ``worker`` i follows it; ``ps`` and ``evaluator`` tasks train
  nothing and get no rank.

The first launcher whose variables are present wins, in the order above. A variable that is set
but not a valid number raises ``ValueError`` naming it, rather than being ignored.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

__all__ = ["Placement", "detect_placement", "default_source", "new_stream_id"]

#: (launcher, rank variable, world size variable, local rank variable)
_LAUNCHER_VARIABLES = (
    ("torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK"),
    ("horovod", "HOROVOD_RANK", "HOROVOD_SIZE", "HOROVOD_LOCAL_RANK"),
    ("mpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
)

#: TF_CONFIG task types that train (and so are ranks), in TensorFlow's task-id order.
_TF_TRAINING_TASKS = ("chief", "worker")


@dataclass(frozen=True)
class Placement:
    """This process's place in a job: ``rank`` in ``0 .. world_size - 1``, ``local_rank`` among
    the processes of this host (None when the launcher does not say), and which launcher said so."""

    rank: int
    world_size: int
    local_rank: Optional[int]
    launcher: str


def _integer(environ: Mapping[str, str], name: str, minimum: int) -> Optional[int]:
    text = environ.get(name)
    if text is None or text.strip() == "":
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(f"the environment variable {name} is {text!r}; it must be an integer >= {minimum}") from None
    if value < minimum:
        raise ValueError(f"the environment variable {name} is {value}; it must be an integer >= {minimum}")
    return value


def _checked(launcher: str, rank: int, world_size: int, local_rank: Optional[int], names: Tuple[str, str]) -> Placement:
    if rank >= world_size:
        raise ValueError(f"{names[0]} is {rank} but {names[1]} is {world_size}: a rank must be below the world size")
    return Placement(rank=rank, world_size=world_size, local_rank=local_rank, launcher=launcher)


def _from_tf_config(text: str) -> Optional[Placement]:
    try:
        config = json.loads(text)
    except ValueError as error:
        raise ValueError(f"the environment variable TF_CONFIG is not JSON: {error}") from None
    if not isinstance(config, dict):
        raise ValueError("the environment variable TF_CONFIG must be a JSON object with 'cluster' and 'task'")
    cluster, task = config.get("cluster") or {}, config.get("task") or {}
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ValueError("TF_CONFIG's 'cluster' and 'task' must be JSON objects")
    kind, index = task.get("type"), task.get("index", 0)
    if kind not in _TF_TRAINING_TASKS:
        return None  # a parameter server or an evaluator: no rank of the training job
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"TF_CONFIG's task index is {index!r}; it must be an integer >= 0")
    sizes = {}
    for name in _TF_TRAINING_TASKS:
        tasks = cluster.get(name) or []
        if not isinstance(tasks, list):
            raise ValueError(f"TF_CONFIG's cluster.{name} must be a list of addresses")
        sizes[name] = len(tasks)
    rank = index if kind == "chief" else sizes["chief"] + index
    world_size = sizes["chief"] + sizes["worker"]
    if world_size == 0:
        raise ValueError("TF_CONFIG's cluster lists no chief and no worker")
    return _checked("tf_config", rank, world_size, None, ("TF_CONFIG's task", "its chief and worker count"))


def detect_placement(environ: Optional[Mapping[str, str]] = None) -> Optional[Placement]:
    """This process's rank, world size and local rank from the launcher's variables, or None when
    no launcher set them (a plain ``python train.py``)."""
    environ = os.environ if environ is None else environ
    for launcher, rank_name, size_name, local_name in _LAUNCHER_VARIABLES:
        rank = _integer(environ, rank_name, 0)
        world_size = _integer(environ, size_name, 1)
        if rank is None and world_size is None:
            continue
        if rank is None or world_size is None:
            given, missing = (rank_name, size_name) if rank is not None else (size_name, rank_name)
            raise ValueError(f"the environment sets {given} but not {missing}; a launcher sets both")
        return _checked(launcher, rank, world_size, _integer(environ, local_name, 0), (rank_name, size_name))
    text = environ.get("TF_CONFIG")
    if text:
        return _from_tf_config(text)
    return None


def default_source(rank: Optional[int] = None) -> str:
    """``host:rank`` when the rank is known, else ``host:pid``: unique per process of a job, and
    the same for a rank that restarts (its new ``stream`` tells the two apart)."""
    host = socket.gethostname() or "localhost"
    return f"{host}:{rank}" if rank is not None else f"{host}:{os.getpid()}"


def new_stream_id() -> str:
    """A random 64-bit id in hex (16 characters), drawn once per LossClient: a restarted process
    draws a new one, so its seqs, counted from 0 again, are never taken for duplicates."""
    return secrets.token_hex(8)
