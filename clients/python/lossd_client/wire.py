"""Wire protocol v1 (trainer -> sidecar): headers and tensor frames.

This module is the one place that turns arrays into the frames of a lossd batch message. Both
:class:`lossd_client.LossClient` (which sends them) and :class:`lossd_client.Recorder` (which
writes them to a ``.lossrec`` file) use :class:`BatchEncoder`, so a recorded batch is byte for
byte what the client would have sent.

Frames are zero-copy views of the caller's arrays whenever the arrays are already C-contiguous
and little-endian; otherwise exactly one converted copy is made.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

PROTOCOL_VERSION = 1

#: Values of the header's ``dtype`` key for the float dtypes numpy has natively.
FLOAT_DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64}
LAYOUTS = ("keras", "compact")
SCORE_KINDS = ("probabilities", "logits")
MINING = ("batch", "image")
LOSS_KEYS = ("neg_pos_ratio", "n_neg_min", "alpha", "mining")
PROFILES = ("keras", "torchvision", "mmdet", "ssd.pytorch")
MAX_LABEL_BYTES = 128
#: Entries after the C class entries on the keras layout's last axis: 4 offsets + 8 ignored.
KERAS_EXTRA = 12


def _dtype_name(dtype: np.dtype) -> Optional[str]:
    """The header ``dtype`` name of a numpy float dtype, or None if lossd does not take it."""
    if dtype.kind == "f" and dtype.itemsize in (2, 4, 8):
        return {2: "float16", 4: "float32", 8: "float64"}[dtype.itemsize]
    # bfloat16 comes from extension packages (e.g. ml_dtypes); it has no byte order to fix.
    if dtype.name == "bfloat16" and dtype.itemsize == 2:
        return "bfloat16"
    return None


def _little_endian(array: np.ndarray) -> np.ndarray:
    """``array`` as a C-contiguous little-endian array: the same object when it already is one."""
    dtype = array.dtype
    if dtype.byteorder == ">" or (dtype.byteorder == "=" and sys.byteorder == "big"):
        dtype = dtype.newbyteorder("<")
    # ascontiguousarray returns the input itself when no conversion is needed (no copy).
    return np.ascontiguousarray(array, dtype=dtype)


def as_frame(array: np.ndarray) -> memoryview:
    """A flat byte view of a C-contiguous array (shares its memory; never copies)."""
    if not array.flags.c_contiguous:
        raise ValueError("internal error: frame arrays must be C-contiguous")
    return memoryview(array.reshape(-1).view(np.uint8))


def check_label(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, not {type(value).__name__}")
    if len(value.encode("utf-8")) > MAX_LABEL_BYTES:
        raise ValueError(f"{name} is {len(value.encode('utf-8'))} bytes in UTF-8; lossd takes at most {MAX_LABEL_BYTES}")
    return value


def check_loss_overrides(loss: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """Validates a ``loss`` override object (SPEC §2) and returns a plain dict copy."""
    if loss is None:
        return None
    if not isinstance(loss, Mapping):
        raise ValueError(f"loss must be a dict of overrides, not {type(loss).__name__}")
    out: Dict[str, Any] = {}
    for key, value in loss.items():
        if key == "scores":
            raise ValueError("'scores' is not a loss override: pass scores='logits' (or 'probabilities') to send() instead")
        if key not in LOSS_KEYS:
            raise ValueError(f"unknown loss override {key!r}; lossd takes {', '.join(LOSS_KEYS)}")
        if key in ("neg_pos_ratio", "n_neg_min"):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"loss override {key} must be an integer >= 0, not {value!r}")
            value = int(value)
        elif key == "alpha":
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ValueError(f"loss override alpha must be a number, not {value!r}")
            value = float(value)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"loss override alpha must be finite and >= 0, not {value!r}")
        elif key == "mining":
            if value not in MINING:
                raise ValueError(f"loss override mining must be one of {', '.join(MINING)}, not {value!r}")
        out[key] = value
    return out


def check_stream(stream: Optional[str]) -> Optional[str]:
    """A stream id: None, or a non-empty string of at most 128 UTF-8 bytes."""
    if stream is None:
        return None
    if not isinstance(stream, str) or not stream:
        raise ValueError(f"stream must be a non-empty string (or None for none), not {stream!r}")
    if len(stream.encode("utf-8")) > MAX_LABEL_BYTES:
        raise ValueError(f"stream is {len(stream.encode('utf-8'))} bytes in UTF-8; lossd takes at most {MAX_LABEL_BYTES}")
    return stream


def check_rank(rank: Optional[int], world_size: Optional[int]) -> Tuple[Optional[int], Optional[int]]:
    """``rank`` and ``world_size``: both None, or integers with 0 <= rank < world_size."""
    if rank is None and world_size is None:
        return None, None
    if rank is None or world_size is None:
        raise ValueError("give rank and world_size together (or neither)")
    rank, world_size = _check_int("rank", rank), _check_int("world_size", world_size)
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1 (the number of ranks of the job), not {world_size}")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in 0 .. world_size - 1 = {world_size - 1}, not {rank}")
    return rank, world_size


def check_scores(scores: Optional[str]) -> Optional[str]:
    if scores is not None and scores not in SCORE_KINDS:
        raise ValueError(f"scores must be one of {', '.join(SCORE_KINDS)}, not {scores!r}")
    return scores


def check_profile(profile: Optional[str]) -> Optional[str]:
    """A loss profile name (docs/LOSSES.md), or None for lossd's configured one."""
    if profile is not None and profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, not {profile!r}")
    return profile


