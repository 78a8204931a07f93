"""``.lossrec`` recordings (docs/PROTOCOL.md §3): writing and reading, format versions 1 and 2.

Version 2 (``LOSSREC2``, written by default): a 64-byte file header (the magic and 56 zero bytes),
then records that each start on a multiple of 64 bytes. A record: a header of u64 LE record length
(padding included), u64 LE receive time (ns since the Unix epoch, 0 if unknown), u32 LE frame count
F (1 <= F <= 16), u32 LE CRC-32C of the payload, F x u64 LE frame lengths and u32 LE CRC-32C of the
header's preceding bytes, padded with zeros to a multiple of 64; then the payload: each frame,
padded with zeros to a multiple of 64.

Version 1 (``LOSSREC1``, read always, written with ``version=1``): the magic, then records of u64 LE
receive time; u32 LE frame count F; F x u64 LE frame lengths; the frames' bytes; u32 LE CRC-32
(zlib) of every preceding byte of the record.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from typing import Any, BinaryIO, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from .wire import BatchEncoder

MAGIC = b"LOSSREC1"
MAGIC_V2 = b"LOSSREC2"
MAGICS = {1: MAGIC, 2: MAGIC_V2}
VERSION = 2
MAX_FRAMES = 16
ALIGNMENT = 64
_FILE_HEADER_V2 = MAGIC_V2 + bytes(56)
_PREFIX = struct.Struct("<QI")
_PREFIX_V2 = struct.Struct("<QQII")
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")
_ZEROS = bytes(ALIGNMENT)

PathLike = Union[str, "os.PathLike[str]"]

try:  # the C implementation from PyPI (uses the CPU's CRC instruction)
    from crc32c import crc32c as _crc32c_fast
except ImportError:  # pragma: no cover - exercised only where the package is missing
    _crc32c_fast = None


def _crc32c_table() -> List[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data: Any, value: int = 0) -> int:
    """CRC-32C (Castagnoli) of ``data`` continuing from ``value``, like ``zlib.crc32``.

    Uses the ``crc32c`` package when it is installed (``pip install crc32c``, a dependency of
    lossd-client); otherwise a pure-Python table, which is correct but slow (a few MB/s)."""
    if _crc32c_fast is not None:
        return _crc32c_fast(data, value)
    crc = value ^ 0xFFFFFFFF
    table = _CRC32C_TABLE
    for byte in memoryview(data).cast("B"):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _padding(count: int) -> int:
    return -count % ALIGNMENT


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
    :meth:`record_frames` writes any message as is. ``version`` is the format version to write
    (2, the default, or 1 for readers older than format 2). ``append=True`` adds to an existing
    recording in that file's version.
    """

    def __init__(self, path: PathLike, run: str = "default", split: str = "train", source: str = "",
                 loss: Optional[Mapping[str, Any]] = None, append: bool = False,
                 profile: Optional[str] = None, version: Optional[int] = None) -> None:
        if version not in (None, 1, 2):
            raise ValueError(f"version must be 1 or 2, not {version!r}")
        self._encoder = BatchEncoder(run=run, split=split, source=source, loss=loss, profile=profile)
        self.path = os.fspath(path)
        self.records = 0
        if append and os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            with open(self.path, "rb") as existing:
                magic = existing.read(len(MAGIC))
            found = next((v for v, m in MAGICS.items() if m == magic), None)
            if found is None:
                raise ValueError(f"{self.path} is not a .lossrec recording (it does not start with LOSSREC1 or LOSSREC2)")
            if version is not None and version != found:
                raise ValueError(f"{self.path} is a version {found} recording; cannot append version {version} records")
            self.version = found
            self._file: Optional[BinaryIO] = open(self.path, "ab")
            if found == 2 and self._file.tell() % ALIGNMENT:
                self._file.close()
                raise ValueError(f"{self.path} ends inside a record (its size is not a multiple of 64); "
                                 "read it with read_recording to find the damage")
        else:
            self.version = VERSION if version is None else version
            self._file = open(self.path, "wb")
            self._file.write(MAGIC if self.version == 1 else _FILE_HEADER_V2)

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
        if self.version == 1:
            head = _PREFIX.pack(receive_time_ns, len(views)) + b"".join(_LENGTH.pack(v.nbytes) for v in views)
            crc = zlib.crc32(head)
            for view in views:
                crc = zlib.crc32(view, crc)
            self._file.write(head)
            for view in views:
                self._file.write(view)
            self._file.write(_CRC.pack(crc & 0xFFFFFFFF))
        else:
            payload_crc = 0
            for view in views:
                payload_crc = crc32c(_ZEROS[:_padding(view.nbytes)], crc32c(view, payload_crc))
            header_size = _PREFIX_V2.size + _LENGTH.size * len(views) + _CRC.size
            total = header_size + _padding(header_size) + sum(v.nbytes + _padding(v.nbytes) for v in views)
            head = _PREFIX_V2.pack(total, receive_time_ns, len(views), payload_crc)
            head += b"".join(_LENGTH.pack(v.nbytes) for v in views)
            head += _CRC.pack(crc32c(head))
            self._file.write(head + _ZEROS[:_padding(len(head))])
            for view in views:
                self._file.write(view)
                self._file.write(_ZEROS[:_padding(view.nbytes)])
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
    """Yields (receive_time_ns, frames) per record, from a recording of either format version.
    Stops with :class:`RecordingError` (naming the byte offset and the number of good records) at
    the first truncated or damaged record; every record before it has been yielded."""
    name = os.fspath(path)
    with open(name, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        magic = f.read(len(MAGIC))
        if magic == MAGIC:
            yield from _read_v1(name, f, size)
        elif magic == MAGIC_V2:
            yield from _read_v2(name, f, size)
        elif magic[:7] == b"LOSSREC" and len(magic) == 8:
            raise RecordingError(name, 0, 0, f"format version {magic[7:].decode(errors='replace')} is newer than "
                                 "this lossd_client reads (1 and 2)")
        else:
            raise RecordingError(name, 0, 0, "the file does not start with LOSSREC1 or LOSSREC2")


def _record_prefix(name: str, f: BinaryIO, layout: struct.Struct, count_field: int, offset: int, good: int,
                   size: int) -> Tuple[bytes, Tuple[int, ...]]:
    """The fixed first fields of the record at ``offset`` (bytes and values), its frame count checked."""
    prefix = f.read(layout.size)
    if len(prefix) < layout.size:
        raise RecordingError(name, offset, good, f"truncated record header ({size - offset} bytes left)")
    fields = layout.unpack(prefix)
    if not 1 <= fields[count_field] <= MAX_FRAMES:
        raise RecordingError(name, offset, good, f"frame count {fields[count_field]} is outside 1..{MAX_FRAMES}")
    return prefix, fields


def _read_v1(name: str, f: BinaryIO, size: int) -> Iterator[Tuple[int, List[bytes]]]:
    offset = len(MAGIC)
    good = 0
    while offset < size:
        prefix, (receive_time, count) = _record_prefix(name, f, _PREFIX, 1, offset, good, size)
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


def _read_v2(name: str, f: BinaryIO, size: int) -> Iterator[Tuple[int, List[bytes]]]:
    rest = f.read(len(_FILE_HEADER_V2) - len(MAGIC_V2))
    if len(rest) < 56:
        raise RecordingError(name, 0, 0, "truncated file header (a version 2 file header has 64 bytes)")
    if rest != bytes(56):
        raise RecordingError(name, 0, 0, "the reserved bytes of the file header are not zero")
    offset = len(_FILE_HEADER_V2)
    good = 0
    while offset < size:
        prefix, (total, receive_time, count, payload_crc) = _record_prefix(name, f, _PREFIX_V2, 2, offset, good, size)
        header_size = _PREFIX_V2.size + _LENGTH.size * count + _CRC.size
        rest = f.read(header_size + _padding(header_size) - _PREFIX_V2.size)
        if len(rest) < header_size + _padding(header_size) - _PREFIX_V2.size:
            raise RecordingError(name, offset, good, "truncated record header")
        header = prefix + rest
        (stored,) = _CRC.unpack_from(header, header_size - _CRC.size)
        computed = crc32c(header[:header_size - _CRC.size])
        if stored != computed:
            raise RecordingError(name, offset, good,
                                 f"header CRC-32C mismatch (stored {stored:#010x}, computed {computed:#010x})")
        if any(header[header_size:]):
            raise RecordingError(name, offset, good, "the padding after the record header is not zero")
        lengths = struct.unpack_from(f"<{count}Q", header, _PREFIX_V2.size)
        padded = len(header) + sum(n + _padding(n) for n in lengths)
        if padded != total:
            raise RecordingError(name, offset, good, f"the header's record length {total} disagrees with its frames ({padded})")
        # The lengths are trustworthy now (the header's checksum); check them against the file.
        if offset + total > size:
            raise RecordingError(name, offset, good,
                                 f"truncated record: it declares {total} bytes, the file has {size - offset} left")
        payload = f.read(total - len(header))
        computed = crc32c(payload)
        if payload_crc != computed:
            raise RecordingError(name, offset, good,
                                 f"payload CRC-32C mismatch (stored {payload_crc:#010x}, computed {computed:#010x})")
        frames: List[bytes] = []
        position = 0
        for length in lengths:
            frames.append(payload[position:position + length])
            position += length + _padding(length)
        offset += total
        good += 1
        yield receive_time, frames
