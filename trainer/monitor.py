"""The validation number that picks the best epoch and drives early stopping."""

from __future__ import annotations

import math

from trainer.errors import JobFailed
from trainer.preparation import part_labels

__all__ = ["choose_monitor", "improved", "format_metric", "kept_weights", "kept_name"]


def choose_monitor(job, ds, pos: int | None, val_indices, sink) -> tuple[str, str]:
    """(metric name, ``"min"`` or ``"max"``) for the job's ``monitor`` field.

    ``auto`` is Dice for segmentation, AUC for a binary classifier, else balanced
    accuracy. AUC falls back to validation loss when the validation part lacks a class.

    Raises
    ------
    JobFailed
        If the metric is one of the other task's.
    """
    name, task = job.monitor, ds.task
    if name == "auto":
        name = "dice" if task == "segmentation" else ("auc" if pos is not None else "balanced_accuracy")
    if task == "segmentation" and name not in ("dice", "iou", "val_loss"):
        raise JobFailed(f"job field 'monitor': '{name}' is a classification metric; use dice, iou or val_loss")
    if task == "classification" and name in ("dice", "iou"):
        raise JobFailed(f"job field 'monitor': '{name}' is a segmentation metric")
    if name == "auc" and task == "classification":
        val = set(part_labels(ds, val_indices).tolist())
        if len(val) < len(ds.classes):
            sink.log("warning", "the validation set lacks a class, so AUC is undefined; the best "
                                "epoch is chosen by validation loss instead")
            name = "val_loss"
    return name, ("min" if name == "val_loss" else "max")


def improved(value: float | None, val_loss: float | None, best: dict, mode: str, min_delta: float) -> bool:
    """Whether an epoch's monitored ``value`` beats ``best`` (``{"metric", "val_loss", …}``).

    Better by more than ``min_delta``; a tie (within ``min_delta``) is broken by the
    lower validation loss. A value that is not finite never improves.
    """
    best_value = best["metric"]
    if value is None or not math.isfinite(value):
        return False
    if best_value is None:
        return True
    better = value > best_value + min_delta if mode == "max" else value < best_value - min_delta
    if better:
        return True
    tie = abs(value - best_value) <= max(min_delta, 1e-12)
    return bool(tie and val_loss is not None and best.get("val_loss") is not None
                and val_loss < best["val_loss"])


def format_metric(v: float | None) -> str:
    """A metric for a message: 4 significant digits, or ``n/a``."""
    return "n/a" if v is None else f"{v:.4g}"


def kept_weights(final_weights: str | None, best: dict, monitor: str) -> str:
    """How log lines and the card name the weights a run keeps (``best``: its kept epoch,
    the last one when ``final_weights`` is ``"last"``)."""
    shown = f"validation {monitor} {format_metric(best['metric'])}"
    if final_weights == "last":
        return f"the last epoch's weights (epoch {best['epoch']}, {shown})"
    return f"the weights of epoch {best['epoch']} (best {shown})"


def kept_name(final_weights: str | None) -> str:
    """"best" or "last epoch's": which validation score a run's kept weights carry."""
    return "last epoch's" if final_weights == "last" else "best"