def _check_int(name: str, value: Optional[int]) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int, not {value!r}")
    return int(value)


def _as_array(name: str, value: Any) -> np.ndarray:
    array = value if isinstance(value, np.ndarray) else np.asarray(value)
    return array


def build_header(
    *,
    batch: int,
    boxes: int,
    classes: int,
    dtype: str,
    layout: str,
    run: str,
    split: str,
    source: str,
    seq: Optional[int],
    epoch: Optional[int] = None,
    step: Optional[int] = None,
    scores: Optional[str] = None,
    loss: Optional[Mapping[str, Any]] = None,
    profile: Optional[str] = None,
    stream: Optional[str] = None,
    rank: Optional[int] = None,
    world_size: Optional[int] = None,
) -> Dict[str, Any]:
    """The header object of SPEC §2 (docs/PROTOCOL.md). Optional keys that are absent (None) are left out."""
    header: Dict[str, Any] = {
        "v": PROTOCOL_VERSION,
        "batch": int(batch),
        "boxes": int(boxes),
        "classes": int(classes),
        "dtype": dtype,
        "layout": layout,
        "run": run,
        "split": split,
        "source": source,
    }
    optional = (("scores", scores), ("epoch", epoch), ("step", step), ("seq", seq), ("stream", stream),
                ("rank", rank), ("world_size", world_size), ("profile", profile))
    header.update((key, value) for key, value in optional if value is not None)
    if loss:
        header["loss"] = dict(loss)
    return header


def encode_header(header: Mapping[str, Any]) -> bytes:
    return json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")


