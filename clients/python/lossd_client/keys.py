"""CURVE key files as ``lossd keygen NAME`` writes them: NAME.key (the pair) and NAME.pub."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Tuple, Union

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
