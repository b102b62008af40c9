"""Metrics against values computed by hand (scikit-learn's definitions)."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest

from trainer import metrics as m

# y_true / y_pred of three classes; by hand:
#   cm = [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
#   precision = [1/2, 2/3, 1/1], recall = [1/2, 2/2, 1/2]
#   f1 = [1/2, 2·(2/3)/(5/3) = 4/5, 2·(1/2)/(3/2) = 2/3], accuracy = 4/6
T3 = [0, 0, 1, 1, 2, 2]
P3 = [0, 1, 1, 1, 2, 0]


def test_confusion_matrix_and_per_class_scores():
    cm = m.confusion_matrix(T3, P3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    precision, recall, f1, support = m.precision_recall_f1(cm)
    np.testing.assert_allclose(precision, [1 / 2, 2 / 3, 1])
    np.testing.assert_allclose(recall, [1 / 2, 1, 1 / 2])
    np.testing.assert_allclose(f1, [1 / 2, 4 / 5, 2 / 3])
    np.testing.assert_array_equal(support, [2, 2, 2])
    assert m.accuracy(T3, P3) == pytest.approx(4 / 6)


def test_confusion_matrix_with_unseen_class_and_zero_division():
    cm = m.confusion_matrix([0, 0, 1], [0, 0, 0], num_classes=3)
    np.testing.assert_array_equal(cm, [[2, 0, 0], [1, 0, 0], [0, 0, 0]])
    precision, recall, f1, _ = m.precision_recall_f1(cm)
    np.testing.assert_allclose(precision, [2 / 3, 0, 0])  # never predicted → 0, like zero_division=0
    np.testing.assert_allclose(recall, [1, 0, 0])
    np.testing.assert_allclose(f1, [0.8, 0, 0])
    with pytest.raises(ValueError, match="not below num_classes"):
        m.confusion_matrix([0, 3], [0, 0], num_classes=2)


def test_classification_report_averages():
    rep = m.classification_report(T3, P3, class_names=["a", "b", "c"])
    assert rep["classes"]["b"] == {"precision": pytest.approx(2 / 3), "recall": 1.0,
                                   "f1": pytest.approx(0.8), "support": 2}
    assert rep["macro"]["f1"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)
    assert rep["weighted"]["precision"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)  # equal support
    assert rep["accuracy"] == pytest.approx(4 / 6) and rep["confusion_matrix"][2] == [1, 0, 1]


# scikit-learn's documented example: roc_curve([1, 1, 2, 2], [.1, .4, .35, .8], pos_label=2)
Y4, S4 = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]


def test_roc_curve_known_example():
    fpr, tpr, thr = m.roc_curve(Y4, S4)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    np.testing.assert_allclose(thr, [np.inf, 0.8, 0.4, 0.35, 0.1])
    assert m.roc_auc(Y4, S4) == pytest.approx(0.75)


def test_roc_curve_drops_collinear_points_only_when_asked():
    y, s = [1, 1, 0, 0], [0.9, 0.8, 0.7, 0.6]
    fpr, tpr, thr = m.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, [0, 0, 0, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 1, 1, 1])
    fpr, tpr, thr = m.roc_curve(y, s)
    np.testing.assert_allclose(fpr, [0, 0, 0, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 1, 1])
    np.testing.assert_allclose(thr, [np.inf, 0.9, 0.8, 0.6])


def test_auc_of_perfect_inverted_and_tied_scorers():
    y = [0, 0, 0, 1, 1]
    good = [0.1, 0.2, 0.3, 0.8, 0.9]
    assert m.roc_auc(y, good) == 1.0
    assert m.roc_auc(y, [-v for v in good]) == 0.0
    assert m.roc_auc(y, [0.5] * 5) == 0.5
    assert m.roc_auc([0, 1, 0, 1], [0.2, 0.2, 0.1, 0.3]) == pytest.approx(0.875)  # a tie counts 1/2


def test_auc_equals_the_pairwise_probability():
    """AUC = P(score of a positive > score of a negative) + ½ P(tie), checked by brute force."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.integers(0, 2, 30)
        y[:2] = [0, 1]
        s = np.round(rng.random(30), 1)  # coarse scores: many ties
        pos, neg = s[y == 1], s[y == 0]
        pairs = [(p > q) + 0.5 * (p == q) for p, q in product(pos, neg)]
        assert m.roc_auc(y, s) == pytest.approx(np.mean(pairs))


