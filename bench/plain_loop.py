"""The textbook PyTorch loop medview is compared with in ``bench/learning_curve.py``.

What a person writes from a tutorial, no medview code involved: the labelled images
decoded with pydicom (stored values / 4095, normalised with mean 0.5, std 0.25), every
labelled image used for training (no validation set, nothing chosen), random
initialisation, AdamW (lr 1e-3, weight decay 1e-4), batch 16, no augmentation, no
schedule, trained until the wall-clock budget is spent (checked after every batch), then
the last weights are scored on the held-out set.

* classification: torchvision ResNet-18, one input channel, two outputs, cross-entropy,
  input resized to 224 (medview's default); decision: the larger softmax output;
* segmentation: segmentation-models-pytorch FPN with a ResNet-18 encoder
  (``encoder_weights=None``, 1 channel, 1 output), binary cross-entropy + soft Dice,
  at the images' own size; Dice pooled over the held-out set (as medview's report).
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["PlainResult", "train_plain", "read_classification", "read_segmentation"]

BATCH, LR, WEIGHT_DECAY, CLS_INPUT = 16, 1e-3, 1e-4, 224


@dataclass
class PlainResult:
    """Test figures and what the run did."""

    metrics: dict[str, float]
    seconds: float
    epochs: float
    images_per_s: float


def read_classification(csv_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, H, W) float32 normalised, labels (n,) with lesion = 1) of a labels CSV."""
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    images = np.stack([_dicom(csv_path.parent / r["path"]) for r in rows])
    return images, np.array([r["label"] == "lesion" for r in rows], np.int64)


def read_segmentation(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, H, W) float32 normalised, masks (n, H, W) float32 0/1) of a pairs folder."""
    from PIL import Image

    paths = sorted((root / "images").glob("*.dcm"))
    images = np.stack([_dicom(p) for p in paths])
    masks = np.stack([np.asarray(Image.open(root / "masks" / f"{p.stem}.png")) > 0 for p in paths])
    return images, masks.astype(np.float32)


def _dicom(path: Path) -> np.ndarray:
    import pydicom

    return ((pydicom.dcmread(path).pixel_array.astype(np.float32) / 4095.0) - 0.5) / 0.25


def train_plain(task: str, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
                budget_s: float, seed: int = 0) -> PlainResult:
    """Train from random weights for ``budget_s`` seconds, then score on ``test``."""
    import torch

    torch.manual_seed(seed)
    model, loss_fn = _model(task)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    x_all = torch.from_numpy(train[0])[:, None]
    y_all = torch.from_numpy(train[1])
    if task == "segmentation":
        y_all = y_all[:, None]
    rng = np.random.default_rng(seed)
    n, seen, start = len(x_all), 0, time.perf_counter()
    model.train()
    while time.perf_counter() - start < budget_s:
        order = rng.permutation(n)
        for i in range(0, n, BATCH):
            idx = torch.from_numpy(order[i:i + BATCH])
            loss = loss_fn(model(_input(task, x_all[idx])), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(idx)
            if time.perf_counter() - start >= budget_s:
                break
    seconds = time.perf_counter() - start
    metrics = _score(task, model, test)
    return PlainResult(metrics, seconds, seen / n, seen / seconds)


def _model(task: str):
    import torch

    if task == "classification":
        import torchvision

        model = torchvision.models.resnet18(weights=None, num_classes=2)
        model.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        return model, torch.nn.CrossEntropyLoss()
    import segmentation_models_pytorch as smp

    model = smp.FPN(encoder_name="resnet18", encoder_weights=None, in_channels=1, classes=1)
    bce = torch.nn.BCEWithLogitsLoss()

    def loss(logits, target):
        p = torch.sigmoid(logits)
        dice = 1 - (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)
        return bce(logits, target) + dice

    return model, loss


def _input(task: str, x):
    import torch.nn.functional as F

    if task == "classification" and x.shape[-1] != CLS_INPUT:
        return F.interpolate(x, size=(CLS_INPUT, CLS_INPUT), mode="bilinear", align_corners=False)
    return x


def _score(task: str, model, test: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    import torch

    from trainer.metrics import roc_auc

    model.eval()
    x, y = torch.from_numpy(test[0])[:, None], test[1]
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), 32):
            out = model(_input(task, x[i:i + 32]))
            outs.append(torch.softmax(out, 1)[:, 1] if task == "classification" else out[:, 0] > 0)
    pred = torch.cat(outs).numpy()
    if task == "classification":
        return {"auc": float(roc_auc(y, pred)), "accuracy": float(((pred >= 0.5) == y).mean())}
    inter = float((pred & (y > 0)).sum())
    return {"dice": 2 * inter / max(float(pred.sum() + (y > 0).sum()), 1.0)}
