"""Where `send` goes in a PyTorch training loop. Not runnable on its own: it shows the lines to
add to the loop of an SSD model.

If the model produces class scores and offsets separately, send the compact layout: labels
(int32 [B, N]: -1 ignored, 0 background, 1..C-1 object), ground-truth offsets [B, N, 4], scores
[B, N, C] and predicted offsets [B, N, 4]. Scores are logits here, so say so.
"""

import torch

from lossd_client import LossClient

lossd = LossClient(">tcp://127.0.0.1:5555", run="ssd300-coco", split="train")


def train(model, optimizer, criterion, loader, epochs):
    step = 0
    for epoch in range(epochs):
        for images, labels, gt_offsets in loader:
            scores, pred_offsets = model(images)  # [B, N, C] logits, [B, N, 4]
            loss = criterion(scores, pred_offsets, labels, gt_offsets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                lossd.send_compact(
                    labels.to(torch.int32).cpu().numpy(),
                    gt_offsets.half().cpu().numpy(),                  # one dtype for the three float tensors
                    scores.detach().half().cpu().numpy(),       # float16 halves the bytes
                    pred_offsets.detach().half().cpu().numpy(),
                    step=step, epoch=epoch, scores_kind="logits",
                )
            step += 1
    lossd.close()
