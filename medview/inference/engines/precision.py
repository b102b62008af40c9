"""Does an engine's output agree with the fp32 torch model? The tolerance checks.

A faster engine or a lower precision is only used if what the user would *see* stays the
same as the fp32 model's:

* classification: the probabilities differ by at most :data:`PROB_TOLERANCE` (0.02) in
  every class of every image;
* segmentation: the mask has a Dice coefficient of at least :data:`DICE_MINIMUM` (0.99)
  with the fp32 mask.

The engine layer does not know whether a model's manifest says ``softmax`` (one label) or
``sigmoid`` (independent labels), so with more than one output channel both readings are
checked and the worse one counts: probabilities are compared as softmax *and* as
per-class sigmoid (a constant shift of all logits leaves the softmax unchanged but not the
sigmoids), and masks as argmax *and* as per-channel ``logit > 0``. A single channel is
always a sigmoid. For multi-class masks the Dice is the mean over the classes that occur
in either mask (background included), the usual macro average; a class absent from both
is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROB_TOLERANCE = 0.02
DICE_MINIMUM = 0.99


@dataclass(frozen=True)
class Agreement:
    """The result of comparing a candidate engine's output with the fp32 reference.

    Attributes
    ----------
    ok : bool
        Within tolerance.
    max_prob_delta : float
        Largest absolute difference in probability (softmax and, for several channels,
        sigmoid; per pixel for segmentation). ``inf`` if shapes differ or values are not
        finite.
    dice : float or None
        Mask Dice (segmentation only).
    detail : str
        One line saying what was compared and why it failed, if it did.
    """

    ok: bool
    max_prob_delta: float
    dice: float | None
    detail: str


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax over axis 1, or the sigmoid when there is a single channel.

    Parameters
    ----------
    logits : numpy.ndarray
        ``N×K`` or ``N×K×H×W``.

    Returns
    -------
    numpy.ndarray
        float64 probabilities of the same shape.
    """
    x = np.asarray(logits, dtype=np.float64)
    if x.shape[1] == 1:
        return 1.0 / (1.0 + np.exp(-x))
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


def masks(logits: np.ndarray) -> np.ndarray:
    """Label mask: argmax over classes, or ``logit > 0`` (p > 0.5) for one channel.

    Parameters
    ----------
    logits : numpy.ndarray
        ``N×K×H×W``.

    Returns
    -------
    numpy.ndarray
        ``N×H×W`` integer labels.
    """
    x = np.asarray(logits)
    if x.shape[1] == 1:
        return (x[:, 0] > 0).astype(np.int64)
    return x.argmax(axis=1)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def max_prob_delta(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Largest probability difference under both softmax and sigmoid readings (see module doc)."""
    if reference.size == 0:
        return 0.0
    delta = float(np.max(np.abs(probabilities(reference) - probabilities(candidate))))
    if reference.shape[1] > 1:
        delta = max(delta, float(np.max(np.abs(_sigmoid(reference) - _sigmoid(candidate)))))
    return delta


def threshold_dice(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Mean Dice of the per-channel ``logit > 0`` masks (channels empty in both skipped)."""
    scores = []
    for c in range(reference.shape[1]):
        a = reference[:, c] > 0
        b = candidate[:, c] > 0
        total = int(a.sum()) + int(b.sum())
        if total:
            scores.append(2.0 * int(np.logical_and(a, b).sum()) / total)
    return float(np.mean(scores)) if scores else 1.0


def mask_dice(reference: np.ndarray, candidate: np.ndarray, num_classes: int) -> float:
    """Macro-averaged Dice between two label masks.

    Parameters
    ----------
    reference, candidate : numpy.ndarray
        Integer label masks of the same shape.
    num_classes : int
        Number of labels (2 for a binary mask).

    Returns
    -------
    float
        Mean Dice over labels present in either mask; 1.0 if both are empty of every label
        (cannot happen for a complete labelling).
    """
    scores = []
    for c in range(num_classes):
        a = reference == c
        b = candidate == c
        total = int(a.sum()) + int(b.sum())
        if total == 0:
            continue
        scores.append(2.0 * int(np.logical_and(a, b).sum()) / total)
    return float(np.mean(scores)) if scores else 1.0


def compare(reference: np.ndarray, candidate: np.ndarray, task: str) -> Agreement:
    """Check a candidate's output against the fp32 reference with medview's tolerances.

    Parameters
    ----------
    reference : numpy.ndarray
        Logits from the fp32 torch model.
    candidate : numpy.ndarray
        Logits from the engine under test, same input.
    task : {"classification", "segmentation"}

    Returns
    -------
    Agreement
    """
    ref = np.asarray(reference)
    cand = np.asarray(candidate)
    if ref.shape != cand.shape:
        return Agreement(False, float("inf"), None, f"output shape {cand.shape} != {ref.shape}")
    if not np.all(np.isfinite(cand)):
        return Agreement(False, float("inf"), None, "output has NaN or inf")
    delta = max_prob_delta(ref, cand)
    if task == "classification":
        ok = delta <= PROB_TOLERANCE
        detail = f"max |Δp| {delta:.2g} (limit {PROB_TOLERANCE})"
        return Agreement(ok, delta, None, detail)
    if task == "segmentation":
        if ref.ndim != 4:
            return Agreement(False, delta, None, f"segmentation output must be N×K×H×W, got {ref.shape}")
        k = max(2, ref.shape[1])
        dice = mask_dice(masks(ref), masks(cand), k)
        if ref.shape[1] > 1:  # multi-label reading: each channel thresholded on its own
            dice = min(dice, threshold_dice(ref, cand))
        ok = dice >= DICE_MINIMUM
        detail = f"mask Dice {dice:.4f} (minimum {DICE_MINIMUM}); max |Δp| {delta:.2g}"
        return Agreement(ok, delta, dice, detail)
    raise ValueError(f"unknown task {task!r}; expected one of 'classification', 'segmentation'")
