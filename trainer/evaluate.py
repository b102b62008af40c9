"""Running a model over a split, and judging it: validation metrics and the test report.

Definitions are :mod:`trainer.metrics` (scikit-learn's). The test report is honest by
construction: the decision threshold of a binary classifier is chosen on the
*validation* set and only measured on the test set; the test set is never used for any
choice; sizes and 95 % confidence intervals (Wilson) say how much a small test set can
tell. Segmentation is scored on the network input grid (the letterbox bars are
background in both maps, so they add nothing to Dice or IoU).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trainer import metrics as M
from trainer.metrics import positive_index

__all__ = ["Outputs", "run_model", "merge_outputs", "val_metrics", "positive_index",
           "choose_threshold", "middle_of_the_gap", "classification_report", "segmentation_report", "wilson",
           "headline", "finite_or_none"]


@dataclass
class Outputs:
    """What a model produced on a source.

    Attributes
    ----------
    positions : numpy.ndarray
        Positions in the source, in output order.
    loss_sum : float
        Sum over batches of (mean batch loss × batch size).
    n : int
        Samples seen.
    probs : numpy.ndarray or None
        Classification: (n, C) probabilities (softmax).
    labels : numpy.ndarray or None
        Classification: (n,) true classes.
    counts : numpy.ndarray or None
        Segmentation: (n, 3, K) per image and class: intersection, true and predicted
        pixel counts (K includes background).
    """

    positions: np.ndarray
    loss_sum: float
    n: int
    probs: np.ndarray | None = None
    labels: np.ndarray | None = None
    counts: np.ndarray | None = None

    @property
    def loss(self) -> float | None:
        return self.loss_sum / self.n if self.n else None


def run_model(module, source, positions: list[int], criterion, task: str, num_classes: int,
              batch_size: int, device, loader_workers: int = 0, threshold: float = 0.5) -> Outputs:
    """Evaluate ``module`` (in eval mode, no gradients) on ``positions`` of ``source``.

    ``num_classes`` counts background for segmentation; a one-channel (sigmoid) network
    calls a pixel foreground at ``threshold``.
    """
    import torch

    from trainer.data.inputs import EvalItems, make_loader

    batches = [positions[i:i + batch_size] for i in range(0, len(positions), batch_size)]
    loader = make_loader(EvalItems(source), batches, loader_workers)
    was_training = module.training
    module.eval()
    loss_sum, n = 0.0, 0
    probs, labels, counts, done = [], [], [], []
    with torch.inference_mode():
        for batch in loader:
            if batch is None:
                continue
            x, y = batch[0].to(device, non_blocking=True), batch[1].to(device, non_blocking=True)
            out = module(x)
            loss = criterion(out, y)
            if math.isfinite(float(loss)):
                loss_sum += float(loss) * len(x)
            n += len(x)
            done.extend(batch[2].tolist())
            if task == "classification":
                probs.append(torch.softmax(out.float(), dim=1).cpu().numpy())
                labels.append(y.cpu().numpy())
            else:
                pred = (torch.sigmoid(out[:, 0]) >= threshold).to(torch.uint8) if out.shape[1] == 1 \
                    else out.argmax(dim=1).to(torch.uint8)
                counts.append(_overlap_counts(y.to(torch.int64), pred.to(torch.int64), num_classes))
    module.train(was_training)
    out = Outputs(np.asarray(done, np.int64), loss_sum, n)
    if task == "classification":
        out.probs = np.concatenate(probs) if probs else np.zeros((0, num_classes))
        out.labels = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    else:
        out.counts = np.concatenate(counts) if counts else np.zeros((0, 3, num_classes), np.int64)
    return out


def _overlap_counts(t, p, k: int) -> np.ndarray:
    """(N, 3, K) intersection, true and predicted pixel counts per image and class."""
    import torch

    n = t.shape[0]
    t, p = t.reshape(n, -1), p.reshape(n, -1)
    offset = (torch.arange(n, device=t.device) * k)[:, None]
    def count(v):
        return torch.bincount((v + offset).reshape(-1), minlength=n * k).reshape(n, k)
    inter = torch.where(t == p, t, torch.full_like(t, k))  # k: not counted (out of range below)
    inter_counts = torch.bincount((inter + offset).reshape(-1)[inter.reshape(-1) < k],
                                  minlength=n * k).reshape(n, k)
    return torch.stack([inter_counts, count(t), count(p)], dim=1).cpu().numpy().astype(np.int64)


def merge_outputs(parts: list[Outputs]) -> Outputs:
    """Join the outputs of several processes (each validated a share)."""
    if len(parts) == 1:
        return parts[0]
    def cat(xs):
        return np.concatenate(xs) if xs else None

    return Outputs(np.concatenate([p.positions for p in parts]), sum(p.loss_sum for p in parts),
                   sum(p.n for p in parts),
                   probs=cat([p.probs for p in parts if p.probs is not None]),
                   labels=cat([p.labels for p in parts if p.labels is not None]),
                   counts=cat([p.counts for p in parts if p.counts is not None]))


# ----------------------------------------------------------------------- validation

def val_metrics(out: Outputs, task: str, pos: int | None) -> dict[str, float | None]:
    """Metrics of one validation pass (the ``epoch_end`` event's ``metrics``)."""
    if task == "classification":
        if out.n == 0:
            return {"accuracy": None}
        pred = out.probs.argmax(axis=1)
        result = {"accuracy": M.accuracy(out.labels, pred),
                  "balanced_accuracy": _balanced_accuracy(out.labels, pred, out.probs.shape[1])}
        result["auc"] = _auc(out.labels, out.probs, pos)
        return result
    dice, iou = _pooled(out.counts)
    return {"dice": finite_or_none(M.mean_foreground(dice)), "iou": finite_or_none(M.mean_foreground(iou))}


def _balanced_accuracy(y, pred, c: int) -> float | None:
    cm = M.confusion_matrix(y, pred, c)
    support = cm.sum(axis=1)
    present = support > 0
    if not present.any():
        return None
    return float(np.mean(np.diag(cm)[present] / support[present]))


def _auc(y, probs, pos: int | None) -> float | None:
    try:
        if pos is not None:
            return M.roc_auc(y == pos, probs[:, pos])
        return M.roc_auc_ovr(y, probs)
    except ValueError:
        return None  # a class absent from this split


def _pooled(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total = counts.sum(axis=0)
    ov = M.Overlap(total[0], total[1], total[2])
    return ov.dice(), ov.iou()


def finite_or_none(v: float | None) -> float | None:
    """``v`` as a float, or None when it is None, NaN or infinite (JSON has no NaN)."""
    return None if v is None or not math.isfinite(v) else float(v)


def choose_threshold(out: Outputs, pos: int, spec) -> tuple[float, dict[str, Any]]:
    """Decision threshold on P(positive), picked on the validation outputs.

    Returns
    -------
    threshold : float
    info : dict
        ``method``, ``picked_on`` and the validation sensitivity/specificity, or a
        ``note`` when the validation set cannot decide (one class only: 0.5 is kept).
    """
    y = out.labels == pos
    if out.n == 0 or y.all() or not y.any():
        return 0.5, {"method": "default", "picked_on": "none",
                     "note": "the validation set lacks one of the classes; threshold 0.5 kept"}
    scores = out.probs[:, pos]
    choice = M.pick_threshold(y, scores, spec.method, spec.target_sensitivity)
    t = middle_of_the_gap(scores, choice.threshold)
    return t, {"method": choice.method, "picked_on": "validation",
               "validation_sensitivity": choice.sensitivity,
               "validation_specificity": choice.specificity}


def middle_of_the_gap(scores, threshold: float) -> float:
    """``threshold`` (an observed score) moved halfway down to the next lower score,
    within the manifest's [0, 1].

    Every threshold in between calls the validation images alike, so the picker's choice
    sits on the edge of a gap: the weakest positive it accepts. Halfway leaves a margin
    both ways. It matters most when validation separates perfectly: with sharp
    probabilities the edge was P = 1.0, and a new positive at 0.9999 was called negative
    (measured on the lesion-map demo classifier, temperature 0.11).
    """
    scores = np.asarray(scores, dtype=np.float64)
    below = scores[scores < threshold]
    t = (threshold + float(below.max())) / 2 if below.size else float(threshold)
    return float(min(1.0, max(0.0, t)))


# ----------------------------------------------------------------------- test report

def wilson(k: int, n: int, z: float = 1.96) -> list[float] | None:
    """Wilson score 95 % interval of a proportion k/n (None when n is 0)."""
    if n <= 0:
        return None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return [max(0.0, centre - half), min(1.0, centre + half)]


def classification_report(out: Outputs, classes: list[str], pos: int | None, threshold: float,
                          threshold_info: dict[str, Any], files: list[dict[str, Any]]) -> dict[str, Any]:
    """The classification part of ``evaluation.json`` (see the module docstring)."""
    y, probs = out.labels, out.probs
    c = len(classes)
    if pos is not None:
        pred = np.where(probs[:, pos] >= threshold, pos, 1 - pos)
        rule = f"'{classes[pos]}' when P({classes[pos]}) >= {threshold:.4g}, else '{classes[1 - pos]}'"
    else:
        pred = probs.argmax(axis=1)
        rule = "the most probable class"
    cm = M.confusion_matrix(y, pred, c)
    report = M.classification_report(y, pred, class_names=classes)
    correct = int(np.trace(cm))
    metrics: dict[str, float | None] = {"accuracy": correct / out.n if out.n else None,
                                        "balanced_accuracy": _balanced_accuracy(y, pred, c)}
    ci: dict[str, list[float] | None] = {"accuracy": wilson(correct, out.n)}
    result: dict[str, Any] = {"decision_rule": rule, "confusion_matrix": cm.tolist(),
                              "support": {name: int((y == i).sum()) for i, name in enumerate(classes)},
                              "report": report}
    if pos is not None:
        tp, fn = int(cm[pos, pos]), int(cm[pos, 1 - pos])
        tn, fp = int(cm[1 - pos, 1 - pos]), int(cm[1 - pos, pos])
        metrics.update(sensitivity=_div(tp, tp + fn), specificity=_div(tn, tn + fp),
                       ppv=_div(tp, tp + fp), npv=_div(tn, tn + fn), threshold=threshold,
                       auc=_auc(y, probs, pos))
        ci.update(sensitivity=wilson(tp, tp + fn), specificity=wilson(tn, tn + fp))
        result["positive_class"] = classes[pos]
        result["threshold"] = {"value": threshold, **threshold_info}
        try:
            fpr, tpr, thr = M.roc_curve(y == pos, probs[:, pos])
            result["roc"] = {"fpr": fpr.tolist(), "tpr": tpr.tolist(),
                             "thresholds": [None if not math.isfinite(t) else float(t) for t in thr]}
        except ValueError as err:
            result["roc"] = None
            result.setdefault("notes", []).append(f"ROC undefined on the test set: {err}")
    else:
        metrics["auc"] = _auc(y, probs, None)
        curves = {}
        for k, name in enumerate(classes):
            try:
                fpr, tpr, _ = M.roc_curve(y == k, probs[:, k])
                curves[name] = {"fpr": fpr.tolist(), "tpr": tpr.tolist(),
                                "auc": M.auc(fpr, tpr)}
            except ValueError:
                curves[name] = None
        result["roc_one_vs_rest"] = curves
    result["metrics"] = metrics
    result["ci95"] = ci
    result["predictions"] = [
        {**files[i], "true": classes[int(y[j])], "predicted": classes[int(pred[j])],
         "probabilities": {name: float(probs[j, k]) for k, name in enumerate(classes)}}
        for j, i in enumerate(out.positions.tolist())]
    return result


def segmentation_report(out: Outputs, classes: list[str], files: list[dict[str, Any]]) -> dict[str, Any]:
    """The segmentation part of ``evaluation.json``: pooled and per-image Dice/IoU."""
    dice, iou = _pooled(out.counts)
    per_image = []
    for j, i in enumerate(out.positions.tolist()):
        c = out.counts[j]
        ov = M.Overlap(c[0], c[1], c[2])
        d = M.mean_foreground(ov.dice())
        per_image.append({**files[i], "dice": finite_or_none(d),
                          "true_pixels": int(c[1, 1:].sum()), "predicted_pixels": int(c[2, 1:].sum())})
    scores = np.array([p["dice"] for p in per_image if p["dice"] is not None], float)
    empty_true = sum(1 for p in per_image if p["true_pixels"] == 0)
    false_alarm = sum(1 for p in per_image if p["true_pixels"] == 0 and p["predicted_pixels"] > 0)
    return {
        "metrics": {"dice": finite_or_none(M.mean_foreground(dice)), "iou": finite_or_none(M.mean_foreground(iou)),
                    "dice_per_image_mean": float(scores.mean()) if scores.size else None,
                    "dice_per_image_median": float(np.median(scores)) if scores.size else None},
        "per_class": {name: {"dice": finite_or_none(dice[k]), "iou": finite_or_none(iou[k])}
                      for k, name in enumerate(classes) if k > 0},
        "images_without_foreground": empty_true,
        "false_alarms_on_empty_images": false_alarm,
        "predictions": per_image,
    }


def headline(report: dict[str, Any]) -> dict[str, float | None]:
    """The ``evaluation`` event's metrics: finite numbers or None, a few keys."""
    keys = ("accuracy", "balanced_accuracy", "auc", "sensitivity", "specificity", "threshold",
            "dice", "iou")
    m = report.get("metrics", {})
    return {k: finite_or_none(m[k]) if m.get(k) is not None else None for k in keys if k in m}


def _div(a: int, b: int) -> float | None:
    return a / b if b else None


def files_of(samples: list, indices: np.ndarray, root: str | Path | None = None) -> list[dict[str, Any]]:
    """Per source position: the file (relative to ``root`` when inside it) and its patient."""
    from trainer.data.datasets import sample_paths

    base = Path(root).resolve() if root is not None else None
    chosen = [samples[i] for i in indices.tolist()]
    out = []
    for s, path in zip(chosen, sample_paths(chosen)):
        try:
            shown = path.resolve().relative_to(base).as_posix() if base is not None else str(path)
        except ValueError:
            shown = str(path)
        out.append({"file": shown, "patient_id": s.patient_id})
    return out
