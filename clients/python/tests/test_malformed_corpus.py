"""The malformed-input corpus (Tests/Fixtures/malformed, docs/TESTING.md) against a real sidecar.

Every corpus message is sent to a running ``lossd sidecar``, each followed by a good golden batch.
A plain PULL sink must get exactly one record per message, in order: the malformed message's error
record with the expected code (and its seq when the header could be read that far), then the golden
batch's loss record, exact to 1e-4. The sidecar must still be running at the end, and its last log
line must account for every message. The ``too_large`` cases run on a second sidecar started with a
small ``--max-message-bytes``.

A second test checks that headers claiming enormous tensors over tiny frames are rejected without the
sidecar's peak resident memory (VmHWM) growing: nothing is sized by a header before the frames
confirm it.
"""

from __future__ import annotations

import json
import signal
import struct
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
import zmq

from lossd_testkit import check_loss_record, golden_names, load_golden, repo_root

TIMEOUT_MS = 30_000
GOLDEN_RUN, GOLDEN_SOURCE = "corpus", "golden"


def corpus_dir() -> Path:
    return repo_root() / "Tests" / "Fixtures" / "malformed"


def read_frames(path: Path) -> List[bytes]:
    """A ``.frames`` file: each frame a u32 little-endian length, then its bytes."""
    data = path.read_bytes()
    frames, offset = [], 0
    while offset < len(data):
        (length,) = struct.unpack_from("<I", data, offset)
        offset += 4
        assert offset + length <= len(data), f"{path.name}: a frame is cut short"
        frames.append(data[offset:offset + length])
        offset += length
    return frames


def load_corpus() -> List[Dict[str, Any]]:
    manifest = json.loads((corpus_dir() / "manifest.json").read_text())
    assert manifest["format"] == 1
    cases = manifest["cases"]
    for case in cases:
        case["frames"] = read_frames(corpus_dir() / case["file"])
    return cases


def golden_frames(case: Dict[str, Any], seq: int) -> List[bytes]:
    header = {
        "v": 1, "batch": case["batch"], "boxes": case["boxes"], "classes": case["classes"],
        "dtype": case["dtype"], "layout": "keras", "scores": case["params"]["scores"],
        "run": GOLDEN_RUN, "source": GOLDEN_SOURCE, "seq": seq,
        "loss": {k: v for k, v in case["params"].items() if k != "scores"},
    }
    return [json.dumps(header).encode(), case["y_true"].tobytes(), case["y_pred"].tobytes()]


def message_bytes(frames: List[bytes]) -> int:
    return sum(len(f) for f in frames)


class Wire:
    """A PUSH socket to a sidecar and the PULL socket its records come back on, with timeouts."""

    def __init__(self) -> None:
        self.ctx = zmq.Context()
        self.pull = self.ctx.socket(zmq.PULL)
        self.pull.setsockopt(zmq.LINGER, 0)
        self.pull.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
        self.pull.bind("tcp://127.0.0.1:*")
        self.push = self.ctx.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 0)
        self.push.setsockopt(zmq.SNDTIMEO, TIMEOUT_MS)
        self.output = ">" + self.pull.getsockopt_string(zmq.LAST_ENDPOINT)

    def connect(self, address: str) -> None:
        self.push.connect(address)

    def records(self, count: int) -> List[Dict[str, Any]]:
        records = []
        for _ in range(count):
            try:
                records.append(json.loads(self.pull.recv()))
            except zmq.Again:
                break
        return records

    def close(self) -> None:
        self.push.close(linger=0)
        self.pull.close(linger=0)
        self.ctx.term()


