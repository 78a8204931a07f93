"""The profile golden cases (Tests/Fixtures/profiles) are what their references compute today:
scripts/make_profile_golden.py --check rebuilds every case (the mmdet and ssd.pytorch
transcriptions, torchvision's own compute_loss, torch's sort order) and compares."""

from __future__ import annotations

import subprocess
import sys

from lossd_testkit import repo_root
from lossd_testkit_frameworks import require


def test_profile_golden_cases_are_current():
    require("torch")
    require("torchvision")
    done = subprocess.run([sys.executable, str(repo_root() / "scripts" / "make_profile_golden.py"), "--check"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_transcriptions_agree_with_a_direct_reading_of_their_rules():
    """Independent of the transcriptions' line order: mmdet's avg_factor and cap, ssd.pytorch's
    union of positives and negatives, checked on a batch small enough to count by hand."""
    import numpy as np

    sys.path.insert(0, str(repo_root() / "clients" / "python" / "tests"))
    from references import mmdet_ssd_loss, ssd_pytorch_loss

    # One image, 6 anchors, 2 classes + background (mmdet: background is label 2, the last).
    scores = np.log(np.array([[1, 1, 8], [1, 1, 2], [3, 1, 1], [1, 5, 1], [1, 1, 1], [2, 1, 1]], float))
    labels = np.array([0, 2, 2, 1, 2, 2])  # two positives (anchors 0 and 3), four negatives
    ce = -np.log(np.exp(scores[np.arange(6), labels]) / np.exp(scores).sum(1))
    zeros = np.zeros((6, 4))
    weights = np.zeros((6, 4))
    out = mmdet_ssd_loss.loss_by_feat([scores], [zeros], [labels], [np.ones(6)], [zeros], [weights], num_classes=2)
    assert out["avg_factor"] == 2 and out["negatives"] == 4  # k = min(3 * 2, 4)
    assert np.isclose(out["loss_cls"], ce.sum() / 2)

    conf = scores[:, [2, 0, 1]][None]  # background first for ssd.pytorch
    conf_t = np.where(labels == 2, 0, labels + 1)[None]
    ref = ssd_pytorch_loss.multibox_loss(np.zeros((1, 6, 4)), conf, np.zeros((1, 6, 4)), conf_t)
    assert ref["num_pos"] == 2 and ref["negatives"] == 4  # k = min(6, N - 1 = 5): every negative, no positive twice
    assert np.isclose(ref["loss_c"], ce.sum() / 2)


def test_a_missing_framework_fails_unless_skipping_is_asked(monkeypatch):
    """The rule of lossd_testkit_frameworks.require: fail by default, skip with LOSSD_SKIP_FRAMEWORKS=1."""
    import pytest

    monkeypatch.delenv("LOSSD_SKIP_FRAMEWORKS", raising=False)
    with pytest.raises(pytest.fail.Exception, match="LOSSD_SKIP_FRAMEWORKS=1 to skip"):
        require("lossd_no_such_framework")
    monkeypatch.setenv("LOSSD_SKIP_FRAMEWORKS", "1")
    with pytest.raises(pytest.skip.Exception, match="skipped because LOSSD_SKIP_FRAMEWORKS=1"):
        require("lossd_no_such_framework")
