"""Splits: complete and disjoint, stratified, never leaking a patient, deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.data.splits import SplitError, group_ids, stratified_group_kfold, stratified_split

SEEDS = range(8)


def _cohort(seed: int, n_patients: int = 60, positive_rate: float = 0.25):
    """Patients with 1–4 images each; labels mostly per patient (a follow-up can differ)."""
    rng = np.random.default_rng(1000 + seed)
    sizes = rng.integers(1, 5, n_patients)
    patients = np.repeat(np.arange(n_patients), sizes)
    sick = rng.random(n_patients) < positive_rate
    labels = np.where(sick[patients] ^ (rng.random(patients.size) < 0.1), "lesion", "normal")
    groups = [f"P{p}" if rng.random() > 0.1 else None for p in patients]  # some without ID
    return labels, groups


def _assert_no_leak(parts, groups):
    owner: dict = {}
    for k, idx in enumerate(parts):
        for i in idx:
            if groups[i] is not None:
                assert owner.setdefault(groups[i], k) == k, f"patient {groups[i]} on two sides"


@pytest.mark.parametrize("seed", SEEDS)
def test_split_is_a_stratified_patient_partition(seed):
    labels, groups = _cohort(seed)
    split = stratified_split(labels, groups, val_fraction=0.15, test_fraction=0.15, seed=seed)
    parts = (split.train, split.val, split.test)
    everything = np.sort(np.concatenate(parts))
    np.testing.assert_array_equal(everything, np.arange(len(labels)))  # each sample exactly once
    _assert_no_leak(parts, groups)
    overall = np.mean(labels == "lesion")
    for idx, fraction in zip(parts, (0.7, 0.15, 0.15), strict=True):
        assert abs(idx.size / len(labels) - fraction) < 0.05
        assert abs(np.mean(labels[idx] == "lesion") - overall) < 0.08
    assert split.sizes() == {"train": split.train.size, "val": split.val.size, "test": split.test.size}


@pytest.mark.parametrize("seed", SEEDS)
def test_split_is_deterministic_per_seed(seed):
    labels, groups = _cohort(0)
    a = stratified_split(labels, groups, seed=seed)
    b = stratified_split(labels, groups, seed=seed)
    for x, y in zip((a.train, a.val, a.test), (b.train, b.val, b.test), strict=True):
        np.testing.assert_array_equal(x, y)


def test_different_seeds_give_different_splits():
    labels, groups = _cohort(0)
    vals = {tuple(stratified_split(labels, groups, seed=s).val) for s in SEEDS}
    assert len(vals) > len(SEEDS) // 2


def test_every_class_reaches_validation_and_test():
    labels = np.array(["a"] * 40 + ["b"] * 40 + ["rare"] * 10)
    for seed in SEEDS:
        split = stratified_split(labels, seed=seed)
        for part in (split.val, split.test):
            assert set(labels[part]) == {"a", "b", "rare"}


def test_small_parts_are_never_left_empty():
    split = stratified_split(["a", "b", "a", "b"], val_fraction=0.1, test_fraction=0.1)
    assert split.sizes() == {"train": 2, "val": 1, "test": 1}


def test_zero_test_fraction_gives_no_test_set():
    split = stratified_split(["a", "b"] * 10, val_fraction=0.2, test_fraction=0.0)
    assert split.test.size == 0 and split.val.size == 4


def test_too_few_patients_is_an_error():
    with pytest.raises(SplitError, match="too few patients"):
        stratified_split(["a", "b", "a", "b"], ["P1", "P1", "P2", "P2"])


@pytest.mark.parametrize("bad", [dict(val_fraction=0.6, test_fraction=0.5), dict(val_fraction=-0.1),
                                 dict(test_fraction=1.0)])
def test_bad_fractions_are_an_error(bad):
    with pytest.raises(SplitError, match="leave a share for training"):
        stratified_split(["a", "b"] * 5, **bad)


def test_group_ids_keep_ungrouped_samples_apart():
    ids = group_ids(["P1", None, "P2", "P1", None], 5)
    assert ids[0] == ids[3] and len(set(ids.tolist())) == 4
    np.testing.assert_array_equal(group_ids(None, 3), [0, 1, 2])
    with pytest.raises(SplitError):
        group_ids(["P1"], 2)


@pytest.mark.parametrize("seed", SEEDS)
def test_kfold_validates_every_sample_exactly_once(seed):
    labels, groups = _cohort(seed)
    folds = stratified_group_kfold(labels, groups, k=5, seed=seed)
    assert len(folds) == 5
    seen = np.concatenate([f.val for f in folds])
    np.testing.assert_array_equal(np.sort(seen), np.arange(len(labels)))
    overall = np.mean(labels == "lesion")
    for f in folds:
        np.testing.assert_array_equal(np.sort(np.concatenate([f.train, f.val])), np.arange(len(labels)))
        _assert_no_leak((f.train, f.val), groups)
        assert abs(np.mean(labels[f.val] == "lesion") - overall) < 0.1
    _assert_no_leak([f.val for f in folds], groups)


def test_kfold_needs_enough_patients():
    with pytest.raises(SplitError, match="needs at least 5 patients, found 3"):
        stratified_group_kfold(["a", "b", "a"], ["P1", "P2", "P3"], k=5)
    with pytest.raises(SplitError, match="k >= 2"):
        stratified_group_kfold(["a", "b"], k=1)