def run_corpus(start_sidecar, cases: List[Dict[str, Any]], goldens: List[Dict[str, Any]],
               extra: Tuple[str, ...] = ()) -> None:
    """Sends each case followed by a golden batch to a fresh sidecar and checks every record."""
    messages: List[Tuple[List[bytes], Tuple]] = []
    for index, case in enumerate(cases):
        golden = goldens[index % len(goldens)]
        messages.append((case["frames"], ("error", case)))
        messages.append((golden_frames(golden, index), ("loss", golden, index)))
    wire = Wire()
    sidecar = None
    try:
        sidecar = start_sidecar(wire.output, workers=2, extra=extra)
        wire.connect(sidecar.input_address)
        for frames, _ in messages:
            wire.push.send_multipart(frames)
        records = wire.records(len(messages))
        assert len(records) == len(messages), (
            f"{len(records)} records for {len(messages)} messages within {TIMEOUT_MS} ms each; "
            f"stderr:\n{sidecar.stderr()[-4000:]}")
        assert wire.pull.poll(500) == 0, f"an extra record: {wire.pull.recv()}"

        failures = []
        for i, (record, (_, expected)) in enumerate(zip(records, messages)):
            try:
                assert record["v"] == 1
                if expected[0] == "loss":
                    _, golden, seq = expected
                    assert (record.get("source"), record.get("seq")) == (GOLDEN_SOURCE, seq), \
                        f"expected golden seq {seq}, got {record} (out of order?)"
                    check_loss_record(record, golden)
                else:
                    case = expected[1]
                    assert record["kind"] == "error", f"expected an error record {case['code']}, got {record}"
                    assert record["code"] == case["code"], \
                        f"code {record['code']!r} != {case['code']!r}: {record.get('error')}"
                    assert isinstance(record.get("error"), str) and record["error"].strip(), record
                    assert record.get("source") != GOLDEN_SOURCE, f"a golden batch's record in its place: {record}"
                    assert record.get("seq") == case["seq"], f"seq {record.get('seq')} != {case['seq']}"
            except AssertionError as error:
                what = expected[1]["name"]
                failures.append(f"message {i} ({what}): {error}")
        assert not failures, "\n".join(failures)

        assert sidecar.running(), f"the sidecar exited ({sidecar.proc.returncode}); stderr:\n{sidecar.stderr()[-4000:]}"
        assert sidecar.stop(signal.SIGTERM) == 0, sidecar.stderr()[-4000:]
        assert sidecar.counts() == (len(messages), len(cases), len(cases)), sidecar.stderr()[-2000:]
    finally:
        wire.close()


def test_every_corpus_message_gets_its_error_and_the_sidecar_goes_on(start_sidecar):
    cases = [case for case in load_corpus() if case["max_message_bytes"] is None]
    assert len(cases) >= 40
    goldens = [load_golden(name) for name in golden_names()]
    run_corpus(start_sidecar, cases, goldens)


def test_too_large_cases_under_a_small_max_message_bytes(start_sidecar):
    cases = [case for case in load_corpus() if case["max_message_bytes"] is not None]
    assert cases and all(case["code"] == "too_large" for case in cases)
    limits = {case["max_message_bytes"] for case in cases}
    assert len(limits) == 1
    limit = limits.pop()
    goldens = [g for g in (load_golden(name) for name in golden_names()) if message_bytes(golden_frames(g, 0)) < limit]
    assert goldens, f"no golden case fits under {limit} bytes"
    run_corpus(start_sidecar, cases, goldens, extra=("--max-message-bytes", str(limit)))


def vm_hwm_kib(pid: int) -> int:
    """The peak resident set size of a process, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"/proc/{pid}/status has no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_headers_claiming_huge_tensors_allocate_nothing(start_sidecar):
    claims = [case for case in load_corpus() if case["huge_claim"]]
    assert len(claims) >= 2
    goldens = [load_golden(name) for name in golden_names()]
    wire = Wire()
    try:
        sidecar = start_sidecar(wire.output, workers=2)
        wire.connect(sidecar.input_address)
        # Warm up: every golden batch once, so workspaces and buffers reach their working size.
        for seq, golden in enumerate(goldens):
            wire.push.send_multipart(golden_frames(golden, seq))
        assert len(wire.records(len(goldens))) == len(goldens)
        before = vm_hwm_kib(sidecar.pid)

        rounds = 20
        for _ in range(rounds):
            for case in claims:
                wire.push.send_multipart(case["frames"])
        records = wire.records(rounds * len(claims))
        assert len(records) == rounds * len(claims)
        assert all(r["kind"] == "error" and r["code"] == "bad_frames" for r in records), records[:3]
        after = vm_hwm_kib(sidecar.pid)

        claimed = max(message_bytes(c["frames"]) for c in claims)
        assert after - before <= 16 * 1024, (
            f"VmHWM grew from {before} KiB to {after} KiB while rejecting {rounds * len(claims)} messages "
            f"of at most {claimed} bytes that claim huge tensors")
        assert sidecar.running()
        assert sidecar.stop(signal.SIGTERM) == 0, sidecar.stderr()[-4000:]
    finally:
        wire.close()
