"""CURVE key files as ``lossd keygen NAME`` writes them: NAME.key (the pair) and NAME.pub."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

import zmq
from zmq.utils import z85

PathLike = Union[str, Path]


def _fields(path: PathLike) -> Dict[str, str]:
    fields: Dict[str, str] = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, value = line.split(":", 1)
        fields[name.strip()] = value.strip()
    return fields


def read_key_pair(path: PathLike) -> Tuple[str, str]:
    """(public, secret) Z85 keys from a ``.key`` file, for ``LossClient(curve_public_key=…,
    curve_secret_key=…)``."""
    fields = _fields(path)
    try:
        return fields["public-key"], fields["secret-key"]
    except KeyError:
        raise ValueError(f"{path} is not a lossd key pair file (make one with `lossd keygen NAME`)") from None


def read_public_key(path: PathLike) -> str:
    """The Z85 public key of a ``.pub`` or ``.key`` file, e.g. a sidecar's for ``curve_server_key``."""
    fields = _fields(path)
    if "public-key" not in fields:
        raise ValueError(f"{path} has no public-key line (make key files with `lossd keygen NAME`)")
    return fields["public-key"]


def _key(value: Optional[Any]) -> Optional[bytes]:
    if value is None:
        return None
    return value.encode("ascii") if isinstance(value, str) else bytes(value)


def configure_curve_client(socket: zmq.Socket, server_key: Optional[Any], public_key: Optional[Any],
                           secret_key: Optional[Any], server: str) -> Optional[str]:
    """Makes ``socket`` a CURVE client of the server whose public key is ``server_key`` (Z85 text
    or 32 bytes), with the pair ``public_key``/``secret_key`` (a fresh one when both are None);
    returns the client's public key in Z85, or None (and sets nothing) without a server key.
    ``server`` names the server in the error messages (``"the sidecar"``)."""
    server_key, public_key, secret_key = _key(server_key), _key(public_key), _key(secret_key)
    if server_key is None:
        if public_key is not None or secret_key is not None:
            raise ValueError(f"curve_public_key/curve_secret_key need curve_server_key ({server}'s public key)")
        return None
    if (public_key is None) != (secret_key is None):
        raise ValueError("give both curve_public_key and curve_secret_key, or neither (a fresh pair is made)")
    if public_key is None:
        public_key, secret_key = zmq.curve_keypair()
    socket.setsockopt(zmq.CURVE_SERVERKEY, server_key)
    socket.setsockopt(zmq.CURVE_PUBLICKEY, public_key)
    socket.setsockopt(zmq.CURVE_SECRETKEY, secret_key)
    return public_key.decode("ascii") if len(public_key) == 40 else z85.encode(public_key).decode()
