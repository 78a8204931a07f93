"""Unit tests of .lossrec writing and reading (docs/PROTOCOL.md §3), versions 1 and 2, byte by byte."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest

from lossd_client import BatchEncoder, Recorder, RecordingError, crc32c, read_recording
from lossd_client import recording as recording_module


def test_crc_is_the_zlib_iso_hdlc_crc32():
    assert zlib.crc32(b"123456789") == 0xCBF43926  # the standard check value of CRC-32/ISO-HDLC


def test_record_bytes_field_by_field_version_1(tmp_path):
    path = tmp_path / "a.lossrec"
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    with Recorder(path, version=1) as rec:
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


@pytest.mark.parametrize("version", [1, 2])
def test_read_recording_round_trip(tmp_path, version):
    path = tmp_path / "c.lossrec"
    messages = [(i * 1000, [bytes([i]) * i, b"h" * (i + 1)] + [b"f"] * (i % 3)) for i in range(1, 40)]
    with Recorder(path, version=version) as rec:
        assert rec.version == version
        for t, frames in messages:
            rec.record_frames(frames, receive_time_ns=t)
    assert path.read_bytes()[:8] == b"LOSSREC%d" % version
    assert list(read_recording(path)) == messages
    # append mode keeps what is there, in the file's version
    with Recorder(path, append=True) as rec:
        assert rec.version == version
        rec.record_frames([b"last"], receive_time_ns=1)
    assert list(read_recording(path)) == messages + [(1, [b"last"])]
    with pytest.raises(ValueError, match="cannot append"):
        Recorder(path, append=True, version=3 - version)


def test_version_2_is_the_default(tmp_path):
    with Recorder(tmp_path / "d.lossrec") as rec:
        assert rec.version == 2
    assert (tmp_path / "d.lossrec").read_bytes() == b"LOSSREC2" + bytes(56)


@pytest.mark.parametrize("version,empty", [(1, b"LOSSREC1"), (2, b"LOSSREC2" + bytes(56))])
def test_empty_recording(tmp_path, version, empty):
    path = tmp_path / "empty.lossrec"
    Recorder(path, version=version).close()
    assert path.read_bytes() == empty
    assert list(read_recording(path)) == []


def test_crc32c_matches_the_published_check_value_and_tensorboard():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC catalogue's check value of CRC-32C
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720, B.4
    assert crc32c(b"world", crc32c(b"hello ")) == crc32c(b"hello world")
    tensorboard_stub = pytest.importorskip("tensorboard.compat.tensorflow_stub.pywrap_tensorflow")
    data = np.random.default_rng(2).bytes(10_000)
    assert crc32c(data) == tensorboard_stub.crc32c(data)


def test_the_pure_python_crc32c_fallback_agrees(monkeypatch):
    data = np.random.default_rng(3).bytes(3000)
    fast = crc32c(data, 7)
    monkeypatch.setattr(recording_module, "_crc32c_fast", None)
    assert recording_module.crc32c(data, 7) == fast
    assert recording_module.crc32c(b"123456789") == 0xE3069283


def _pad(data):
    return data + bytes(-len(data) % 64)


def test_record_bytes_field_by_field_version_2(tmp_path):
    path = tmp_path / "v2.lossrec"
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    with Recorder(path) as rec:
        rec.record_frames([b"{\"v\":1}", b"", array], receive_time_ns=1_700_000_000_123_456_789)
        rec.record_frames([b"x" * 64], receive_time_ns=0)
    data = path.read_bytes()
    assert data[:64] == b"LOSSREC2" + bytes(56)
    pos = 64
    # record 1: header (24 + 3 * 8 + 4 = 52 bytes, padded to 64), frames of 7, 0, 24 bytes padded to 64, 0, 64
    payload = _pad(b"{\"v\":1}") + _pad(array.astype("<f4").tobytes())
    assert struct.unpack_from("<QQII", data, pos) == (64 + 128, 1_700_000_000_123_456_789, 3, crc32c(payload))
    assert struct.unpack_from("<3Q", data, pos + 24) == (7, 0, 24)
    assert struct.unpack_from("<I", data, pos + 48)[0] == crc32c(data[pos:pos + 48])
    assert data[pos + 52:pos + 64] == bytes(12)
    assert data[pos + 64:pos + 192] == payload
    pos += 192
    # record 2: one 64-byte frame, no padding
    assert struct.unpack_from("<QQII", data, pos) == (128, 0, 1, crc32c(b"x" * 64))
    assert struct.unpack_from("<Q", data, pos + 24)[0] == 64
    assert struct.unpack_from("<I", data, pos + 32)[0] == crc32c(data[pos:pos + 32])
    assert data[pos + 64:] == b"x" * 64
    assert len(data) == pos + 128


@pytest.mark.parametrize("version", [1, 2])
def test_frame_count_limits(tmp_path, version):
    with Recorder(tmp_path / "d.lossrec", version=version) as rec:
        with pytest.raises(ValueError, match="1 to 16"):
            rec.record_frames([])
        with pytest.raises(ValueError, match="1 to 16"):
            rec.record_frames([b"x"] * 17)
        rec.record_frames([b"x"] * 16)


def _three_records(tmp_path, version=1):
    path = tmp_path / "e.lossrec"
    with Recorder(path, version=version) as rec:
        for i in range(3):
            rec.record_frames([b"header%d" % i, b"\x00" * 100], receive_time_ns=i)
    data = path.read_bytes()
    record_size = 8 + 4 + 2 * 8 + 7 + 100 + 4 if version == 1 else 64 + 64 + 128
    start = 8 if version == 1 else 64
    assert len(data) == start + 3 * record_size
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


@pytest.mark.parametrize("contents,problem", [
    (b"LOSSRED1" + b"\x00" * 20, "does not start with"),
    (b"LOSSREC3" + b"\x00" * 80, "version 3"),
    (b"LOSSREC2" + b"\x00" * 20, "truncated file header"),
    (b"LOSSREC2" + b"\x00" * 55 + b"\x01", "reserved bytes"),
])
def test_bad_file_headers(tmp_path, contents, problem):
    path = tmp_path / "f.lossrec"
    path.write_bytes(contents)
    good, error = _read_until_error(path)
    assert good == [] and error.offset == 0 and problem in error.problem


@pytest.mark.parametrize("where", ["length", "count", "time", "header-crc", "header-padding", "frame", "frame-padding",
                                   "payload-crc"])
def test_version_2_damage_is_detected_with_its_offset(tmp_path, where):
    path, data, size = _three_records(tmp_path, version=2)
    second = 64 + size
    flip = {"length": 0, "count": 16, "time": 9, "payload-crc": 20, "header-crc": 44, "header-padding": 50,
            "frame": 64 + 3, "frame-padding": 128 + 120}[where]
    damaged = bytearray(data)
    damaged[second + flip] ^= 0x01
    path.write_bytes(bytes(damaged))
    good, error = _read_until_error(path)
    assert len(good) == 1 and good[0][0] == 0
    assert error.offset == second and error.good_records == 1


@pytest.mark.parametrize("cut", [1, 20, 40, 63, 64, 100, 200, 255])
def test_version_2_truncation_is_detected_with_its_offset(tmp_path, cut):
    path, data, size = _three_records(tmp_path, version=2)
    path.write_bytes(data[:64 + 2 * size + cut])
    good, error = _read_until_error(path)
    assert [t for t, _ in good] == [0, 1]
    assert error.offset == 64 + 2 * size and error.good_records == 2
    assert "truncated" in error.problem


def test_version_2_claims_are_checked_before_they_are_believed(tmp_path):
    # A consistent header (its CRC matches) that claims more bytes than the file has: truncated,
    # and nothing of that size is read or allocated.
    header = struct.pack("<QQII", 64 + 2**40, 0, 1, 0) + struct.pack("<Q", 2**40)
    header += struct.pack("<I", crc32c(header))
    path = tmp_path / "g2.lossrec"
    path.write_bytes(b"LOSSREC2" + bytes(56) + _pad(header) + b"abc")
    _, error = _read_until_error(path)
    assert error.offset == 64 and "truncated" in error.problem


FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[3] / "Tests" / "Fixtures" / "recordings-v1"


@pytest.mark.parametrize("name", ["Examples/sample.lossrec", "Tests/Fixtures/recordings-v1/synth-keras-float32.lossrec",
                                  "Tests/Fixtures/recordings-v1/synth-compact-float16.lossrec"])
def test_version_1_files_from_before_version_2_read_the_same(name):
    root = FIXTURES.parents[2]
    manifest = json.loads((FIXTURES / "manifest.json").read_text())[name]
    records = [{"receive_time_ns": t, "frames": [{"bytes": len(f), "crc32": zlib.crc32(f), "crc32c": crc32c(f)}
                                                 for f in frames]}
               for t, frames in read_recording(root / name)]
    assert records == manifest


def test_absurd_frame_length_is_not_allocated_version_1(tmp_path):
    path = tmp_path / "g.lossrec"
    path.write_bytes(b"LOSSREC1" + struct.pack("<QIQ", 0, 1, 2**62) + b"abc")
    _, error = _read_until_error(path)
    assert error.offset == 8 and "truncated" in error.problem