def test_roc_needs_both_classes():
    with pytest.raises(ValueError, match="both positives and negatives"):
        m.roc_auc([1, 1, 1], [0.1, 0.2, 0.3])


def test_roc_auc_one_vs_rest():
    y = [0, 0, 1, 1, 2, 2]
    perfect = np.eye(3)[y] * 0.8 + 0.1
    assert m.roc_auc_ovr(y, perfect) == 1.0
    # class 0: positives score [.9, .2], negatives [.3, .3, .1, .1]; .9 beats all 4 and .2
    # beats the two .1s → (4 + 2) / 8 = 0.75. Classes 1 and 2 stay perfect.
    p = perfect.copy()
    p[:, 0] = [0.9, 0.2, 0.3, 0.3, 0.1, 0.1]
    assert m.roc_auc_ovr(y, p) == pytest.approx((0.75 + 1 + 1) / 3)
    y_w = [0, 0, 0, 0, 1, 2]  # prevalence 4:1:1 → weights 4/6, 1/6, 1/6
    p_w = np.eye(3)[y_w] * 0.8 + 0.1
    p_w[:, 0] = [0.9, 0.2, 0.8, 0.7, 0.3, 0.1]  # class 0: 0.9, 0.8, 0.7 beat both; 0.2 beats 0.1 → 7/8
    assert m.roc_auc_ovr(y_w, p_w, "weighted") == pytest.approx(4 / 6 * 7 / 8 + 2 / 6)
    with pytest.raises(ValueError, match="class 2 has 0 of 4"):
        m.roc_auc_ovr([0, 1, 0, 1], np.full((4, 3), 1 / 3))


def test_sensitivity_specificity_at_threshold():
    # at 0.35: called positive .4, .35, .8 → TP 2 of 2, TN 1 of 2
    assert m.sensitivity_specificity(Y4, S4, 0.35) == (1.0, 0.5)
    assert m.sensitivity_specificity(Y4, S4, 0.5) == (0.5, 1.0)
    assert m.sensitivity_specificity(Y4, S4, 0.0) == (1.0, 0.0)


def test_pick_threshold():
    # J per threshold: .8 → .5−0, .4 → .5−.5, .35 → 1−.5, .1 → 1−1; tie of .8 and .35 → highest
    youden = m.pick_threshold(Y4, S4)
    assert (youden.threshold, youden.sensitivity, youden.specificity) == (0.8, 0.5, 1.0)
    screen = m.pick_threshold(Y4, S4, "sensitivity", target_sensitivity=0.9)
    assert (screen.threshold, screen.sensitivity, screen.specificity) == (0.35, 1.0, 0.5)
    assert m.pick_threshold(Y4, S4, "sensitivity", 0.5).threshold == 0.8
    with pytest.raises(ValueError):
        m.pick_threshold(Y4, S4, "sensitivity")
    with pytest.raises(ValueError):
        m.pick_threshold(Y4, S4, "magic")


def test_dice_and_iou_by_hand():
    t = np.array([[0, 1], [1, 0]])
    p = np.array([[0, 1], [0, 1]])
    dice, iou = m.dice_iou(t, p, 2)
    # class 1: |A∩B| = 1, |A| = |B| = 2 → Dice 2/4, IoU 1/3; class 0 the same by symmetry
    np.testing.assert_allclose(dice, [0.5, 0.5])
    np.testing.assert_allclose(iou, [1 / 3, 1 / 3])
    np.testing.assert_allclose(m.dice_iou(t, t, 2)[0], [1, 1])


