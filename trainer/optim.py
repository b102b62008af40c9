"""What training minimises and how: the loss (with class weights), the optimiser with its
backbone and head parameter groups, and the learning-rate scheduler.
"""

from __future__ import annotations

import math

import numpy as np

from trainer.errors import JobFailed
from trainer.preparation import part_labels

__all__ = ["make_criterion", "class_weights", "make_optimizer", "make_scheduler", "step_scheduler",
           "WarmupCosine", "set_planned_epochs"]


def make_criterion(job, ds, train_indices: np.ndarray, train_source, n_outputs: int, device):
    """The loss of the job's task, weighted per class as the job asks, on ``device``."""
    from trainer.losses import make_loss

    weights = class_weights(job, ds, train_indices, train_source)
    return make_loss(ds.task, n_outputs, weights).to(device)


def class_weights(job, ds, train_indices: np.ndarray, train_source) -> list[float] | None:
    """Per-class loss weights: the job's numbers, none, or balanced on the training part.

    Raises
    ------
    JobFailed
        If the job gives a number of weights other than the number of classes.
    """
    k = len(ds.classes)
    if isinstance(job.class_weights, tuple):
        if len(job.class_weights) != k:
            raise JobFailed(f"job field 'class_weights': {len(job.class_weights)} numbers for {k} classes "
                            f"({', '.join(ds.classes)})")
        return list(job.class_weights)
    if job.class_weights == "none":
        return None
    from trainer.losses import balanced_weights

    if ds.task == "classification":
        counts = np.bincount(part_labels(ds, train_indices), minlength=k)
        return balanced_weights(counts)
    targets = train_source.targets if hasattr(train_source, "targets") else None
    if targets is None:
        return None
    counts = np.bincount(targets.reshape(-1), minlength=k)[:k]
    w = np.asarray(balanced_weights(counts))
    # Lesions cover a few % of pixels: full balancing would flood the image with false
    # positives, so the ratio of weights is capped at 10 (Dice already balances).
    floor = w[w > 0].min() if (w > 0).any() else 1.0
    return [float(min(v, 10 * floor)) for v in w]


def make_optimizer(job, backbone_params: list, head_params: list, pretrained: bool):
    """The job's optimiser; a pretrained backbone learns at ``backbone_lr_factor`` × lr (0.1
    when neither the job nor the recipe set it; the recipe sets 1.0 for a self-supervised
    backbone)."""
    import torch

    factor = job.backbone_lr_factor if job.backbone_lr_factor is not None else (
        0.1 if pretrained else 1.0)
    groups = [g for g in ({"params": backbone_params, "lr": job.lr * factor},
                          {"params": head_params, "lr": job.lr}) if g["params"]]
    if job.optimizer == "adam":
        return torch.optim.Adam(groups, lr=job.lr, weight_decay=job.weight_decay)
    if job.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=job.lr, weight_decay=job.weight_decay)
    return torch.optim.SGD(groups, lr=job.lr, momentum=job.momentum,
                           weight_decay=job.weight_decay, nesterov=job.momentum > 0)


class WarmupCosine:
    """Learning-rate factor per epoch: a linear warm-up over ``warmup`` epochs, then a
    cosine decay to ``floor`` at epoch ``total``.

    A callable object rather than a function, so ``LambdaLR`` saves ``total`` (which the
    loop may re-plan to fit the time budget) in its state for a resume.
    """

    def __init__(self, warmup: int, total: int, floor: float = 0.01) -> None:
        self.warmup, self.total, self.floor = int(warmup), int(total), float(floor)

    def __call__(self, done: int) -> float:
        if done < self.warmup:
            return (done + 1) / (self.warmup + 1)
        p = min(1.0, (done - self.warmup) / max(1, self.total - self.warmup))
        return self.floor + (1.0 - self.floor) * 0.5 * (1.0 + math.cos(math.pi * p))


def make_scheduler(job, optimizer, mode: str):
    """The job's learning-rate scheduler, or None; ``mode`` (min/max) is the monitor's, for plateau.

    ``cosine`` warms up over ``warmup_epochs`` and decays to lr/100 at the last epoch.
    """
    import torch

    if job.scheduler == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, WarmupCosine(job.warmup_epochs or 0, job.epochs))
    if job.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, job.step_size, job.gamma)
    if job.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode=mode, factor=job.gamma,
                                                          patience=job.plateau_patience)
    return None


def set_planned_epochs(scheduler, epochs: int) -> None:
    """Stretch or shrink a cosine schedule to end at ``epochs`` (a re-planned run)."""
    for fn in getattr(scheduler, "lr_lambdas", ()):
        if isinstance(fn, WarmupCosine):
            fn.total = int(epochs)


def step_scheduler(scheduler, value: float | None) -> None:
    """Advance the scheduler after an epoch; a plateau scheduler sees the monitored value."""
    if scheduler is None:
        return
    import torch

    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        if value is not None and math.isfinite(value):
            scheduler.step(value)
    else:
        scheduler.step()
