"""trainer.metrics against scikit-learn on seeded random inputs (its definitions are promised).

Each case draws labels and scores from one seed: few samples and coarse scores so that
ties, unseen classes and single-class predictions occur often. The deliberate differences
named in ``trainer/metrics.py`` are checked as differences: undefined ROC raises instead of
warning, and a class in neither label map scores ``empty`` (scikit-learn: ``zero_division``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as sk

from trainer import metrics as m

SEEDS = range(60)


def draw_labels(rng: np.random.Generator, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """y_true and y_pred of 1-40 samples; some classes are often missing from either."""
    n = int(rng.integers(1, 41))
    used = rng.choice(classes, size=int(rng.integers(1, classes + 1)), replace=False)
    y_true = rng.choice(used, size=n)
    y_pred = np.where(rng.random(n) < 0.5, y_true, rng.integers(0, classes, n))
    return y_true, y_pred


def draw_binary(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Both classes present; scores rounded to few levels, so ties are common."""
    n = int(rng.integers(2, 60))
    y = rng.integers(0, 2, n)
    y[rng.choice(n, 2, replace=False)] = [0, 1]
    levels = int(rng.choice([2, 3, 5, 10, 1000]))
    scores = np.round(rng.random(n) * levels + y * rng.random(), 0) / levels
    return y, scores


@pytest.mark.parametrize("seed", SEEDS)
def test_classification_counts_and_ratios(seed):
    rng = np.random.default_rng(seed)
    classes = int(rng.integers(2, 6))
    t, p = draw_labels(rng, classes)
    labels = list(range(classes))
    cm = m.confusion_matrix(t, p, classes)
    np.testing.assert_array_equal(cm, sk.confusion_matrix(t, p, labels=labels))
    assert m.accuracy(t, p) == pytest.approx(sk.accuracy_score(t, p))
    ours = m.precision_recall_f1(cm)
    theirs = sk.precision_recall_fscore_support(t, p, labels=labels, zero_division=0)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    report = m.classification_report(t, p, num_classes=classes)
    for average in ("macro", "weighted"):
        want = sk.precision_recall_fscore_support(t, p, labels=labels, average=average,
                                                  zero_division=0)[:3]
        got = [report[average][k] for k in ("precision", "recall", "f1")]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("seed", SEEDS)
def test_roc_curve_and_auc_with_ties(seed):
    y, s = draw_binary(np.random.default_rng(seed))
    for drop in (True, False):
        for a, b in zip(m.roc_curve(y, s, drop_intermediate=drop),
                        sk.roc_curve(y, s, drop_intermediate=drop)):
            np.testing.assert_allclose(a, b, rtol=1e-12)
    assert m.roc_auc(y, s) == pytest.approx(sk.roc_auc_score(y, s), abs=1e-12)
    fpr, tpr, _ = sk.roc_curve(y, s)
    assert m.auc(fpr, tpr) == pytest.approx(sk.auc(fpr, tpr), abs=1e-12)
    assert m.auc(fpr[::-1], tpr[::-1]) == pytest.approx(sk.auc(fpr[::-1], tpr[::-1]), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_sensitivity_specificity_is_recall_of_each_class(seed):
    y, s = draw_binary(np.random.default_rng(seed))
    threshold = float(np.random.default_rng(seed + 1000).choice(s))
    called = (s >= threshold).astype(int)
    sens, spec = m.sensitivity_specificity(y, s, threshold)
    assert sens == pytest.approx(sk.recall_score(y, called, pos_label=1))
    assert spec == pytest.approx(sk.recall_score(y, called, pos_label=0))


@pytest.mark.parametrize("seed", SEEDS)
def test_one_vs_rest_auc(seed):
    rng = np.random.default_rng(seed)
    classes = int(rng.integers(3, 6))
    n = int(rng.integers(classes * 2, 60))
    y = np.r_[np.arange(classes), rng.integers(0, classes, n - classes)]  # every class present
    logits = np.round(rng.normal(size=(n, classes)) + 1.5 * np.eye(classes)[y], 1)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    for average in ("macro", "weighted"):
        want = sk.roc_auc_score(y, probs, multi_class="ovr", average=average)
        assert m.roc_auc_ovr(y, probs, average) == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_dice_and_iou_are_per_label_f1_and_jaccard(seed):
    rng = np.random.default_rng(seed)
    classes = int(rng.integers(2, 5))
    shape = tuple(int(v) for v in rng.integers(1, 9, 2))
    t = rng.integers(0, classes, shape)
    p = np.where(rng.random(shape) < 0.6, t, rng.integers(0, classes, shape))
    t[t == classes - 1] = 0  # the last class is often absent from one or both maps
    labels = list(range(classes))
    for empty in (1.0, 0.0):
        dice, iou = m.dice_iou(t, p, classes, empty=empty)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # labels absent from both maps
            f1 = sk.f1_score(t.ravel(), p.ravel(), labels=labels, average=None,
                             zero_division=empty)
            jac = sk.jaccard_score(t.ravel(), p.ravel(), labels=labels, average=None,
                                   zero_division=empty)
        np.testing.assert_allclose(dice, f1, rtol=1e-12)
        np.testing.assert_allclose(iou, jac, rtol=1e-12)


def test_single_class_inputs():
    # only one class in the truth: scikit-learn warns and returns NaN; we refuse
    y, s = np.ones(5, int), np.linspace(0, 1, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(sk.roc_curve(y, s)[0]).all()
    with pytest.raises(ValueError, match="positives and negatives"):
        m.roc_curve(y, s)
    with pytest.raises(ValueError, match="positives and negatives"):
        m.roc_auc(1 - y, s)
    # every sample and every prediction one class: counts and ratios still agree
    t = p = np.full(7, 2)
    np.testing.assert_array_equal(m.confusion_matrix(t, p, 4),
                                  sk.confusion_matrix(t, p, labels=range(4)))
    for a, b in zip(m.precision_recall_f1(m.confusion_matrix(t, p, 4)),
                    sk.precision_recall_fscore_support(t, p, labels=range(4), zero_division=0)):
        np.testing.assert_array_equal(a, b)
    assert m.accuracy(t, p) == sk.accuracy_score(t, p) == 1.0
