"""Unit tests of .lossrec writing and reading (SPEC §4), byte by byte."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest

from lossd_client import BatchEncoder, Recorder, RecordingError, read_recording


def test_crc_is_the_zlib_iso_hdlc_crc32():
    assert zlib.crc32(b"123456789") == 0xCBF43926  # the standard check value of CRC-32/ISO-HDLC


def test_record_bytes_field_by_field(tmp_path):
    path = tmp_path / "a.lossrec"
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    with Recorder(path) as rec:
        rec.record_frames([b"{\"v\":1}", b"", array], receive_time_ns=1_700_000_000_123_456_789)
        rec.record_frames([b"xyz"], receive_time_ns=0)
    data = path.read_bytes()
    assert data[:8] == b"LOSSREC1"
    pos = 8
    start = pos
    assert struct.unpack_from("<Q", data, pos)[0] == 1_700_000_000_123_456_789; pos += 8
    assert struct.unpack_from("<I", data, pos)[0] == 3; pos += 4
    assert struct.unpack_from("<3Q", data, pos) == (7, 0, 24); pos += 24
    assert data[pos:pos + 7] == b"{\"v\":1}"; pos += 7
    assert data[pos:pos + 24] == array.astype("<f4").tobytes(); pos += 24
    crc = struct.unpack_from("<I", data, pos)[0]
    assert crc == zlib.crc32(data[start:pos]); pos += 4
    start = pos
    assert struct.unpack_from("<QI", data, pos) == (0, 1); pos += 12
    assert struct.unpack_from("<Q", data, pos)[0] == 3; pos += 8
    assert data[pos:pos + 3] == b"xyz"; pos += 3
    assert struct.unpack_from("<I", data, pos)[0] == zlib.crc32(data[start:pos]); pos += 4
    assert pos == len(data)


def test_receive_time_defaults_to_now(tmp_path):
    import time
    before = time.time_ns()
    with Recorder(tmp_path / "t.lossrec") as rec:
        rec.record_frames([b"x"])
    after = time.time_ns()
    (t, frames), = list(read_recording(tmp_path / "t.lossrec"))
    assert before <= t <= after and frames == [b"x"]


def test_record_uses_the_client_header_logic(tmp_path):
    rng = np.random.default_rng(1)
    y_true = rng.random((2, 4, 15)).astype(np.float32)
    y_pred = rng.random((2, 4, 15)).astype(np.float32)
    path = tmp_path / "b.lossrec"
    with Recorder(path, run="r", source="s", loss={"alpha": 0.5}) as rec:
        assert rec.record(y_true, y_pred, step=1, receive_time_ns=5) == 0
        assert rec.record(y_true, y_pred, step=2, scores="logits", receive_time_ns=6) == 1
        labels = np.zeros((2, 4), np.int32)
        assert rec.record_compact(labels, y_true[..., :4].copy(), y_true[..., :3].copy(), y_pred[..., :4].copy(),
                                  receive_time_ns=7) == 2
    records = list(read_recording(path))
    enc = BatchEncoder(run="r", source="s", loss={"alpha": 0.5})
    _, expected0 = enc.keras(y_true, y_pred, step=1)
    _, expected1 = enc.keras(y_true, y_pred, step=2, scores="logits")
    assert records[0] == (5, [bytes(f) for f in expected0])
    assert records[1] == (6, [bytes(f) for f in expected1])
    t, frames = records[2]
    assert t == 7 and len(frames) == 5
    header = json.loads(frames[0])
    assert header["layout"] == "compact" and header["seq"] == 2 and header["loss"] == {"alpha": 0.5}


def test_read_recording_round_trip(tmp_path):
    path = tmp_path / "c.lossrec"
    messages = [(i * 1000, [bytes([i]) * i, b"h" * (i + 1)] + [b"f"] * (i % 3)) for i in range(1, 40)]
    with Recorder(path) as rec:
        for t, frames in messages:
            rec.record_frames(frames, receive_time_ns=t)
    assert list(read_recording(path)) == messages
    # append mode keeps what is there
    with Recorder(path, append=True) as rec:
        rec.record_frames([b"last"], receive_time_ns=1)
    assert list(read_recording(path)) == messages + [(1, [b"last"])]


def test_empty_recording(tmp_path):
    path = tmp_path / "empty.lossrec"
    Recorder(path).close()
    assert path.read_bytes() == b"LOSSREC1"
    assert list(read_recording(path)) == []


def test_frame_count_limits(tmp_path):
    with Recorder(tmp_path / "d.lossrec") as rec:
        with pytest.raises(ValueError, match="1 to 16"):
            rec.record_frames([])
        with pytest.raises(ValueError, match="1 to 16"):
            rec.record_frames([b"x"] * 17)
        rec.record_frames([b"x"] * 16)


def _three_records(tmp_path):
    path = tmp_path / "e.lossrec"
    with Recorder(path) as rec:
        for i in range(3):
            rec.record_frames([b"header%d" % i, b"\x00" * 100], receive_time_ns=i)
    data = path.read_bytes()
    record_size = 8 + 4 + 2 * 8 + 7 + 100 + 4
    assert len(data) == 8 + 3 * record_size
    return path, data, record_size


def _read_until_error(path):
    good = []
    with pytest.raises(RecordingError) as info:
        for item in read_recording(path):
            good.append(item)
    return good, info.value


@pytest.mark.parametrize("where", ["time", "count", "length", "frame", "crc"])
def test_damage_is_detected_with_its_offset(tmp_path, where):
    path, data, size = _three_records(tmp_path)
    second = 8 + size
    flip = {"time": 0, "count": 8, "length": 12 + 3, "frame": 12 + 16 + 50, "crc": size - 1}[where]
    damaged = bytearray(data)
    damaged[second + flip] ^= 0x01 if where != "length" else 0x40
    path.write_bytes(bytes(damaged))
    good, error = _read_until_error(path)
    assert len(good) == 1 and good[0][0] == 0
    assert error.offset == second and error.good_records == 1
    assert f"byte {second}" in str(error) and "1 good records" in str(error)


@pytest.mark.parametrize("cut", [1, 5, 12, 20, 40, 100, 130])
def test_truncation_is_detected_with_its_offset(tmp_path, cut):
    path, data, size = _three_records(tmp_path)
    path.write_bytes(data[:8 + 2 * size + cut])
    good, error = _read_until_error(path)
    assert [t for t, _ in good] == [0, 1]
    assert error.offset == 8 + 2 * size and error.good_records == 2
    assert "truncated" in error.problem


def test_bad_magic(tmp_path):
    path = tmp_path / "f.lossrec"
    path.write_bytes(b"LOSSREC2" + b"\x00" * 20)
    good, error = _read_until_error(path)
    assert good == [] and error.offset == 0


def test_absurd_frame_length_is_not_allocated(tmp_path):
    path = tmp_path / "g.lossrec"
    path.write_bytes(b"LOSSREC1" + struct.pack("<QIQ", 0, 1, 2**62) + b"abc")
    _, error = _read_until_error(path)
    assert error.offset == 8 and "truncated" in error.problem
