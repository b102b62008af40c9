"""Calibrated probabilities: temperature scaling and the reliability of a classifier.

A network trained with cross-entropy on a few hundred images is usually over-confident:
"lesion 97 %" is right far less often than 97 % of the time. Temperature scaling (Guo et
al., "On Calibration of Modern Neural Networks", ICML 2017) divides the logits by one
number T fitted on the validation split by minimising the negative log-likelihood; it
changes no ranking (AUC and the arg-max are unchanged) and makes the stated probability
mean what it says. The manifest stores T (``output.temperature``) and every engine's
output goes through the same :func:`medview.inference.analyze.activate`.

Softmax probabilities are enough to fit T: ``log p`` equals the logits minus a per-image
constant, and softmax ignores per-image constants. numpy only.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["fit_temperature", "scale", "reliability", "too_sharp", "uninformative",
           "TEMPERATURE_RANGE"]

#: Search range of T. An optimum at the low end is no estimate: a validation set that the
#: model separates perfectly drives T towards 0 (every probability to 0 or 1), which is
#: over-fitting a few images, not calibration. At the high end the scores carry almost no
#: information and calibrated probabilities say so (near 1 / number of classes).
TEMPERATURE_RANGE = (0.1, 10.0)
_EPS = 1e-12


def scale(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax probabilities (n, C) as they are after dividing the logits by ``temperature``."""
    logp = np.log(np.clip(np.asarray(probs, np.float64), _EPS, 1.0)) / temperature
    logp -= logp.max(axis=1, keepdims=True)
    e = np.exp(logp)
    return e / e.sum(axis=1, keepdims=True)


def _nll(probs: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    p = scale(probs, temperature)[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(p, _EPS, 1.0))))


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The T in :data:`TEMPERATURE_RANGE` that minimises the NLL of ``labels``.

    Golden-section search on log T (the NLL is unimodal in T for softmax outputs).

    Parameters
    ----------
    probs : numpy.ndarray
        (n, C) softmax probabilities of the validation images at T = 1.
    labels : numpy.ndarray
        (n,) true classes.

    Returns
    -------
    float
        1.0 when there is nothing to fit (no images).
    """
    labels = np.asarray(labels, np.int64)
    if len(labels) == 0:
        return 1.0
    lo, hi = (math.log(x) for x in TEMPERATURE_RANGE)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = (_nll(probs, labels, math.exp(x)) for x in (a, b))
    for _ in range(60):  # (hi - lo) * 0.618**60: far below any meaningful digit
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = _nll(probs, labels, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = _nll(probs, labels, math.exp(b))
    return float(math.exp((lo + hi) / 2))


def too_sharp(temperature: float, tolerance: float = 0.02) -> bool:
    """True when a fitted T sits at the low end of :data:`TEMPERATURE_RANGE` (no estimate)."""
    return temperature <= TEMPERATURE_RANGE[0] * (1 + tolerance)


def uninformative(temperature: float, tolerance: float = 0.02) -> bool:
    """True when a fitted T sits at the high end: the scores say almost nothing."""
    return temperature >= TEMPERATURE_RANGE[1] * (1 - tolerance)


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> dict:
    """Reliability diagram data and expected calibration error (top-label, equal-width bins).

    ECE = sum over bins of (bin size / n) * |accuracy - mean confidence| (Guo et al. 2017).

    Returns
    -------
    dict
        ``ece`` (None without images) and ``bins``: per non-empty bin its ``lower``,
        ``upper``, ``count``, mean ``confidence`` and ``accuracy``.
    """
    probs = np.asarray(probs, np.float64)
    labels = np.asarray(labels, np.int64)
    if len(labels) == 0:
        return {"ece": None, "bins": []}
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    out, ece = [], 0.0
    for k in range(bins):
        sel = which == k
        n = int(sel.sum())
        if not n:
            continue
        conf, acc = float(confidence[sel].mean()), float(correct[sel].mean())
        ece += n / len(labels) * abs(acc - conf)
        out.append({"lower": float(edges[k]), "upper": float(edges[k + 1]), "count": n,
                    "confidence": conf, "accuracy": acc})
    return {"ece": float(ece), "bins": out}
