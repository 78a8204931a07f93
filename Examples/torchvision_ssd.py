#!/usr/bin/env python3
"""Trains torchvision's SSD (a tiny backbone, no downloaded weights) for a few steps and sends
every batch's loss inputs to lossd, which computes the `torchvision` profile's loss from them.

    lossd serve &                                    # sidecar on 127.0.0.1:5555
    pip install torch torchvision -e clients/python
    python3 Examples/torchvision_ssd.py --steps 6

lossd_client.torch.hook_torchvision_ssd wraps the model's own compute_loss: every training
forward still returns torchvision's losses (and the gradients are torchvision's), and also sends
the head outputs, matched anchors and encoded targets in the compact layout. The record lossd
computes for each batch equals classification + bbox_regression as torchvision computed it.
Step 2 (--crowded-step) has an image whose positives exceed a quarter of its anchors, where
torchvision counts some positives twice; lossd does the same.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "clients" / "python"))
from lossd_client import LossClient  # noqa: E402
from lossd_client.torch import hook_torchvision_ssd  # noqa: E402


def tiny_ssd(classes: int, size: int = 64):
    """torchvision's SSD with a two-level convolutional backbone: a few hundred weights, nothing
    downloaded. ``classes`` counts the background (torchvision's label 0)."""
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
    from torchvision.models.detection.ssd import SSD

    class Backbone(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first = nn.Sequential(nn.Conv2d(3, 8, 3, stride=4, padding=1), nn.ReLU())
            self.second = nn.Sequential(nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU())
            self.out_channels = [8, 8]

        def forward(self, x):
            first = self.first(x)
            return collections.OrderedDict([("0", first), ("1", self.second(first))])

    return SSD(Backbone(), DefaultBoxGenerator([[2], [2, 3]]), (size, size), classes)


def model_anchors(model, size: int) -> torch.Tensor:
    """The anchor boxes the model matches against, in image coordinates."""
    with torch.no_grad():
        images, _ = model.transform([torch.zeros(3, size, size)])
        features = list(model.backbone(images.tensors).values())
        return model.anchor_generator(images, features)[0]


def batch(generator: torch.Generator, batch_size: int, classes: int, size: int, anchors: torch.Tensor, crowded: bool):
    """Random images with 1-3 random objects each; a crowded batch's first image holds a target
    on every twelfth anchor, so that about 30 % of its anchors match: more than a quarter, where
    torchvision takes some positives a second time, and fewer than a third, where which ones
    depends on the order its sort leaves them in."""
    images, targets = [], []
    for image in range(batch_size):
        images.append(torch.rand(3, size, size, generator=generator))
        if crowded and image == 0:
            boxes = anchors[::12].clamp(0, size)
            boxes = boxes[(boxes[:, 2] - boxes[:, 0] > 1) & (boxes[:, 3] - boxes[:, 1] > 1)]
        else:
            count = int(torch.randint(1, 4, (1,), generator=generator))
            corner = torch.rand(count, 2, generator=generator) * size * 0.6
            extent = 8 + torch.rand(count, 2, generator=generator) * size * 0.35
            boxes = torch.cat([corner, (corner + extent).clamp(max=size)], 1)
        labels = torch.randint(1, classes, (len(boxes),), generator=generator)
        targets.append({"boxes": boxes, "labels": labels})
    return images, targets


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default=">tcp://127.0.0.1:5555", help="lossd's input (lossd serve's default)")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--classes", type=int, default=5, help="classes, background included")
    parser.add_argument("--dtype", choices=("float32", "float16"), default="float32",
                        help="what the floats travel as (float16: half the bytes, values rounded)")
    parser.add_argument("--crowded-step", type=int, default=2, help="the step with a crowded image (-1: none)")
    parser.add_argument("--run", default="torchvision-example")
    parser.add_argument("--losses-out", help="write torchvision's per-step losses here (JSON lines)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    size = 64
    model = tiny_ssd(args.classes, size)
    anchors = model_anchors(model, size)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    client = LossClient(args.endpoint, run=args.run, source="torchvision-example")
    hook = hook_torchvision_ssd(model, client, dtype=getattr(torch, args.dtype))
    out = open(args.losses_out, "w") if args.losses_out else None
    model.train()
    for step in range(args.steps):
        images, targets = batch(generator, args.batch, args.classes, size, anchors, crowded=step == args.crowded_step)
        losses = model(images, targets)
        total = losses["classification"] + losses["bbox_regression"]
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        line = {"step": step, "loss": total.item(), "classification": losses["classification"].item(),
                "bbox_regression": losses["bbox_regression"].item(),
                "positive_fractions": hook.last_positive_fractions}
        print(f"step {step}: torchvision loss {line['loss']:.6f} (classification {line['classification']:.6f}, "
              f"bbox_regression {line['bbox_regression']:.6f}), most positive image "
              f"{max(line['positive_fractions']):.0%} of its anchors")
        if out:
            out.write(json.dumps(line) + "\n")
    if out:
        out.close()
    hook.remove()
    client.close()
    print(f"sent {hook.sent} batches to {args.endpoint} with profile torchvision ({args.dtype})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
