"""Stratified, patient-aware data splits (numpy only).

Images of one patient resemble each other far more than images of different patients;
a model validated on a patient it also trained on looks better than it is. So splits are
made over *groups* (patients): every image of a group lands on the same side. Within that
constraint the class mix of each part follows the whole data set (stratification), so a
rare finding is not missing from validation by bad luck.

Groups are assigned greedily, largest first (ties in a seeded random order), each to the
part where it most reduces the squared distance between the per-class counts and their
targets, with each class weighted by 1 / its total so rare classes count as much as common
ones. The same labels, groups and seed always give the same split.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from medview.core.errors import MedviewError

__all__ = ["SplitError", "Split", "Fold", "group_ids", "stratified_split", "stratified_group_kfold"]


class SplitError(MedviewError, ValueError):
    """The data cannot be split as asked (e.g. too few patients); the message says why."""


@dataclass(frozen=True)
class Split:
    """Sample indices of the train, validation and test parts (sorted, disjoint, complete).

    Attributes
    ----------
    train, val, test : numpy.ndarray
        int64 indices into the samples; ``test`` (or ``val``) is empty when its
        fraction was 0.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def sizes(self) -> dict[str, int]:
        """``{"train": n, "val": n, "test": n}`` (for the ``job_started`` event)."""
        return {"train": int(self.train.size), "val": int(self.val.size), "test": int(self.test.size)}


@dataclass(frozen=True)
class Fold:
    """One fold of cross-validation: indices to train on and to validate on."""

    train: np.ndarray
    val: np.ndarray


def group_ids(groups: Sequence[Hashable | None] | None, n: int) -> np.ndarray:
    """Integer group of each sample; samples without a group (``None``) are each their own.

    Parameters
    ----------
    groups : sequence of hashable or None, or None
        A key per sample, e.g. the PatientID; ``None`` for the whole argument means
        every sample is its own group.
    n : int
        Number of samples.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` int64 ids ``0 … G-1``, numbered in order of first appearance.
    """
    if groups is None:
        return np.arange(n, dtype=np.int64)
    if len(groups) != n:
        raise SplitError(f"{len(groups)} group keys for {n} samples")
    ids: dict[Hashable, int] = {}
    out = np.empty(n, dtype=np.int64)
    for i, key in enumerate(groups):
        if key is None:
            out[i] = len(ids)
            ids[("__ungrouped__", i)] = out[i]
        else:
            out[i] = ids.setdefault(key, len(ids))
    return out


def stratified_split(labels: Sequence[Hashable], groups: Sequence[Hashable | None] | None = None, *,
                     val_fraction: float = 0.15, test_fraction: float = 0.15, seed: int = 0) -> Split:
    """Split samples into train / validation / test, stratified by label and grouped by patient.

    Parameters
    ----------
    labels : sequence of hashable
        Class (or stratum) of each sample.
    groups : sequence of hashable or None, optional
        Patient of each sample; ``None`` entries are their own group. Omitted: every
        sample is its own group.
    val_fraction, test_fraction : float
        Target shares of the samples, each in [0, 1), together below 1. The shares are
        met as closely as whole patients allow.
    seed : int
        Seed of the tie-breaking order; the same inputs and seed give the same split.

    Returns
    -------
    Split

    Raises
    ------
    SplitError
        If there are too few groups to give every requested part at least one.
    """
    fractions = np.array([1.0 - val_fraction - test_fraction, val_fraction, test_fraction])
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and fractions[0] > 0):
        raise SplitError(f"val_fraction ({val_fraction}) and test_fraction ({test_fraction}) must be "
                         "in [0, 1) and leave a share for training")
    y, g = _encode(labels, groups)
    part_of_group = _assign(y, g, fractions, np.random.default_rng(seed), ("train", "validation", "test"))
    parts = part_of_group[g]
    return Split(*(np.flatnonzero(parts == k) for k in range(3)))


