"""The tolerance checks that decide whether a faster engine or lower precision may be used."""

from __future__ import annotations

import numpy as np
import pytest

from medview.inference.engines.precision import DICE_MINIMUM, PROB_TOLERANCE, compare, mask_dice, probabilities


def test_softmax_and_sigmoid():
    p = probabilities(np.array([[0.0, 0.0], [10.0, -10.0]]))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[0], [0.5, 0.5])
    np.testing.assert_allclose(probabilities(np.array([[0.0]])), [[0.5]])


def test_classification_within_and_outside_tolerance():
    ref = np.array([[2.0, 0.0, -1.0]], dtype=np.float32)
    assert compare(ref, ref + 1e-4, "classification").ok
    # shifting one logit by 0.2 moves its probability by ~0.03 > 0.02
    worse = ref.copy()
    worse[0, 0] += 0.2
    result = compare(ref, worse, "classification")
    assert not result.ok and result.max_prob_delta > PROB_TOLERANCE
    assert "0.02" in result.detail


def test_multilabel_reading_is_checked_too():
    # adding a constant to every logit leaves the softmax unchanged, not the sigmoids
    ref = np.zeros((1, 3), np.float32)
    result = compare(ref, ref + 0.2, "classification")
    assert not result.ok and 0.04 < result.max_prob_delta < 0.06


def test_multilabel_segmentation_masks_are_checked_too():
    ref = np.full((1, 2, 10, 10), -1.0, np.float32)
    ref[:, 0, :5] = 2.0  # channel 0 above 0 in the top half; argmax is channel 0 there
    cand = ref.copy()
    cand[:, 1, :5] = 1.0  # channel 1 now also "on" in the top half: argmax unchanged
    from medview.inference.engines.precision import mask_dice, masks

    assert mask_dice(masks(ref), masks(cand), 2) == 1.0
    assert not compare(ref, cand, "segmentation").ok


def test_classification_single_logit_uses_sigmoid():
    ref = np.array([[0.0]], dtype=np.float32)
    assert compare(ref, ref + 0.05, "classification").ok  # Δp ≈ 0.0125
    assert not compare(ref, ref + 0.1, "classification").ok  # Δp ≈ 0.025


def test_segmentation_dice():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
    assert compare(ref, ref, "segmentation").dice == 1.0
    # relabel 5 % of the pixels: push another class's logit far above the rest
    cand = ref.copy()
    labels = ref.argmax(axis=1)[0]
    ys, xs = np.unravel_index(rng.choice(32 * 32, size=32 * 32 // 20, replace=False), (32, 32))
    cand[0, (labels[ys, xs] + 1) % 3, ys, xs] = 100.0
    result = compare(ref, cand, "segmentation")
    assert result.dice is not None and result.dice < DICE_MINIMUM and not result.ok


def test_segmentation_binary_channel_thresholds_at_zero():
    ref = np.full((1, 1, 10, 10), -1.0, dtype=np.float32)
    ref[..., :5, :] = 1.0  # half foreground
    assert compare(ref, ref * 0.5, "segmentation").ok  # same signs, same mask
    flipped = ref.copy()
    flipped[..., 4, :] = -1.0  # lose one of five foreground rows
    assert not compare(ref, flipped, "segmentation").ok


def test_mask_dice_ignores_absent_classes():
    a = np.zeros((4, 4), int)
    assert mask_dice(a, a, 5) == 1.0


@pytest.mark.parametrize("bad", ["shape", "nan"])
def test_bad_outputs_fail(bad):
    ref = np.zeros((1, 3), np.float32)
    cand = np.zeros((1, 4), np.float32) if bad == "shape" else np.array([[np.nan, 0, 0]], np.float32)
    result = compare(ref, cand, "classification")
    assert not result.ok and result.max_prob_delta == float("inf")


def test_unknown_task():
    with pytest.raises(ValueError, match="unknown task"):
        compare(np.zeros((1, 2)), np.zeros((1, 2)), "detection")
