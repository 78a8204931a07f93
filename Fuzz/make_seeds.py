#!/usr/bin/env python3
"""Writes the seed inputs of lossd's fuzzers (numpy only); scripts/fuzz.sh runs it.

Usage: make_seeds.py OUT_DIR. Makes OUT_DIR/decoder and OUT_DIR/recording:
- decoder: every malformed-corpus message (Tests/Fixtures/malformed/*.frames) up to MAX_SEED
  bytes, and every golden case (Tests/SSDLossTests/golden) that fits, as a good keras message in the
  same framing (each frame a u32 LE length, then its bytes), plus a compact version of the small ones;
- recording: a .lossrec file per corpus message that a recording can hold (1 to 16 frames), one
  recording of a few golden batches, and that recording cut short and with a flipped bit; each in
  format version 1 and version 2 (CRC-32C from lossd_client, whose pure-Python fallback needs
  nothing installed).
"""

from __future__ import annotations

import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "clients" / "python"))
from lossd_client.recording import crc32c  # noqa: E402

CORPUS = ROOT / "Tests" / "Fixtures" / "malformed"
GOLDEN = ROOT / "Tests" / "SSDLossTests" / "golden"
MAX_SEED = 64 << 10  # the fuzzers run with -max_len of the same size


def frames_file(frames) -> bytes:
    return b"".join(struct.pack("<I", len(f)) + bytes(f) for f in frames)


def read_frames(data: bytes):
    frames, offset = [], 0
    while offset < len(data):
        (length,) = struct.unpack_from("<I", data, offset)
        frames.append(data[offset + 4:offset + 4 + length])
        offset += 4 + length
    return frames


def lossrec_record(frames, receive_time_ns: int = 0) -> bytes:
    body = struct.pack("<QI", receive_time_ns, len(frames))
    body += b"".join(struct.pack("<Q", len(f)) for f in frames)
    body += b"".join(bytes(f) for f in frames)
    return body + struct.pack("<I", zlib.crc32(body))


def pad64(data: bytes) -> bytes:
    return data + bytes(-len(data) % 64)


def lossrec2_record(frames, receive_time_ns: int = 0) -> bytes:
    """One version 2 record, written from docs/PROTOCOL.md rather than with lossd_client.Recorder."""
    payload = b"".join(pad64(bytes(f)) for f in frames)
    header_size = 24 + 8 * len(frames) + 4
    head = struct.pack("<QQII", len(pad64(bytes(header_size))) + len(payload), receive_time_ns, len(frames), crc32c(payload))
    head += b"".join(struct.pack("<Q", len(f)) for f in frames)
    return pad64(head + struct.pack("<I", crc32c(head))) + payload


FILE_HEADER = {1: b"LOSSREC1", 2: b"LOSSREC2" + bytes(56)}
RECORD = {1: lossrec_record, 2: lossrec2_record}


def golden_messages():
    """(name, keras frames, compact frames or None) of every golden case."""
    for meta in sorted(GOLDEN.glob("*.json")):
        case = json.loads(meta.read_text())
        b, n, c = case["batch"], case["boxes"], case["classes"]
        data = (GOLDEN / f"{meta.stem}.bin").read_bytes()
        half = len(data) // 2
        params = dict(case["params"])
        scores = params.pop("scores")
        header = {"v": 1, "batch": b, "boxes": n, "classes": c, "dtype": case["dtype"], "scores": scores,
                  "loss": params, "run": "seed", "seq": 0}
        keras = [json.dumps(header).encode(), data[:half], data[half:]]
        compact = None
        dtype = np.dtype({"float32": "<f4", "float16": "<f2", "float64": "<f8"}[case["dtype"]])
        y_true = np.frombuffer(data[:half], dtype).reshape(b, n, c + 12)
        y_pred = np.frombuffer(data[half:], dtype).reshape(b, n, c + 12)
        one_hot = y_true[..., :c]
        if np.all((one_hot == 0) | (one_hot == 1)) and np.all(one_hot.sum(-1) <= 1):
            labels = np.where(one_hot.sum(-1) == 0, -1, one_hot.argmax(-1)).astype("<i4")
            compact = [json.dumps(dict(header, layout="compact")).encode(), labels.tobytes(),
                       np.ascontiguousarray(y_true[..., c:c + 4]).tobytes(),
                       np.ascontiguousarray(y_pred[..., :c]).tobytes(),
                       np.ascontiguousarray(y_pred[..., c:c + 4]).tobytes()]
        yield meta.stem, keras, compact


def main() -> int:
    out = Path(sys.argv[1])
    decoder, recording = out / "decoder", out / "recording"
    for directory in (decoder, recording):
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.iterdir():
            old.unlink()

    corpus = [(p.stem, read_frames(p.read_bytes())) for p in sorted(CORPUS.glob("*.frames"))]
    for name, frames in corpus:
        data = frames_file(frames)
        if len(data) <= MAX_SEED:
            (decoder / f"corpus-{name}").write_bytes(data)
        for version in (1, 2):
            record = FILE_HEADER[version] + RECORD[version](frames, 1)
            if 1 <= len(frames) <= 16 and len(record) <= MAX_SEED:
                (recording / f"corpus-{name}.v{version}.lossrec").write_bytes(record)

    good = []
    for name, keras, compact in golden_messages():
        for kind, frames in (("keras", keras), ("compact", compact)):
            if frames is not None and len(frames_file(frames)) <= MAX_SEED:
                (decoder / f"golden-{name}-{kind}").write_bytes(frames_file(frames))
                good.append(frames)
    for version in (1, 2):
        several = FILE_HEADER[version]
        for i, frames in enumerate(good):
            record = RECORD[version](frames, 1_700_000_000_000_000_000 + i)
            if len(several) + len(record) <= MAX_SEED:
                several += record
        (recording / f"golden-several.v{version}.lossrec").write_bytes(several)
        (recording / f"golden-cut.v{version}.lossrec").write_bytes(several[:len(several) * 2 // 3])
        flipped = bytearray(several)
        flipped[len(flipped) // 2] ^= 0x10
        (recording / f"golden-bitflip.v{version}.lossrec").write_bytes(bytes(flipped))
        (recording / f"empty.v{version}.lossrec").write_bytes(FILE_HEADER[version])
    print(f"fuzz seeds: {len(list(decoder.iterdir()))} decoder, {len(list(recording.iterdir()))} recording in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