def keras_tensors(y_true: Any, y_pred: Any) -> Tuple[Tuple[int, int, int, str], List[np.ndarray]]:
    """Validates a keras-layout pair; returns ((B, N, C, dtype name), [y_true, y_pred]) ready to send."""
    y_true = _as_array("y_true", y_true)
    y_pred = _as_array("y_pred", y_pred)
    for name, array in (("y_true", y_true), ("y_pred", y_pred)):
        if array.ndim != 3:
            raise ValueError(f"{name} must have 3 dimensions [batch, boxes, classes + 12], not shape {array.shape}")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, not {y_true.shape} and {y_pred.shape}")
    if y_true.dtype != y_pred.dtype:
        raise ValueError(f"y_true and y_pred must have the same dtype, not {y_true.dtype} and {y_pred.dtype}")
    dtype = _dtype_name(y_true.dtype)
    if dtype is None:
        raise ValueError(f"dtype {y_true.dtype} is not supported; use float32, float16 or float64 (or bfloat16)")
    batch, boxes, last = y_true.shape
    if batch < 1 or boxes < 1:
        raise ValueError(f"batch and boxes must be >= 1, not shape {y_true.shape}")
    classes = last - KERAS_EXTRA
    if classes < 2:
        raise ValueError(
            f"the last axis must be classes + 12 with classes >= 2 (background included), so >= 14; it is {last}")
    return (batch, boxes, classes, dtype), [_little_endian(y_true), _little_endian(y_pred)]


def compact_tensors(labels: Any, gt_offsets: Any, scores: Any, pred_offsets: Any
                    ) -> Tuple[Tuple[int, int, int, str], List[np.ndarray]]:
    """Validates a compact-layout quadruple; returns ((B, N, C, dtype name), the four arrays)."""
    labels = _as_array("labels", labels)
    gt_offsets = _as_array("gt_offsets", gt_offsets)
    scores = _as_array("scores", scores)
    pred_offsets = _as_array("pred_offsets", pred_offsets)
    if labels.ndim != 2:
        raise ValueError(f"labels must have 2 dimensions [batch, boxes], not shape {labels.shape}")
    if labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be an integer array (int32), not {labels.dtype}")
    if labels.dtype != np.int32 and labels.dtype.newbyteorder("=") != np.dtype(np.int32):
        if labels.size and (labels.min() < np.iinfo(np.int32).min or labels.max() > np.iinfo(np.int32).max):
            raise ValueError("labels do not fit in int32")
        labels = labels.astype(np.int32)
    batch, boxes = labels.shape
    if batch < 1 or boxes < 1:
        raise ValueError(f"batch and boxes must be >= 1, not labels shape {labels.shape}")
    if scores.ndim != 3 or scores.shape[:2] != (batch, boxes):
        raise ValueError(f"scores must have shape [{batch}, {boxes}, classes], not {scores.shape}")
    classes = scores.shape[2]
    if classes < 2:
        raise ValueError(f"scores must have classes >= 2 entries (background included), not {classes}")
    for name, array in (("gt_offsets", gt_offsets), ("pred_offsets", pred_offsets)):
        if array.shape != (batch, boxes, 4):
            raise ValueError(f"{name} must have shape [{batch}, {boxes}, 4], not {array.shape}")
    if not (gt_offsets.dtype == scores.dtype == pred_offsets.dtype):
        raise ValueError(
            "gt_offsets, scores and pred_offsets must have the same dtype, not "
            f"{gt_offsets.dtype}, {scores.dtype} and {pred_offsets.dtype}")
    dtype = _dtype_name(scores.dtype)
    if dtype is None:
        raise ValueError(f"dtype {scores.dtype} is not supported; use float32, float16 or float64 (or bfloat16)")
    arrays = [_little_endian(a) for a in (labels, gt_offsets, scores, pred_offsets)]
    return (batch, boxes, classes, dtype), arrays


