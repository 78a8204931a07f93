"""lossd's torchvision profile against torchvision's own ``SSD.compute_loss`` (needs torch and
torchvision: `make test` installs them; see lossd_testkit_frameworks for the skip rule).

Each batch is what ``compute_loss`` receives (head outputs, matched anchors, targets), turned
into a compact message by ``lossd_client.torch.torchvision_batch`` and computed by
``lossd replay``; lossd's classification, localization and loss must be within 1e-5 relative of
torchvision's, its positives equal torchvision's foreground count and its negatives the boxes
torchvision's background mask holds.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from lossd_testkit import run_replay
from lossd_testkit_frameworks import require, tiny_torchvision_ssd, torchvision_loss_inputs

# (name, B, N, C, positive fraction per image, options)
CASES = [
    ("random", 4, 8732, 21, [0.01, 0.02, 0.005, 0.03], {}),
    ("small-random", 3, 300, 6, [0.05, 0.1, 0.02], {}),
    ("no-positives", 2, 500, 5, [0.0, 0.0], {}),
    ("one-image-empty", 3, 400, 5, [0.1, 0.0, 0.05], {}),
    ("whole-image-positive", 2, 200, 4, [1.0, 0.05], {}),
    ("quarter-to-third", 3, 1000, 6, [0.27, 0.3, 0.32], {}),
    ("over-a-third", 2, 600, 5, [0.4, 0.6], {}),
    ("crowded-8732", 2, 8732, 21, [0.28, 0.01], {}),
    ("ties", 3, 400, 4, [0.3, 0.1, 0.0], {"ties": True}),
    ("huge-logits", 2, 500, 5, [0.1, 0.3], {"huge": True}),
    ("float16", 3, 1000, 8, [0.05, 0.29, 0.0], {"dtype": "float16"}),
    ("float16-huge", 2, 400, 4, [0.2, 0.05], {"dtype": "float16", "huge": True}),
]


def torchvision_reference(model, inputs):
    """``compute_loss``'s two numbers, its foreground count and the size of its background mask
    (computed by compute_loss's own lines)."""
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        losses = model.compute_loss(*inputs)
        targets, head_outputs, _, matched_idxs = inputs
        logits = head_outputs["cls_logits"]
        cls_targets = torch.stack([torch.where(m >= 0, t["labels"][m.clamp(min=0)], torch.zeros_like(m))
                                   for t, m in zip(targets, matched_idxs)])
        cls_loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), cls_targets.reshape(-1),
                                   reduction="none").view(cls_targets.size())
        foreground = cls_targets > 0
        num_negative = model.neg_to_pos_ratio * foreground.sum(1, keepdim=True)
        negative_loss = cls_loss.clone()
        negative_loss[foreground] = -float("inf")
        _, idx = negative_loss.sort(1, descending=True)
        background = idx.sort(1)[1] < num_negative
    return (float(losses["classification"]), float(losses["bbox_regression"]),
            int(sum(int((m >= 0).sum()) for m in matched_idxs)), int(background.sum()))


def close(actual: float, expected: float, rel: float = 1e-5) -> bool:
    return abs(actual - expected) <= rel * max(abs(expected), 1e-6)


@pytest.mark.parametrize("name,B,N,C,fractions,options", CASES, ids=[case[0] for case in CASES])
def test_torchvision_profile_equals_compute_loss(lossd_bin, tmp_path, name, B, N, C, fractions, options):
    torch = require("torch")
    require("torchvision")
    from lossd_client import Recorder
    from lossd_client.torch import torchvision_batch

    dtype = options.get("dtype", "float32")
    torch.manual_seed(7)
    model = tiny_torchvision_ssd(C)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    batches = [torchvision_loss_inputs(rng, B, N, C, fractions, scale=3.0, dtype=dtype, ties=options.get("ties", False),
                                       huge=options.get("huge", False)) for _ in range(2)]
    recording = tmp_path / "torchvision.lossrec"
    with Recorder(recording, run=name, profile="torchvision") as recorder:
        for inputs in batches:
            labels, gt, logits, pred = (t.detach().numpy() for t in torchvision_batch(model, *inputs))
            np_dtype = np.dtype(dtype)
            assert np.array_equal(logits.astype(np_dtype).astype(np.float32), logits), "inputs not representable"
            recorder.record_compact(labels, gt.astype(np_dtype), logits.astype(np_dtype), pred.astype(np_dtype),
                                    scores_kind="logits")
    records, summary, _ = run_replay(lossd_bin, recording)
    assert summary["errors"] == {} and len(records) == len(batches), records
    for inputs, record in zip(batches, records):
        classification, localization, foreground, background = torchvision_reference(model, inputs)
        assert record["profile"] == "torchvision"
        assert record["params"] == {"neg_pos_ratio": 3, "n_neg_min": 0, "alpha": 1.0, "mining": "image",
                                    "scores": "logits"}
        assert close(record["classification"], classification), (record["classification"], classification)
        assert close(record["localization"], localization), (record["localization"], localization)
        assert close(record["loss"], classification + localization)
        assert abs(sum(record["per_item"]) - record["loss"]) <= 1e-9 * max(1.0, record["loss"])
        assert record["positives"] == foreground
        assert record["negatives"] == background


def test_hook_sends_what_compute_loss_receives_and_changes_nothing(start_sidecar):
    """hook_torchvision_ssd: the model's losses and gradients are unchanged, and lossd's record
    of the batch equals them."""
    torch = require("torch")
    require("torchvision")
    import zmq

    from lossd_client import LossClient
    from lossd_client.torch import hook_torchvision_ssd
    from lossd_testkit import collect

    context = zmq.Context()
    sink = context.socket(zmq.PULL)
    port = sink.bind_to_random_port("tcp://127.0.0.1")
    sidecar = start_sidecar(f">tcp://127.0.0.1:{port}")
    try:
        torch.manual_seed(3)
        plain = tiny_torchvision_ssd(5)
        hooked = tiny_torchvision_ssd(5)
        hooked.load_state_dict(plain.state_dict())
        images = [torch.rand(3, 64, 64) for _ in range(2)]
        targets = [{"boxes": torch.tensor([[4.0, 4.0, 40.0, 30.0]]), "labels": torch.tensor([2])},
                   {"boxes": torch.tensor([[10.0, 20.0, 60.0, 60.0], [0.0, 0.0, 20.0, 20.0]]),
                    "labels": torch.tensor([1, 4])}]
        plain.train()
        hooked.train()
        with LossClient(sidecar.input, run="hook") as client:
            hook = hook_torchvision_ssd(hooked, client, dtype=torch.float32)
            expected = plain(images, targets)
            got = hooked(images, targets)
            sum(expected.values()).backward()
            sum(got.values()).backward()
            hook.remove()
            assert "compute_loss" not in hooked.__dict__
        for key in expected:
            assert torch.equal(expected[key], got[key])
        for a, b in zip(plain.parameters(), hooked.parameters()):
            assert torch.equal(a.grad, b.grad)
        [record] = collect(lambda timeout=None: sink.recv_json() if sink.poll(int((timeout or 1) * 1000)) else None,
                           1, timeout=30)
    finally:
        sink.close(linger=0)
        context.term()
    total = float((got["classification"] + got["bbox_regression"]).detach())
    assert record["kind"] == "loss" and record["profile"] == "torchvision" and record["run"] == "hook"
    assert close(record["loss"], total) and close(record["classification"], float(got["classification"].detach()))
