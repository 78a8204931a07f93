"""What the framework tests share: the rule for a missing framework, a tiny torchvision SSD and
random inputs of torchvision's ``SSD.compute_loss``.

The framework packages (torch, torchvision, tensorflow) are test-only dependencies that
``make test`` installs (``scripts/install-deps.sh --frameworks``). A test that needs one and
cannot import it FAILS, so that a broken install never passes as skipped tests; set
``LOSSD_SKIP_FRAMEWORKS=1`` to skip those tests instead (for a quick local run without them).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import Any, List, Sequence

import numpy as np
import pytest

SKIP_VARIABLE = "LOSSD_SKIP_FRAMEWORKS"


def require(module: str, load: bool = True) -> Any:
    """Imports ``module`` or fails the test (skips it when LOSSD_SKIP_FRAMEWORKS=1).

    With ``load=False`` it only checks that the module is installed, without importing it: for
    TensorFlow, which the tests run in subprocesses only. TensorFlow and torch must never be
    imported into one process: together they abort the interpreter at import.
    """
    try:
        if not load:
            if importlib.util.find_spec(module) is None:
                raise ImportError(f"No module named {module!r}")
            return None
        return importlib.import_module(module)
    except ImportError as error:
        message = (f"{module} is not installed ({error}); `make test` installs it "
                   f"(scripts/install-deps.sh --frameworks)")
        if os.environ.get(SKIP_VARIABLE) == "1":
            pytest.skip(f"{message}; skipped because {SKIP_VARIABLE}=1")
        pytest.fail(f"{message}; set {SKIP_VARIABLE}=1 to skip the framework tests instead", pytrace=False)


def tiny_torchvision_ssd(classes: int, size: int = 64):
    """The example's tiny torchvision SSD (Examples/torchvision_ssd.py): no downloaded weights."""
    import sys
    from pathlib import Path

    examples = str(Path(__file__).resolve().parents[3] / "Examples")
    if examples not in sys.path:
        sys.path.insert(0, examples)
    from torchvision_ssd import tiny_ssd

    return tiny_ssd(classes, size)


def torchvision_loss_inputs(rng: np.random.Generator, B: int, N: int, C: int, positive_fractions: Sequence[float],
                            scale: float = 3.0, dtype: str = "float32", ties: bool = False, huge: bool = False):
    """Random ``(targets, head_outputs, anchors, matched_idxs)`` for ``SSD.compute_loss``.

    Image b has about ``positive_fractions[b]`` of its N anchors matched to one of three targets.
    ``dtype`` float16 keeps every value representable in float16 (a matched anchor is its
    target's box, so its encoded offsets are exactly 0), so that a float16 message carries the
    same numbers torchvision computed with. ``ties`` puts the logits on a grid of 0.5 (many equal
    losses); ``huge`` spreads them to +-60 (float32 losses of exactly 0).
    """
    import torch

    logits = rng.normal(0, scale, (B, N, C))
    if ties:
        logits = np.round(logits * 2) / 2
    if huge:
        logits = np.where(rng.random((B, N, C)) < 0.5, 60.0, -60.0) + rng.normal(0, 1, (B, N, C))
    logits = logits.astype(dtype).astype(np.float32)
    regression = rng.normal(0, 1, (B, N, 4)).astype(dtype).astype(np.float32)
    anchors: List[Any] = []
    targets: List[Any] = []
    matched: List[Any] = []
    for b in range(B):
        xy = rng.uniform(0, 50, (N, 2))
        wh = rng.uniform(4, 20, (N, 2))
        boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
        count = 3
        gxy = rng.uniform(0, 40, (count, 2))
        gwh = rng.uniform(8, 24, (count, 2))
        gt = np.concatenate([gxy, gxy + gwh], 1).astype(np.float32)
        indices = np.full(N, -1)
        positive = rng.random(N) < positive_fractions[b]
        indices[positive] = rng.integers(0, count, positive.sum())
        if dtype == "float16":
            boxes[positive] = gt[indices[positive]]
        anchors.append(torch.from_numpy(boxes))
        targets.append({"boxes": torch.from_numpy(gt), "labels": torch.from_numpy(rng.integers(1, C, count))})
        matched.append(torch.from_numpy(indices))
    head_outputs = {"cls_logits": torch.from_numpy(logits), "bbox_regression": torch.from_numpy(regression)}
    return targets, head_outputs, anchors, matched