def stratified_group_kfold(labels: Sequence[Hashable], groups: Sequence[Hashable | None] | None = None,
                           *, k: int = 5, seed: int = 0) -> list[Fold]:
    """Stratified group k-fold cross-validation.

    Every sample is validated exactly once; no patient is on both sides of any fold.

    Parameters
    ----------
    labels : sequence of hashable
        Class (or stratum) of each sample.
    groups : sequence of hashable or None, optional
        Patient of each sample (``None`` entries are their own group).
    k : int
        Number of folds, at least 2 and at most the number of groups.
    seed : int
        Seed of the tie-breaking order.

    Returns
    -------
    list of Fold
        ``k`` folds; fold ``i`` validates on the ``i``-th part and trains on the rest.

    Raises
    ------
    SplitError
        If ``k`` is below 2 or above the number of groups.
    """
    if k < 2:
        raise SplitError(f"k-fold needs k >= 2, got {k}")
    y, g = _encode(labels, groups)
    n_groups = int(g.max()) + 1 if g.size else 0
    if n_groups < k:
        raise SplitError(f"{k}-fold cross-validation needs at least {k} patients, found {n_groups}")
    names = tuple(f"fold {i + 1}" for i in range(k))
    parts = _assign(y, g, np.full(k, 1.0 / k), np.random.default_rng(seed), names)[g]
    return [Fold(np.flatnonzero(parts != i), np.flatnonzero(parts == i)) for i in range(k)]


# -- the assignment --------------------------------------------------------------------


def _encode(labels: Sequence[Hashable], groups: Sequence[Hashable | None] | None) -> tuple[np.ndarray, np.ndarray]:
    labels = list(labels)
    if not labels:
        raise SplitError("no samples to split")
    index: dict[Hashable, int] = {}
    y = np.array([index.setdefault(lab, len(index)) for lab in labels], dtype=np.int64)
    return y, group_ids(groups, len(labels))


def _assign(y: np.ndarray, g: np.ndarray, fractions: np.ndarray, rng: np.random.Generator,
            names: tuple[str, ...]) -> np.ndarray:
    """Part index of each group (see the module docstring for the rule)."""
    n_groups, n_classes = int(g.max()) + 1, int(y.max()) + 1
    counts = np.zeros((n_groups, n_classes))
    np.add.at(counts, (g, y), 1.0)
    target = np.outer(fractions, counts.sum(axis=0))
    weight = 1.0 / counts.sum(axis=0)
    wanted = np.flatnonzero(fractions > 0)
    have = np.zeros_like(target)
    part = np.full(n_groups, -1, dtype=np.int64)
    shuffled = rng.permutation(n_groups)
    for grp in shuffled[np.argsort(-counts[shuffled].sum(axis=1), kind="stable")]:
        x = counts[grp]
        # growth of sum_c w_c (have - target)^2 if this group joins each part
        cost = (x * (2.0 * (have[wanted] - target[wanted]) + x)) @ weight
        best = wanted[int(np.argmin(cost))]
        have[best] += x
        part[grp] = best
    _fill_empty_parts(part, counts, wanted, names)
    return part


def _fill_empty_parts(part: np.ndarray, counts: np.ndarray, wanted: np.ndarray, names: tuple[str, ...]) -> None:
    """Give each requested part that ended up empty the smallest group of the part holding most groups.

    The greedy rule can leave a small part empty when a few big patients dominate; a
    validation set of nothing would be worse than a slightly lopsided one.
    """
    sizes = counts.sum(axis=1)
    for p in wanted:
        if np.any(part == p):
            continue
        n_in = np.bincount(part, minlength=len(names))
        donor = int(np.argmax(n_in))
        if n_in[donor] < 2:
            raise SplitError(f"too few patients ({len(part)}) to give the {names[p]} set any")
        members = np.flatnonzero(part == donor)
        part[members[int(np.argmin(sizes[members]))]] = p
