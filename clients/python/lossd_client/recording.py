"""``.lossrec`` recordings (SPEC §4): writing and reading.

File: the 8 bytes ``LOSSREC1``, then records. A record: u64 LE receive time (ns since the Unix
epoch, 0 if unknown); u32 LE frame count F (1 <= F <= 16); F x u64 LE frame lengths; the frames'
bytes; u32 LE CRC-32 (zlib) of every preceding byte of the record.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from typing import Any, BinaryIO, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from .wire import BatchEncoder

MAGIC = b"LOSSREC1"
MAX_FRAMES = 16
_PREFIX = struct.Struct("<QI")
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")

PathLike = Union[str, "os.PathLike[str]"]


class RecordingError(ValueError):
    """A damaged or truncated recording: ``offset`` is the byte offset of the first bad record
    (or of the file start for a bad magic) and ``good_records`` how many good records came before."""

    def __init__(self, path: str, offset: int, good_records: int, problem: str) -> None:
        self.path = path
        self.offset = offset
        self.good_records = good_records
        self.problem = problem
        super().__init__(f"{path}: damaged recording at byte {offset} after {good_records} good records: {problem}")


def _frame_view(frame: Any) -> memoryview:
    """A flat byte view of one frame (bytes, bytearray, memoryview, numpy array, zmq.Frame)."""
    if isinstance(frame, str):
        raise TypeError("frames must be bytes-like, not str (encode it first)")
    buffer = getattr(frame, "buffer", None)  # zmq.Frame
    view = memoryview(buffer if buffer is not None and not isinstance(frame, memoryview) else frame)
    if not view.c_contiguous:
        raise ValueError("frames must be C-contiguous buffers")
    if view.ndim != 1 or view.format not in ("B", "b", "c"):
        view = view.cast("B")
    return view


class Recorder:
    """Writes batch messages to a ``.lossrec`` file.

    :meth:`record` and :meth:`record_compact` build the message exactly as
    :class:`~lossd_client.LossClient` would send it (same header logic, ``seq`` 0, 1, 2, …);
    :meth:`record_frames` writes any message as is. ``append=True`` adds to an existing recording.
    """

    def __init__(self, path: PathLike, run: str = "default", split: str = "train", source: str = "",
                 loss: Optional[Mapping[str, Any]] = None, append: bool = False,
                 profile: Optional[str] = None) -> None:
        self._encoder = BatchEncoder(run=run, split=split, source=source, loss=loss, profile=profile)
        self.path = os.fspath(path)
        self.records = 0
        if append and os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            with open(self.path, "rb") as existing:
                if existing.read(len(MAGIC)) != MAGIC:
                    raise ValueError(f"{self.path} is not a .lossrec recording (it does not start with LOSSREC1)")
            self._file: Optional[BinaryIO] = open(self.path, "ab")
        else:
            self._file = open(self.path, "wb")
            self._file.write(MAGIC)

    @property
    def next_seq(self) -> int:
        return self._encoder.next_seq

    def record_frames(self, frames: Sequence[Any], receive_time_ns: Optional[int] = None) -> None:
        """Appends one message. ``receive_time_ns`` defaults to now (``time.time_ns()``); 0 means unknown."""
        if self._file is None:
            raise ValueError("this Recorder is closed")
        views = [_frame_view(f) for f in frames]
        if not 1 <= len(views) <= MAX_FRAMES:
            raise ValueError(f"a recorded message has 1 to {MAX_FRAMES} frames, not {len(views)}")
        if receive_time_ns is None:
            receive_time_ns = time.time_ns()
        if not 0 <= receive_time_ns < 2**64:
            raise ValueError(f"receive_time_ns must fit in a u64, not {receive_time_ns}")
        head = _PREFIX.pack(receive_time_ns, len(views)) + b"".join(_LENGTH.pack(v.nbytes) for v in views)
        crc = zlib.crc32(head)
        for view in views:
            crc = zlib.crc32(view, crc)
        self._file.write(head)
        for view in views:
            self._file.write(view)
        self._file.write(_CRC.pack(crc & 0xFFFFFFFF))
        self.records += 1

    def record(self, y_true: Any, y_pred: Any, step: Optional[int] = None, epoch: Optional[int] = None,
               loss: Optional[Mapping[str, Any]] = None, scores: Optional[str] = None,
               split: Optional[str] = None, receive_time_ns: Optional[int] = None,
               profile: Optional[str] = None) -> int:
        """Records a keras-layout batch as :meth:`LossClient.send` would send it. Returns the seq."""
        seq, frames = self._encoder.keras(y_true, y_pred, step=step, epoch=epoch, loss=loss, scores=scores, split=split,
                                          profile=profile)
        self.record_frames(frames, receive_time_ns)
        return seq

    def record_compact(self, labels: Any, gt_offsets: Any, scores: Any, pred_offsets: Any,
                       step: Optional[int] = None, epoch: Optional[int] = None,
                       loss: Optional[Mapping[str, Any]] = None, scores_kind: Optional[str] = None,
                       split: Optional[str] = None, receive_time_ns: Optional[int] = None,
                       profile: Optional[str] = None) -> int:
        """Records a compact-layout batch as :meth:`LossClient.send_compact` would send it."""
        seq, frames = self._encoder.compact(labels, gt_offsets, scores, pred_offsets, step=step, epoch=epoch,
                                            loss=loss, scores_kind=scores_kind, split=split, profile=profile)
        self.record_frames(frames, receive_time_ns)
        return seq

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def read_recording(path: PathLike) -> Iterator[Tuple[int, List[bytes]]]:
    """Yields (receive_time_ns, frames) per record. Stops with :class:`RecordingError` (naming the
    byte offset and the number of good records) at the first truncated or damaged record; every
    record before it has been yielded."""
    name = os.fspath(path)
    with open(name, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        magic = f.read(len(MAGIC))
        if magic != MAGIC:
            raise RecordingError(name, 0, 0, "the file does not start with LOSSREC1")
        offset = len(MAGIC)
        good = 0
        while offset < size:
            prefix = f.read(_PREFIX.size)
            if len(prefix) < _PREFIX.size:
                raise RecordingError(name, offset, good, f"truncated record header ({size - offset} bytes left)")
            receive_time, count = _PREFIX.unpack(prefix)
            if not 1 <= count <= MAX_FRAMES:
                raise RecordingError(name, offset, good, f"frame count {count} is outside 1..{MAX_FRAMES}")
            lengths_bytes = f.read(_LENGTH.size * count)
            if len(lengths_bytes) < _LENGTH.size * count:
                raise RecordingError(name, offset, good, "truncated frame length table")
            lengths = struct.unpack(f"<{count}Q", lengths_bytes)
            body = sum(lengths)
            header_size = _PREFIX.size + _LENGTH.size * count
            # Check the sizes against the file before reading (and allocating) anything they ask for.
            if offset + header_size + body + _CRC.size > size:
                raise RecordingError(name, offset, good,
                                     f"truncated record: it declares {body} frame bytes, the file has "
                                     f"{max(0, size - offset - header_size - _CRC.size)} left")
            crc = zlib.crc32(lengths_bytes, zlib.crc32(prefix))
            frames: List[bytes] = []
            for length in lengths:
                data = f.read(length)
                crc = zlib.crc32(data, crc)
                frames.append(data)
            (stored,) = _CRC.unpack(f.read(_CRC.size))
            if stored != crc & 0xFFFFFFFF:
                raise RecordingError(name, offset, good, f"CRC mismatch (stored {stored:#010x}, computed {crc:#010x})")
            offset += header_size + body + _CRC.size
            good += 1
            yield receive_time, frames