def test_dice_and_iou_with_empty_masks():
    empty = np.zeros((4, 4), int)
    spot = empty.copy()
    spot[1, 1] = 1
    dice, iou = m.dice_iou(empty, empty, 2)
    assert dice[0] == 1.0 and np.isnan(dice[1]) and np.isnan(iou[1])  # absent from both: undefined
    assert m.dice_iou(empty, empty, 2, empty=1.0)[0][1] == 1.0
    assert m.dice_iou(empty, spot, 2)[0][1] == 0.0  # false alarm
    assert m.dice_iou(spot, empty, 2)[1][1] == 0.0  # miss
    assert m.mean_foreground([1.0, np.nan]) != m.mean_foreground([1.0, np.nan])  # NaN
    assert m.mean_foreground([0.9, 0.5, np.nan, 0.7]) == pytest.approx(0.6)


def test_overlap_counts_add_up_over_batches():
    rng = np.random.default_rng(1)
    t, p = rng.integers(0, 3, (4, 8, 8)), rng.integers(0, 3, (4, 8, 8))
    total = m.overlap(t[:2], p[:2], 3) + m.overlap(t[2:], p[2:], 3)
    np.testing.assert_allclose(total.dice(), m.dice_iou(t, p, 3)[0])
    np.testing.assert_allclose(total.iou(), m.dice_iou(t, p, 3)[1])
    with pytest.raises(ValueError, match="not below num_classes"):
        m.overlap(t, p, 2)
    with pytest.raises(ValueError, match="differ in shape"):
        m.overlap(t[0], p, 3)


def test_bootstrap_draws_whole_patients_and_pairs_the_statistics():
    from trainer.metrics import bootstrap_intervals

    values = np.array([0.0, 0.0, 0.0, 0.0, 1.0])
    mean = lambda idx: values[idx].mean()  # noqa: E731
    by_image, = bootstrap_intervals([mean], 5, resamples=400)
    by_patient, same, diff = bootstrap_intervals(
        [mean, mean, lambda idx: mean(idx) - mean(idx)], 5, ["a", "a", "a", "a", "b"],
        resamples=400)
    assert by_image[1] < 1.0 and by_patient == (0.0, 1.0)  # patient b alone: mean 1
    assert same == by_patient and diff == (0.0, 0.0)


def test_bootstrap_gives_no_interval_where_the_statistic_is_mostly_undefined():
    from trainer.metrics import bootstrap_intervals, roc_auc

    truth, scores = np.array([0, 1, 0, 1]), np.array([0.2, 0.9, 0.4, 0.6])

    def auc(idx):  # as an AUC of a resample holding one class only
        return roc_auc(truth[idx], scores[idx])

    def undefined_with_sample_0(idx):  # drawn in 1 - (3/4)**4 = 68 % of the resamples
        if 0 in idx:
            raise ValueError("undefined")
        return 1.0

    defined, undefined = bootstrap_intervals([auc, undefined_with_sample_0], 4, resamples=400)
    assert defined is not None and defined[1] == 1.0 and undefined is None


def test_the_threshold_sits_in_the_middle_of_the_gap_the_validation_leaves():
    """Every threshold between the picked score and the next lower one calls the
    validation images alike: the middle keeps a margin both ways, and a perfectly
    separated, saturated validation set no longer gives 'P >= 1'."""
    from trainer.evaluate import middle_of_the_gap

    assert middle_of_the_gap(S4, m.pick_threshold(Y4, S4).threshold) == pytest.approx(0.6)  # .8 and .4
    assert middle_of_the_gap([0.0, 1e-6, 1.0, 1.0], 1.0) == pytest.approx(0.5)
    assert middle_of_the_gap([0.7, 0.9], 0.7) == 0.7  # nothing below: the score itself
