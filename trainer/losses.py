"""Loss functions: class-weighted cross-entropy; Dice + BCE (binary) or Dice + CE (multi-class).

Dice is the soft Dice pooled over the batch (one ratio per foreground class, then their
mean), so an image without the class does not produce an undefined 0/0 term.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["balanced_weights", "ClassificationLoss", "BinarySegmentationLoss",
           "MultiClassSegmentationLoss", "make_loss"]

_EPS = 1.0


def balanced_weights(counts: Sequence[int]) -> list[float]:
    """``n / (C · n_c)`` per class (scikit-learn's "balanced"); an absent class gets 0."""
    counts = np.asarray(counts, dtype=float)
    n, c = counts.sum(), len(counts)
    return [float(n / (c * k)) if k > 0 else 0.0 for k in counts]


class ClassificationLoss(nn.Module):
    """Cross-entropy over class logits (N, C), optionally weighted per class."""

    def __init__(self, weights: Sequence[float] | None = None) -> None:
        super().__init__()
        self.register_buffer("weight", torch.tensor(weights, dtype=torch.float32) if weights else None)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target, weight=self.weight)


class BinarySegmentationLoss(nn.Module):
    """BCE-with-logits + soft Dice for one foreground channel (N, 1, H, W).

    ``pos_weight`` (weight of foreground pixels in the BCE term) counters rare lesions.
    """

    def __init__(self, pos_weight: float | None = None, dice_weight: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("pos_weight", torch.tensor([pos_weight], dtype=torch.float32)
                             if pos_weight else None)
        self.dice_weight = dice_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        t = (target > 0).to(logits.dtype).unsqueeze(1)
        bce = F.binary_cross_entropy_with_logits(logits, t, pos_weight=self.pos_weight)
        p = torch.sigmoid(logits)
        inter = (p * t).sum()
        dice = 1.0 - (2.0 * inter + _EPS) / (p.sum() + t.sum() + _EPS)
        return bce + self.dice_weight * dice


class MultiClassSegmentationLoss(nn.Module):
    """Cross-entropy (optionally class-weighted) + soft Dice over foreground classes (N, C, H, W)."""

    def __init__(self, num_classes: int, weights: Sequence[float] | None = None,
                 dice_weight: float = 1.0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.register_buffer("weight", torch.tensor(weights, dtype=torch.float32) if weights else None)
        self.dice_weight = dice_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        target = target.long()
        ce = F.cross_entropy(logits, target, weight=self.weight)
        p = torch.softmax(logits, dim=1)[:, 1:]
        onehot = F.one_hot(target, self.num_classes).permute(0, 3, 1, 2)[:, 1:].to(p.dtype)
        dims = (0, 2, 3)
        inter = (p * onehot).sum(dims)
        dice = 1.0 - (2.0 * inter + _EPS) / (p.sum(dims) + onehot.sum(dims) + _EPS)
        return ce + self.dice_weight * dice.mean()


def make_loss(task: str, num_outputs: int, weights: Sequence[float] | None) -> nn.Module:
    """The loss of a task.

    Parameters
    ----------
    task : {"classification", "segmentation"}
    num_outputs : int
        Output channels of the network (1 = binary segmentation with a sigmoid).
    weights : sequence of float, optional
        Per-class weights (classification, multi-class segmentation); for binary
        segmentation ``[w_background, w_foreground]`` becomes the BCE ``pos_weight``
        ``w_foreground / w_background``.
    """
    if task == "classification":
        return ClassificationLoss(weights)
    if num_outputs == 1:
        pos = None
        if weights and len(weights) == 2 and weights[0] > 0:
            pos = float(weights[1] / weights[0])
        return BinarySegmentationLoss(pos)
    return MultiClassSegmentationLoss(num_outputs, weights)
