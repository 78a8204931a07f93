#!/usr/bin/env python3
"""Generates the malformed-input corpus in Tests/Fixtures/malformed/ (numpy only).

Every case is one batch message that lossd must reject with a known error code (SPEC §2). The
corpus is the test fixture of three checks: the Swift test that feeds each message to
BatchProcessor, the end-to-end test that sends each to a real `lossd sidecar`
(clients/python/tests/test_malformed_corpus.py), and the seed corpus of the decoder fuzzer
(Fuzz/). docs/TESTING.md describes the format:

- ``NAME.frames``: one message, as its frames, each a u32 little-endian byte length followed by
  that many bytes; the file holds nothing else. (This is also the framing convention of the
  decoder fuzzer, so the files are seed inputs as they are.)
- ``manifest.json``: ``{"format": 1, "cases": [...]}``, one entry per case, in a fixed order:
  ``name``, ``file``, ``code`` (the expected error code), ``seq`` (the seq the error record must
  echo, or null when the header cannot be read that far), ``max_message_bytes`` (the limit the
  case must run under, or null for lossd's default), ``huge_claim`` (true when the header claims
  tensors far larger than its frames: nothing may be allocated for them) and ``about``.

Run it from anywhere: ``python3 scripts/make_malformed_corpus.py``. The output is deterministic,
so a rerun on an unchanged script changes no file; it removes ``*.frames`` files it no longer makes.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "Tests" / "Fixtures" / "malformed"

#: The limit the too_large cases run under (lossd's default is 1 GiB). The good golden batches sent
#: between them in the end-to-end test must fit under it.
SMALL_LIMIT = 256 << 10
#: lossd's header limit (WireLimits.maxHeaderBytes).
MAX_HEADER_BYTES = 64 << 10
#: Labels in malformed headers, so an error record can be matched to its case.
RUN, SPLIT, SOURCE = "corpus", "malformed", "generator"

B, N, C = 2, 8, 4  # the shape of the base batch every tensor case starts from
WIDTH = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}


def frames_file(frames: Sequence[bytes]) -> bytes:
    """A message in the corpus format: each frame as u32 LE length + bytes."""
    return b"".join(struct.pack("<I", len(f)) + bytes(f) for f in frames)


def header(seq: Optional[int] = None, **changes: Any) -> Dict[str, Any]:
    """A valid keras float32 header for the base batch, with ``changes`` applied (None removes a key)."""
    h: Dict[str, Any] = {"v": 1, "batch": B, "boxes": N, "classes": C, "dtype": "float32", "layout": "keras",
                         "run": RUN, "split": SPLIT, "source": SOURCE, "seq": seq}
    for key, value in changes.items():
        if value is None:
            h.pop(key, None)
        else:
            h[key] = value
    return h


def encode(h: Any) -> bytes:
    return json.dumps(h, separators=(",", ":"), allow_nan=True).encode("utf-8")


def base_keras(dtype: str = "float32"):
    """(y_true, y_pred) float64 arrays [B, N, C+12] of a small valid batch: box (0, 0) is class 1,
    box (1, 2) class 3, box (1, 7) ignored, every other box background."""
    rng = np.random.default_rng(20240501)
    y_true = np.zeros((B, N, C + 12))
    y_true[:, :, 0] = 1.0
    y_true[0, 0, :C] = [0, 1, 0, 0]
    y_true[1, 2, :C] = [0, 0, 0, 1]
    y_true[1, 7, :C] = 0
    y_true[:, :, C:C + 4] = rng.uniform(-1, 1, (B, N, 4))
    y_pred = rng.uniform(0.05, 1.0, (B, N, C + 12))
    y_pred[:, :, :C] /= y_pred[:, :, :C].sum(axis=-1, keepdims=True)
    return y_true, y_pred


def base_compact():
    """(labels int32 [B, N], gt_offsets, scores, pred_offsets) float64 arrays of the same batch."""
    y_true, y_pred = base_keras()
    labels = np.where(y_true[:, :, :C].sum(axis=-1) == 0, -1, y_true[:, :, :C].argmax(axis=-1)).astype("<i4")
    return labels, y_true[:, :, C:C + 4].copy(), y_pred[:, :, :C].copy(), y_pred[:, :, C:C + 4].copy()


def tensor(values: np.ndarray, dtype: str = "float32") -> bytes:
    """Little-endian bytes of ``values`` in a wire dtype (bfloat16: the top half of float32)."""
    if dtype == "bfloat16":
        bits = np.ascontiguousarray(values, dtype="<f4").view("<u4") >> 16
        return bits.astype("<u2").tobytes()
    return np.ascontiguousarray(values, dtype={"float32": "<f4", "float16": "<f2", "float64": "<f8"}[dtype]).tobytes()


class Corpus:
    def __init__(self) -> None:
        self.cases: List[Dict[str, Any]] = []
        self.files: Dict[str, bytes] = {}

    @property
    def next_seq(self) -> int:
        return len(self.cases)

    def add(self, name: str, frames: Sequence[bytes], code: str, about: str, echo_seq: bool = True,
            max_message_bytes: Optional[int] = None, huge_claim: bool = False) -> None:
        assert name not in self.files, name
        self.files[name] = frames_file(frames)
        self.cases.append({
            "name": name, "file": f"{name}.frames", "code": code,
            "seq": self.next_seq if echo_seq else None,
            "max_message_bytes": max_message_bytes, "huge_claim": huge_claim, "about": about,
        })

    def keras(self, name: str, code: str, about: str, echo_seq: bool = True, **changes: Any) -> None:
        """A base keras float32 batch whose header has ``changes``."""
        y_true, y_pred = base_keras()
        changes.setdefault("seq", self.next_seq)
        self.add(name, [encode(header(**changes)), tensor(y_true), tensor(y_pred)], code, about, echo_seq=echo_seq)


def build() -> Corpus:
    corpus = Corpus()
    y_true, y_pred = base_keras()
    t32, p32 = tensor(y_true), tensor(y_pred)
    labels, gt, scores, pred = base_compact()
    compact_header = lambda seq, **c: header(seq, layout="compact", **c)  # noqa: E731
    compact_tensors = [labels.tobytes(), tensor(gt), tensor(scores), tensor(pred)]

    # --- the header frame itself: bad_header (or bad_frames when it is missing)
    corpus.add("empty-message", [b""], "bad_header", "a single empty frame: no header at all", echo_seq=False)
    corpus.add("empty-header", [b"", t32, p32], "bad_header", "an empty header frame before good tensors",
               echo_seq=False)
    corpus.add("header-only", [encode(header(corpus.next_seq))], "bad_frames",
               "a valid keras header and no tensor frames")
    corpus.add("seventeen-frames", [encode(header(corpus.next_seq))] + [t32] * 16, "bad_frames",
               "17 frames: one more than a recording can even hold")
    corpus.add("header-not-utf8", [encode(header(None)).replace(b'"corpus"', b'"corp\xff\xfeus"'), t32, p32],
               "bad_header", "a header whose run label holds the bytes FF FE", echo_seq=False)
    corpus.add("header-overlong-utf8", [encode(header(None)).replace(b'"generator"', b'"gen\xc0\xafrator"'), t32, p32],
               "bad_header", "an overlong UTF-8 encoding of '/' inside a string", echo_seq=False)
    corpus.add("header-surrogate-utf8", [encode(header(None)).replace(b'"generator"', b'"gen\xed\xa0\x80rator"'),
                                         t32, p32],
               "bad_header", "a UTF-8-encoded lone surrogate (CESU) inside a string", echo_seq=False)
    corpus.add("header-truncated-json", [encode(header(None))[:-7], t32, p32], "bad_header",
               "the header's JSON is cut short", echo_seq=False)
    corpus.add("header-json-array", [encode([1, 2, 2, 50, 4]), t32, p32], "bad_header",
               "the header is a JSON array", echo_seq=False)
    corpus.add("header-json-number", [b"1", t32, p32], "bad_header", "the header is the JSON number 1",
               echo_seq=False)
    corpus.add("header-json-string", [b'"v1"', t32, p32], "bad_header", "the header is a JSON string",
               echo_seq=False)
    corpus.add("header-json-null", [b"null", t32, p32], "bad_header", "the header is JSON null", echo_seq=False)
    corpus.add("header-trailing-garbage", [encode(header(None)) + b"}", t32, p32], "bad_header",
               "a valid object followed by another '}'", echo_seq=False)
    corpus.add("header-deep-nesting", [b'{"v":1,"x":' + b"[" * 20000 + b"]" * 20000 + b"}", t32, p32], "bad_header",
               "arrays nested 20000 deep inside an unknown key: the parser must not recurse that far",
               echo_seq=False)
    corpus.add("header-duplicate-key", [b'{"v":1,"v":1,"batch":2,"boxes":8,"classes":4}', t32, p32], "bad_header",
               "the key v appears twice", echo_seq=False)
    corpus.add("header-nan-literal", [encode(header(None, loss={"alpha": float("nan")})), t32, p32], "bad_header",
               "NaN is not JSON (what Python's json.dumps writes for float('nan'))", echo_seq=False)
    big = header(None)
    big["pad"] = "x" * (10 * 1000 * 1000)
    corpus.add("header-10mb", [encode(big), t32, p32], "bad_header",
               "a 10 MB header (the limit is 64 KiB); every other key is valid", echo_seq=False)
    over = header(None)
    over["pad"] = ""
    over["pad"] = "x" * (MAX_HEADER_BYTES + 1 - len(encode(over)))
    assert len(encode(over)) == MAX_HEADER_BYTES + 1
    corpus.add("header-64kib-plus-one", [encode(over), t32, p32], "bad_header",
               "a header of 65537 bytes, one over the limit", echo_seq=False)

    # --- the version
    corpus.keras("version-2", "unsupported_version", "v is 2", v=2)
    corpus.keras("version-0", "unsupported_version", "v is 0", v=0)
    corpus.keras("version-missing", "bad_header", "no v", v=None)
    corpus.keras("version-string", "bad_header", "v is the string \"1\"", v="1")
    corpus.keras("version-float", "bad_header", "v is 1.0, not an integer", v=1.0)

    # --- the dimensions
    for key in ("batch", "boxes", "classes"):
        corpus.keras(f"{key}-missing", "bad_header", f"no {key}", **{key: None})
        corpus.keras(f"{key}-negative", "bad_header", f"{key} is -1", **{key: -1})
        corpus.keras(f"{key}-string", "bad_header", f"{key} is a string", **{key: "8"})
    corpus.keras("batch-zero", "bad_header", "batch is 0", batch=0)
    corpus.keras("boxes-zero", "bad_header", "boxes is 0", boxes=0)
    corpus.keras("classes-one", "bad_header", "classes is 1: background alone is not a classifier", classes=1)
    corpus.keras("batch-fractional", "bad_header", "batch is 2.5", batch=2.5)
    corpus.add("batch-beyond-int64", [encode(header(corpus.next_seq)).replace(b'"batch":2', b'"batch":' + b"9" * 30),
                                      t32, p32],
               "bad_header", "batch is a 30-digit integer, beyond any 64-bit type")
    corpus.keras("size-overflows-64-bits", "bad_header", "B*N*(C+12)*4 overflows 64 bits (B = N = 2^31)",
                 batch=1 << 31, boxes=1 << 31)
    corpus.keras("count-overflows-64-bits", "bad_header", "B*N*C alone overflows 64 bits",
                 batch=1 << 40, boxes=1 << 40, classes=1 << 20)
    corpus.keras("compact-size-overflows", "bad_header", "compact: B*N*C*8 overflows 64 bits",
                 layout="compact", dtype="float64", batch=1 << 30, boxes=1 << 30, classes=1 << 10)

    # --- the settings
    corpus.keras("dtype-unknown", "bad_header", "dtype int8", dtype="int8")
    corpus.keras("dtype-number", "bad_header", "dtype is the number 32", dtype=32)
    corpus.keras("layout-unknown", "bad_header", "layout nchw", layout="nchw")
    corpus.keras("scores-unknown", "bad_header", "scores softmax", scores="softmax")
    corpus.keras("mining-unknown", "bad_header", "loss.mining random", loss={"mining": "random"})
    corpus.keras("loss-not-object", "bad_header", "loss is an array", loss=[3, 0, 1.0])
    corpus.keras("neg-pos-ratio-negative", "bad_header", "loss.neg_pos_ratio is -1", loss={"neg_pos_ratio": -1})
    corpus.keras("n-neg-min-negative", "bad_header", "loss.n_neg_min is -5", loss={"n_neg_min": -5})
    corpus.keras("neg-pos-ratio-fractional", "bad_header", "loss.neg_pos_ratio is 2.5", loss={"neg_pos_ratio": 2.5})
    corpus.keras("alpha-negative", "bad_header", "loss.alpha is -0.5", loss={"alpha": -0.5})
    corpus.add("alpha-infinite", [encode(header(corpus.next_seq, loss={"alpha": 1.0})).replace(b'"alpha":1.0',
                                                                                              b'"alpha":1e999'),
                                  t32, p32],
               "bad_header", "loss.alpha is 1e999, which overflows to +Inf")
    corpus.add("alpha-negative-infinite",
               [encode(header(corpus.next_seq, loss={"alpha": 1.0})).replace(b'"alpha":1.0', b'"alpha":-1e999'),
                t32, p32],
               "bad_header", "loss.alpha is -1e999 (-Inf)")
    corpus.keras("alpha-string", "bad_header", "loss.alpha is a string", loss={"alpha": "1"})

    # --- the grouping labels: bad_labels
    for key in ("run", "split", "source"):
        corpus.keras(f"{key}-129-bytes", "bad_labels", f"{key} is 129 ASCII bytes (the limit is 128)",
                     **{key: "r" * 129})
    corpus.keras("run-multibyte-over-limit", "bad_labels", "run is 43 three-byte characters: 43 characters, 129 bytes",
                 run="\u20ac" * 43)
    corpus.keras("split-not-string", "bad_labels", "split is a number", split=7)
    corpus.keras("epoch-negative", "bad_labels", "epoch is -1", epoch=-1)
    corpus.keras("step-fractional", "bad_labels", "step is 1.5", step=1.5)
    corpus.keras("seq-negative", "bad_labels", "seq is -3", echo_seq=False, seq=-3)

    # --- the frames: bad_frames
    corpus.add("keras-two-frames", [encode(header(corpus.next_seq)), t32], "bad_frames", "keras without y_pred")
    corpus.add("keras-four-frames", [encode(header(corpus.next_seq)), t32, p32, p32], "bad_frames",
               "keras with a third tensor")
    corpus.add("keras-with-compact-frames", [encode(header(corpus.next_seq))] + compact_tensors, "bad_frames",
               "a keras header before the four compact tensors")
    corpus.add("compact-with-keras-frames", [encode(compact_header(corpus.next_seq)), t32, p32], "bad_frames",
               "a compact header before the two keras tensors")
    for index, name in enumerate(("y_true", "y_pred")):
        for delta, word in ((-1, "short"), (1, "long")):
            frames = [encode(header(corpus.next_seq)), t32, p32]
            frames[index + 1] = frames[index + 1][:-1] if delta < 0 else frames[index + 1] + b"\0"
            corpus.add(f"keras-{name.replace('_', '-')}-one-byte-{word}", frames, "bad_frames",
                       f"keras frame {index + 1} ({name}) is one byte {word}")
    for index, name in enumerate(("labels", "gt_offsets", "scores", "pred_offsets")):
        for delta, word in ((-1, "short"), (1, "long")):
            frames = [encode(compact_header(corpus.next_seq))] + list(compact_tensors)
            frames[index + 1] = frames[index + 1][:-1] if delta < 0 else frames[index + 1] + b"\0"
            corpus.add(f"compact-{name.replace('_', '-')}-one-byte-{word}", frames, "bad_frames",
                       f"compact frame {index + 1} ({name}) is one byte {word}")
    corpus.add("float16-header-float32-frames", [encode(header(corpus.next_seq, dtype="float16")), t32, p32],
               "bad_frames", "dtype float16 but float32-sized frames")
    # Claims far beyond the frames: must be rejected before anything is sized by them.
    corpus.keras("huge-claim-keras", "bad_frames", "B = N = 2^20, C = 2^10 (4.5 PB per tensor) over 2 KB of frames",
                 batch=1 << 20, boxes=1 << 20, classes=1 << 10)
    corpus.cases[-1]["huge_claim"] = True
    corpus.add("huge-claim-compact", [encode(compact_header(corpus.next_seq, batch=1 << 20, boxes=1 << 20,
                                                            classes=1 << 10))] + compact_tensors,
               "bad_frames", "compact, B = N = 2^20, C = 2^10, over tiny frames", huge_claim=True)
    corpus.keras("plausible-claim-keras", "bad_frames",
                 "B = 64, N = 8732, C = 91 (230 MB per tensor, a size a process could allocate) over tiny frames",
                 batch=64, boxes=8732, classes=91)
    corpus.cases[-1]["huge_claim"] = True

    # --- the values: nonfinite, bad_labels
    specials = (("nan", float("nan")), ("inf", float("inf")), ("neg-inf", float("-inf")))
    for tensor_name in ("y_true", "y_pred"):
        for word, value in specials:
            yt, yp = base_keras()
            target = yt if tensor_name == "y_true" else yp
            target[0, 0, 1] = value  # a class entry of the positive box (0, 0)
            frames = [encode(header(corpus.next_seq)), tensor(yt), tensor(yp)]
            corpus.add(f"keras-{tensor_name.replace('_', '-')}-{word}", frames, "nonfinite",
                       f"keras: {word} in {tensor_name}[0, 0, 1], a class entry of a positive box")
    yt, yp = base_keras()
    yt[1, 2, C + 1] = np.nan
    corpus.add("keras-y-true-offset-nan", [encode(header(corpus.next_seq)), tensor(yt), tensor(yp)], "nonfinite",
               "keras: NaN in a box offset of the positive box (1, 2) in y_true")
    yt, yp = base_keras()
    yp[1, 2, C + 3] = np.inf
    corpus.add("keras-y-pred-offset-inf", [encode(header(corpus.next_seq)), tensor(yt), tensor(yp)], "nonfinite",
               "keras: +Inf in a box offset of the positive box (1, 2) in y_pred")
    yt, yp = base_keras()
    yp[0, 5, 0] = np.nan
    corpus.add("keras-logits-nan", [encode(header(corpus.next_seq, scores="logits")), tensor(yt), tensor(yp)],
               "nonfinite", "keras logits: NaN in a background box's logits")
    for dtype, (word, value) in zip(("float16", "bfloat16", "float64"), specials):
        yt, yp = base_keras()
        yp[0, 3, 0] = value
        corpus.add(f"keras-{dtype}-{word}", [encode(header(corpus.next_seq, dtype=dtype)), tensor(yt, dtype),
                                             tensor(yp, dtype)],
                   "nonfinite", f"keras {dtype}: {word} in y_pred[0, 3, 0]")
    for position, tensor_name in enumerate(("gt_offsets", "scores", "pred_offsets")):
        for word, value in specials:
            parts = [labels.copy(), gt.copy(), scores.copy(), pred.copy()]
            parts[position + 1][0, 0, 2] = value
            frames = [encode(compact_header(corpus.next_seq)), parts[0].tobytes()] + [tensor(p) for p in parts[1:]]
            corpus.add(f"compact-{tensor_name.replace('_', '-')}-{word}", frames, "nonfinite",
                       f"compact: {word} in {tensor_name}[0, 0, 2] (box (0, 0) is class 1)")
    for word, value in (("c", C), ("minus-two", -2), ("int32-min", -(1 << 31)), ("int32-max", (1 << 31) - 1)):
        bad = labels.copy()
        bad[1, 4] = value
        corpus.add(f"compact-label-{word}", [encode(compact_header(corpus.next_seq)), bad.tobytes()]
                   + compact_tensors[1:], "bad_labels", f"compact: label {value} at (1, 4); labels are -1..C-1")

    # --- the size limit: too_large, under a small max_message_bytes
    rng = np.random.default_rng(7)
    big_b, big_n = 4, 600
    y_big = rng.uniform(0, 1, (big_b, big_n, C + 12))
    frames = [encode(header(corpus.next_seq, batch=big_b, boxes=big_n)), tensor(y_big), tensor(y_big)]
    assert sum(map(len, frames)) > SMALL_LIMIT
    corpus.add("too-large-valid-batch", frames, "too_large",
               f"a valid keras batch of {sum(map(len, frames))} bytes over max_message_bytes = {SMALL_LIMIT}",
               echo_seq=False, max_message_bytes=SMALL_LIMIT)
    frames = [b"not even json", bytes(SMALL_LIMIT)]
    corpus.add("too-large-checked-first", frames, "too_large",
               "a garbage header with a large frame: the size is checked before the header is read",
               echo_seq=False, max_message_bytes=SMALL_LIMIT)
    frames = [encode(header(corpus.next_seq, batch=1, boxes=1)), bytes(4 * (C + 12)), bytes(4 * (C + 12)),
              bytes(SMALL_LIMIT)]
    padding = SMALL_LIMIT + 1 - sum(map(len, frames))
    frames[3] = bytes(len(frames[3]) + padding)
    assert sum(map(len, frames)) == SMALL_LIMIT + 1
    corpus.add("too-large-by-one-byte", frames, "too_large",
               f"{SMALL_LIMIT + 1} bytes in all, one over max_message_bytes", echo_seq=False,
               max_message_bytes=SMALL_LIMIT)
    corpus.add("too-large-10mb-header", [encode(big), t32, p32], "too_large",
               "the 10 MB header again, under the small limit: too_large wins over bad_header", echo_seq=False,
               max_message_bytes=SMALL_LIMIT)

    # --- a sender's identity and place in a job (docs/DISTRIBUTED.md): bad_labels
    corpus.keras("stream-empty", "bad_labels", "stream is an empty string", stream="")
    corpus.keras("stream-129-bytes", "bad_labels", "stream is 129 ASCII bytes (the limit is 128)", stream="s" * 129)
    corpus.keras("stream-number", "bad_labels", "stream is a number, not a string", stream=12345)
    corpus.keras("world-size-zero", "bad_labels", "world_size is 0", rank=0, world_size=0)
    corpus.keras("rank-equals-world-size", "bad_labels", "rank 4 of world_size 4 (ranks are 0..3)", rank=4,
                 world_size=4)
    corpus.keras("rank-negative", "bad_labels", "rank is -1", rank=-1, world_size=4)
    corpus.keras("rank-without-world-size", "bad_labels", "rank without world_size", rank=1)
    corpus.keras("world-size-without-rank", "bad_labels", "world_size without rank", world_size=8)
    corpus.keras("world-size-fractional", "bad_labels", "world_size is 2.0, not an integer", rank=0, world_size=2.0)
    return corpus


def main() -> int:
    corpus = build()
    OUT.mkdir(parents=True, exist_ok=True)
    wanted = set(corpus.files)
    for stale in OUT.glob("*.frames"):
        if stale.stem not in wanted:
            stale.unlink()
    for name, data in corpus.files.items():
        path = OUT / f"{name}.frames"
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
    manifest = {"format": 1,
                "about": "lossd's malformed-input corpus; made by scripts/make_malformed_corpus.py, "
                         "described in docs/TESTING.md",
                "cases": corpus.cases}
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    codes: Dict[str, int] = {}
    for case in corpus.cases:
        codes[case["code"]] = codes.get(case["code"], 0) + 1
    print(f"{len(corpus.cases)} cases in {OUT.relative_to(ROOT)}: "
          + ", ".join(f"{code} {count}" for code, count in sorted(codes.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
