"""A model no better than chance is named as such (trainer/chance.py)."""

from __future__ import annotations

from trainer.chance import chance_warning


def _h(**metrics):
    return [{"epoch": 1, "metrics": {"auc": 0.9, "balanced_accuracy": 0.9, "dice": 0.9}},
            {"epoch": 2, "metrics": metrics}]


def test_auc_at_or_below_chance_is_flagged_from_the_best_epoch():
    assert "AUC is 0.340" in chance_warning("classification", _h(auc=0.34), {"epoch": 2}, 2)
    assert "AUC is 0.550" in chance_warning("classification", _h(auc=0.55), {"epoch": 2}, 2)
    assert chance_warning("classification", _h(auc=0.56), {"epoch": 2}, 2) is None
    assert chance_warning("classification", _h(auc=0.34), {"epoch": 1}, 2) is None  # epoch 1 was best


def test_without_auc_balanced_accuracy_is_judged_against_one_in_c():
    h = _h(auc=None, balanced_accuracy=0.36)
    assert "balanced accuracy is 0.360, at or below chance (1/3)" in chance_warning("classification", h,
                                                                                   {"epoch": 2}, 3)
    assert chance_warning("classification", _h(auc=None, balanced_accuracy=0.5), {"epoch": 2}, 3) is None


def test_a_segmenter_that_finds_nothing_is_flagged():
    assert "Dice is 0.010" in chance_warning("segmentation", _h(dice=0.01), {"epoch": 2}, 2)
    assert chance_warning("segmentation", _h(dice=0.3), {"epoch": 2}, 2) is None


def test_no_best_epoch_judges_the_last_one():
    assert "AUC is 0.400" in chance_warning("classification", _h(auc=0.4), {"epoch": 0}, 2)
    assert chance_warning("classification", [], {"epoch": 0}, 2) is None