class BatchEncoder:
    """Builds the frames of batch messages for one (run, source, stream), counting ``seq`` 0, 1, 2, …

    ``stream``, ``rank`` and ``world_size`` go into every header when given (docs/DISTRIBUTED.md).
    Shared by :class:`~lossd_client.LossClient` and :class:`~lossd_client.Recorder`.
    """

    def __init__(self, run: str = "default", split: str = "train", source: str = "",
                 loss: Optional[Mapping[str, Any]] = None, profile: Optional[str] = None,
                 stream: Optional[str] = None, rank: Optional[int] = None,
                 world_size: Optional[int] = None) -> None:
        self.run = check_label("run", run)
        self.profile = check_profile(profile)
        self.split = check_label("split", split)
        self.source = check_label("source", source)
        self.loss = check_loss_overrides(loss)
        self.stream = check_stream(stream)
        self.rank, self.world_size = check_rank(rank, world_size)
        self.next_seq = 0

    def _header(self, shape: Tuple[int, int, int, str], layout: str, *, step: Optional[int], epoch: Optional[int],
                loss: Optional[Mapping[str, Any]], scores: Optional[str], split: Optional[str],
                profile: Optional[str] = None) -> Dict[str, Any]:
        merged: Optional[Dict[str, Any]] = dict(self.loss) if self.loss else None
        overrides = check_loss_overrides(loss)
        if overrides:
            merged = {**(merged or {}), **overrides}
        batch, boxes, classes, dtype = shape
        return build_header(
            batch=batch, boxes=boxes, classes=classes, dtype=dtype, layout=layout,
            run=self.run,
            split=self.split if split is None else check_label("split", split),
            source=self.source,
            seq=self.next_seq,
            epoch=_check_int("epoch", epoch),
            step=_check_int("step", step),
            scores=check_scores(scores),
            loss=merged,
            profile=self.profile if profile is None else check_profile(profile),
            stream=self.stream,
            rank=self.rank,
            world_size=self.world_size,
        )

    def _finish(self, header: Dict[str, Any], arrays: List[np.ndarray]) -> Tuple[int, List[Any]]:
        frames: List[Any] = [encode_header(header)]
        frames.extend(as_frame(a) for a in arrays)
        seq = self.next_seq
        self.next_seq += 1
        return seq, frames

    def keras(self, y_true: Any, y_pred: Any, *, step: Optional[int] = None, epoch: Optional[int] = None,
              loss: Optional[Mapping[str, Any]] = None, scores: Optional[str] = None,
              split: Optional[str] = None, profile: Optional[str] = None) -> Tuple[int, List[Any]]:
        """(seq, frames) of a keras-layout batch. Validation happens before ``seq`` is used up."""
        shape, arrays = keras_tensors(y_true, y_pred)
        header = self._header(shape, "keras", step=step, epoch=epoch, loss=loss, scores=scores, split=split,
                              profile=profile)
        return self._finish(header, arrays)

    def compact(self, labels: Any, gt_offsets: Any, scores: Any, pred_offsets: Any, *, step: Optional[int] = None,
                epoch: Optional[int] = None, loss: Optional[Mapping[str, Any]] = None,
                scores_kind: Optional[str] = None, split: Optional[str] = None,
                profile: Optional[str] = None) -> Tuple[int, List[Any]]:
        """(seq, frames) of a compact-layout batch."""
        shape, arrays = compact_tensors(labels, gt_offsets, scores, pred_offsets)
        header = self._header(shape, "compact", step=step, epoch=epoch, loss=loss, scores=scores_kind, split=split,
                              profile=profile)
        return self._finish(header, arrays)


def parse_endpoint(endpoint: str, bind_by_default: bool) -> List[Tuple[bool, str]]:
    """CZMQ-style endpoints: ``@addr`` binds, ``>addr`` connects, a bare one takes the role's default.

    A comma-separated list gives several endpoints. Returns [(bind, address), …].
    """
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise ValueError(f"endpoint must be a non-empty string like '>tcp://127.0.0.1:5555', not {endpoint!r}")
    out: List[Tuple[bool, str]] = []
    for part in endpoint.split(","):
        part = part.strip()
        if part.startswith("@"):
            bind, address = True, part[1:]
        elif part.startswith(">"):
            bind, address = False, part[1:]
        else:
            bind, address = bind_by_default, part
        if "://" not in address:
            raise ValueError(f"endpoint {part!r} has no transport; write e.g. '@tcp://127.0.0.1:5556' or 'ipc:///tmp/lossd'")
        out.append((bind, address))
    return out
