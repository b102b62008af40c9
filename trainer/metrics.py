"""Classification and segmentation metrics, numpy only.

The definitions are scikit-learn's (``confusion_matrix``, ``precision_recall_fscore_support``
with ``zero_division=0``, ``roc_curve``, ``roc_auc_score``), so numbers a technician sees
here match what a statistician computes elsewhere. Differences are deliberate and named
in each docstring: degenerate inputs (a class with no positives for ROC) raise
``ValueError`` instead of warning, and a Dice/IoU of a class absent from both maps is
``empty`` (NaN by default) rather than 0.

Labels are integer class indices ``0 … C-1``; scores are floats where larger means
"more likely positive"; a sample is called positive when ``score >= threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "confusion_matrix",
    "accuracy",
    "precision_recall_f1",
    "classification_report",
    "roc_curve",
    "auc",
    "roc_auc",
    "roc_auc_ovr",
    "sensitivity_specificity",
    "ThresholdChoice",
    "pick_threshold",
    "Overlap",
    "overlap",
    "dice_iou",
    "mean_foreground",
    "bootstrap_intervals",
    "positive_index",
]


# -- classification ----------------------------------------------------------------------


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Count of samples per (true class, predicted class).

    Parameters
    ----------
    y_true, y_pred : array_like of int
        Class indices, same length.
    num_classes : int, optional
        Number of classes ``C``; defaults to ``max(y_true, y_pred) + 1``.

    Returns
    -------
    numpy.ndarray
        ``(C, C)`` int64; ``cm[i, j]`` counts samples of true class ``i`` predicted as
        ``j`` (rows true, columns predicted, as in scikit-learn).
    """
    t, p = _labels(y_true), _labels(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length ({t.size} vs {p.size})")
    c = _num_classes(num_classes, t, p)
    return np.bincount(t * c + p, minlength=c * c).reshape(c, c).astype(np.int64)


def accuracy(y_true, y_pred) -> float:
    """Fraction of samples whose predicted class is the true one.

    Parameters
    ----------
    y_true, y_pred : array_like of int
        Class indices, same length (at least one sample).

    Returns
    -------
    float
    """
    t, p = _labels(y_true), _labels(y_pred)
    if t.shape != p.shape or t.size == 0:
        raise ValueError(f"need two equally long, non-empty label arrays ({t.size} vs {p.size})")
    return float(np.mean(t == p))


def precision_recall_f1(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall (sensitivity), F1 and support from a confusion matrix.

    Parameters
    ----------
    cm : numpy.ndarray
        ``(C, C)`` confusion matrix, rows true and columns predicted.

    Returns
    -------
    precision, recall, f1 : numpy.ndarray
        ``(C,)`` float. A ratio whose denominator is 0 is 0 (scikit-learn's
        ``zero_division=0``): precision of a class never predicted, recall of a class
        absent from the truth, F1 when precision + recall is 0.
    support : numpy.ndarray
        ``(C,)`` int, true samples per class.
    """
    cm = np.asarray(cm, dtype=np.int64)
    tp = np.diag(cm).astype(float)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    return precision, recall, f1, support


def classification_report(y_true, y_pred, class_names: list[str] | None = None,
                          num_classes: int | None = None) -> dict:
    """Everything a person needs to judge a classifier's predictions, JSON-ready.

    Parameters
    ----------
    y_true, y_pred : array_like of int
        Class indices.
    class_names : list of str, optional
        Names by index; also fixes the number of classes.
    num_classes : int, optional
        Used when ``class_names`` is not given.

    Returns
    -------
    dict
        ``accuracy``, ``confusion_matrix`` (nested lists), ``classes`` (per class:
        precision, recall, f1, support), ``macro`` (unweighted mean over classes) and
        ``weighted`` (mean weighted by support), as scikit-learn's
        ``classification_report`` defines them.
    """
    c = len(class_names) if class_names is not None else num_classes
    cm = confusion_matrix(y_true, y_pred, c)
    names = class_names or [str(i) for i in range(cm.shape[0])]
    precision, recall, f1, support = precision_recall_f1(cm)
    weights = support / max(support.sum(), 1)
    per_class = {
        name: {"precision": float(precision[i]), "recall": float(recall[i]),
               "f1": float(f1[i]), "support": int(support[i])}
        for i, name in enumerate(names)
    }
    return {
        "accuracy": accuracy(y_true, y_pred),
        "confusion_matrix": cm.tolist(),
        "classes": per_class,
        "macro": {"precision": float(precision.mean()), "recall": float(recall.mean()),
                  "f1": float(f1.mean())},
        "weighted": {"precision": float(weights @ precision), "recall": float(weights @ recall),
                     "f1": float(weights @ f1)},
    }


# -- ROC ---------------------------------------------------------------------------------


def roc_curve(y_true, scores, *, drop_intermediate: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Receiver operating characteristic of a binary scorer (scikit-learn's ``roc_curve``).

    Parameters
    ----------
    y_true : array_like
        1 (or True) for positives, 0 for negatives.
    scores : array_like of float
        Larger = more likely positive.
    drop_intermediate : bool
        Drop points on straight segments of the curve (they change neither its shape nor
        its area), as scikit-learn does by default.

    Returns
    -------
    fpr, tpr : numpy.ndarray
        False and true positive rates, non-decreasing, from (0, 0) to (1, 1).
    thresholds : numpy.ndarray
        Decreasing; point ``i`` calls ``score >= thresholds[i]`` positive. The first is
        ``inf`` (nothing positive).

    Raises
    ------
    ValueError
        If there are no positives or no negatives (the curve is undefined).
    """
    t, s = _binary(y_true, scores)
    order = np.argsort(s, kind="mergesort")[::-1]
    t, s = t[order], s[order]
    # one curve point per distinct score: the last sample of each run of equal scores
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tps = np.cumsum(t)[last]
    fps = 1 + last - tps
    thresholds = s[last]
    if drop_intermediate and tps.size > 2:
        corner = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        tps, fps, thresholds = tps[corner], fps[corner], thresholds[corner]
    tps, fps = np.r_[0, tps], np.r_[0, fps]
    thresholds = np.r_[np.inf, thresholds]
    return fps / fps[-1], tps / tps[-1], thresholds


def auc(x, y) -> float:
    """Area under a curve by the trapezoidal rule.

    Parameters
    ----------
    x : array_like
        Monotonic (increasing or decreasing) abscissae, at least two.
    y : array_like
        Ordinates.

    Returns
    -------
    float
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2 or x.shape != y.shape:
        raise ValueError("auc needs at least two points and x, y of equal length")
    dx = np.diff(x)
    if np.all(dx <= 0):
        x, y, dx = x[::-1], y[::-1], -dx[::-1]
    elif np.any(dx < 0):
        raise ValueError("x must be monotonic")
    return float(np.sum(dx * (y[1:] + y[:-1]) / 2.0))


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve of a binary scorer.

    Equals the probability that a random positive scores higher than a random negative,
    ties counting one half (the Mann–Whitney U statistic / (P·N)).

    Parameters
    ----------
    y_true : array_like
        1 for positives, 0 for negatives.
    scores : array_like of float
        Larger = more likely positive.

    Returns
    -------
    float
        1 for a perfect ranking, 0.5 for chance, 0 for a perfectly inverted one.

    Raises
    ------
    ValueError
        If only one class is present.
    """
    fpr, tpr, _ = roc_curve(y_true, scores)
    return auc(fpr, tpr)


def roc_auc_ovr(y_true, probabilities, average: Literal["macro", "weighted"] = "macro") -> float:
    """One-vs-rest ROC AUC of a multi-class scorer (scikit-learn ``multi_class="ovr"``).

    Parameters
    ----------
    y_true : array_like of int
        Class indices ``0 … C-1``.
    probabilities : array_like
        ``(n, C)`` scores per class (softmax outputs; rows need not sum to 1 here).
    average : {"macro", "weighted"}
        Unweighted mean of the per-class AUCs, or weighted by class prevalence.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If a class has no samples (or every sample), or the shapes disagree.
    """
    t = _labels(y_true)
    p = np.asarray(probabilities, dtype=float)
    if p.ndim != 2 or p.shape[0] != t.size:
        raise ValueError(f"probabilities must be (n, C) with n = {t.size}, got {p.shape}")
    c = p.shape[1]
    if t.size and t.max() >= c:
        raise ValueError(f"label {t.max()} has no score column ({c} columns)")
    per_class = []
    for k in range(c):
        try:
            per_class.append(roc_auc(t == k, p[:, k]))
        except ValueError:
            raise ValueError(f"ROC AUC is undefined: class {k} has "
                             f"{int(np.sum(t == k))} of {t.size} samples") from None
    per_class = np.asarray(per_class)
    if average == "macro":
        return float(per_class.mean())
    if average == "weighted":
        return float(np.bincount(t, minlength=c) / t.size @ per_class)
    raise ValueError(f"average must be 'macro' or 'weighted', got {average!r}")


# -- operating point ---------------------------------------------------------------------


def positive_index(classes: list[str], positive: str | None) -> int | None:
    """Index of the positive class of a binary classifier (None for more classes).

    The job's ``positive_class``; else the class that is not called normal, negative,
    healthy, benign, no finding or background; else the second class.
    """
    if len(classes) != 2:
        return None
    if positive is not None:
        return classes.index(positive)
    negative = {"normal", "negative", "healthy", "benign", "no finding", "no_finding", "background",
                "none", "absent"}
    lowered = [c.lower() for c in classes]
    if lowered[0] in negative and lowered[1] not in negative:
        return 1
    if lowered[1] in negative and lowered[0] not in negative:
        return 0
    return 1


def sensitivity_specificity(y_true, scores, threshold: float) -> tuple[float, float]:
    """Sensitivity (true positive rate) and specificity (true negative rate) at a threshold.

    Parameters
    ----------
    y_true : array_like
        1 for positives, 0 for negatives (both must occur).
    scores : array_like of float
        Larger = more likely positive.
    threshold : float
        ``score >= threshold`` is called positive.

    Returns
    -------
    sensitivity, specificity : float
    """
    t, s = _binary(y_true, scores)
    called = s >= threshold
    return float(np.mean(called[t == 1])), float(np.mean(~called[t == 0]))


@dataclass(frozen=True)
class ThresholdChoice:
    """An operating point picked on a ROC curve.

    Attributes
    ----------
    threshold : float
        ``score >= threshold`` is called positive; always one of the observed scores.
    sensitivity, specificity : float
        At that threshold, on the data it was picked on.
    method : str
        ``"youden"`` or ``"sensitivity"``.
    """

    threshold: float
    sensitivity: float
    specificity: float
    method: str


def pick_threshold(y_true, scores, method: Literal["youden", "sensitivity"] = "youden",
                   target_sensitivity: float | None = None) -> ThresholdChoice:
    """Choose the decision threshold of a binary scorer.

    Parameters
    ----------
    y_true : array_like
        1 for positives, 0 for negatives (both must occur).
    scores : array_like of float
        Larger = more likely positive.
    method : {"youden", "sensitivity"}
        ``"youden"`` maximises Youden's J = sensitivity + specificity − 1 (ties: the
        highest such threshold). ``"sensitivity"`` takes the highest threshold whose
        sensitivity is at least ``target_sensitivity``, which has the best specificity
        among those (a screening setting: missing disease costs most).
    target_sensitivity : float, optional
        In (0, 1]; required for ``method="sensitivity"``.

    Returns
    -------
    ThresholdChoice

    Notes
    -----
    A threshold picked on the validation set should be judged on the test set: on the
    data it was picked on, it is optimistic.
    """
    fpr, tpr, thresholds = roc_curve(y_true, scores, drop_intermediate=False)
    fpr, tpr, thresholds = fpr[1:], tpr[1:], thresholds[1:]  # drop the "nothing positive" point
    if method == "youden":
        i = int(np.argmax(tpr - fpr))
    elif method == "sensitivity":
        if target_sensitivity is None or not 0.0 < target_sensitivity <= 1.0:
            raise ValueError(f"target_sensitivity must be in (0, 1], got {target_sensitivity!r}")
        # tpr rises as the threshold falls, and the last point has tpr = 1: always found
        i = int(np.argmax(tpr >= target_sensitivity - 1e-12))
    else:
        raise ValueError(f"method must be 'youden' or 'sensitivity', got {method!r}")
    return ThresholdChoice(float(thresholds[i]), float(tpr[i]), float(1.0 - fpr[i]), method)


# -- segmentation ------------------------------------------------------------------------


@dataclass(frozen=True)
class Overlap:
    """Per-class pixel counts from which Dice and IoU follow; add them over batches.

    Attributes
    ----------
    intersection : numpy.ndarray
        ``(C,)`` pixels labelled ``k`` in both maps.
    true : numpy.ndarray
        ``(C,)`` pixels labelled ``k`` in the reference.
    predicted : numpy.ndarray
        ``(C,)`` pixels labelled ``k`` in the prediction.
    """

    intersection: np.ndarray
    true: np.ndarray
    predicted: np.ndarray

    def __add__(self, other: Overlap) -> Overlap:
        return Overlap(self.intersection + other.intersection, self.true + other.true,
                       self.predicted + other.predicted)

    def dice(self, empty: float = np.nan) -> np.ndarray:
        """Dice = 2|A∩B| / (|A| + |B|) per class; ``empty`` where the class is in neither map."""
        return _ratio(2 * self.intersection, self.true + self.predicted, empty)

    def iou(self, empty: float = np.nan) -> np.ndarray:
        """IoU (Jaccard) = |A∩B| / |A∪B| per class; ``empty`` where the class is in neither map."""
        union = self.true + self.predicted - self.intersection
        return _ratio(self.intersection, union, empty)


def overlap(y_true, y_pred, num_classes: int) -> Overlap:
    """Count per-class overlap of two label maps.

    Parameters
    ----------
    y_true, y_pred : array_like of int
        Label maps of equal shape (one image, or a batch: counts are pooled).
    num_classes : int
        ``C``, including background (class 0).

    Returns
    -------
    Overlap
    """
    t, p = _labels(y_true, flatten=False), _labels(y_pred, flatten=False)
    if t.shape != p.shape:
        raise ValueError(f"label maps differ in shape: {t.shape} vs {p.shape}")
    t, p = t.ravel(), p.ravel()
    if t.size and max(t.max(), p.max()) >= num_classes:
        raise ValueError(f"label {max(t.max(), p.max())} is not below num_classes = {num_classes}")
    return Overlap(np.bincount(t[t == p], minlength=num_classes),
                   np.bincount(t, minlength=num_classes),
                   np.bincount(p, minlength=num_classes))


def dice_iou(y_true, y_pred, num_classes: int, empty: float = np.nan) -> tuple[np.ndarray, np.ndarray]:
    """Dice and IoU per class of two label maps.

    Parameters
    ----------
    y_true, y_pred : array_like of int
        Label maps of equal shape; a batch pools its pixels (global Dice).
    num_classes : int
        ``C``, including background.
    empty : float
        Score of a class present in neither map. NaN (default) leaves it out of
        ``np.nanmean``; pass 1.0 to count "nothing there, nothing found" as perfect.
        These match scikit-learn's ``f1_score`` / ``jaccard_score`` per label with
        ``zero_division=empty``.

    Returns
    -------
    dice, iou : numpy.ndarray
        ``(C,)`` float.
    """
    counts = overlap(y_true, y_pred, num_classes)
    return counts.dice(empty), counts.iou(empty)


def mean_foreground(scores) -> float:
    """Mean of per-class scores over the foreground classes (1 …), ignoring NaN.

    The headline ``dice``/``iou`` of an epoch: background is easy and would flatter it.

    Parameters
    ----------
    scores : array_like
        ``(C,)`` per-class scores, class 0 = background.

    Returns
    -------
    float
        NaN when every foreground score is NaN.
    """
    fg = np.asarray(scores, dtype=float)[1:]
    fg = fg[~np.isnan(fg)]
    return float(fg.mean()) if fg.size else float("nan")


# -- uncertainty -------------------------------------------------------------------------


def bootstrap_intervals(statistics, n: int, groups=None, *, resamples: int = 2000,
                        level: float = 0.95, seed: int = 0) -> list[tuple[float, float] | None]:
    """Percentile bootstrap intervals of several statistics over the same resamples.

    Whole groups (patients) are drawn with replacement, so images of one patient move
    together, and every statistic sees the same resample: the interval of a difference
    between two models on the same cases is then a paired one.

    Parameters
    ----------
    statistics : sequence of callable
        Each takes sample indices (int array, repeats allowed) and returns a float; a
        ``ValueError`` (e.g. an AUC of a resample holding one class) drops that resample
        for that statistic.
    n : int
        Number of samples.
    groups : sequence of hashable, optional
        The group of each sample (default: each sample its own).
    resamples : int
    level : float
        Coverage, e.g. 0.95.
    seed : int

    Returns
    -------
    list of (low, high) or None
        None where fewer than half of the resamples gave a value.
    """
    keys = list(range(n)) if groups is None else list(groups)
    members: dict = {}
    for i, key in enumerate(keys):
        members.setdefault(key, []).append(i)
    blocks = [np.asarray(v, np.int64) for v in members.values()]
    rng = np.random.default_rng(seed)
    values: list[list[float]] = [[] for _ in statistics]
    for _ in range(resamples):
        picked = rng.integers(0, len(blocks), len(blocks))
        idx = np.concatenate([blocks[j] for j in picked]) if blocks else np.zeros(0, np.int64)
        for out, stat in zip(values, statistics):
            try:
                v = float(stat(idx))
            except ValueError:
                continue
            if np.isfinite(v):
                out.append(v)
    tail = (1.0 - level) / 2.0 * 100.0
    return [(float(np.percentile(v, tail)), float(np.percentile(v, 100.0 - tail)))
            if len(v) >= resamples / 2 else None for v in values]


# -- helpers -----------------------------------------------------------------------------


def _labels(values, flatten: bool = True) -> np.ndarray:
    a = np.asarray(values)
    if a.dtype == bool:
        a = a.astype(np.int64)
    if a.size and (not np.issubdtype(a.dtype, np.integer) or a.min() < 0):
        if not (np.issubdtype(a.dtype, np.floating) and np.all(a == np.round(a)) and a.min() >= 0):
            raise ValueError("labels must be non-negative integers")
    a = a.astype(np.int64)
    return a.ravel() if flatten else a


def _num_classes(num_classes: int | None, *arrays: np.ndarray) -> int:
    top = max((int(a.max()) + 1 for a in arrays if a.size), default=0)
    if num_classes is None:
        return top
    if top > num_classes:
        raise ValueError(f"label {top - 1} is not below num_classes = {num_classes}")
    return num_classes


def _binary(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    t = _labels(y_true)
    s = np.asarray(scores, dtype=float).ravel()
    if t.shape != s.shape:
        raise ValueError(f"y_true and scores differ in length ({t.size} vs {s.size})")
    if t.size and t.max() > 1:
        raise ValueError("binary y_true must hold only 0 and 1")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    positives = int(t.sum())
    if positives == 0 or positives == t.size:
        raise ValueError(f"need both positives and negatives, got {positives} positive of {t.size}")
    return t, s


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, float), np.asarray(den, float)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _ratio(num: np.ndarray, den: np.ndarray, empty: float) -> np.ndarray:
    num, den = np.asarray(num, float), np.asarray(den, float)
    return np.divide(num, den, out=np.full_like(num, empty), where=den > 0)
