"""Choosing the layout a study opens in, from hanging protocols. No Qt.

:func:`choose_layout` takes the study being opened (and the patient's other open
studies, candidates for "prior"), tries each protocol of
:mod:`medview.core.hanging_protocols` in order and returns the first that applies, as
a :class:`Layout`: rows × columns and, per cell, which series of which study in which
plane. The viewer applies it; tests check it on real and generated studies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from medview.core.hanging_protocols import Protocol, SeriesRule, ViewportRule, load_protocols
from medview.core.study import Series, Study
from medview.core.volume import refusal

CURRENT, PRIOR = "current", "prior"
NO_PROTOCOL = "(no protocol applies)"


@dataclass(frozen=True)
class Cell:
    """One viewport of a layout.

    Attributes
    ----------
    series : Series
    plane : str or None
        ``"axial"``, ``"coronal"`` or ``"sagittal"`` (an MPR plane of a volume), or None
        for the series' own images.
    study : str
        ``"current"`` or ``"prior"``.
    """

    series: Series
    plane: str | None = None
    study: str = CURRENT


@dataclass(frozen=True)
class Layout:
    """Rows × columns of viewports; ``cells`` row by row (None: an empty viewport)."""

    rows: int
    cols: int
    cells: tuple[Cell | None, ...]
    protocol: str


def choose_layout(studies: Sequence[Study], protocols: Sequence[Protocol] | None = None
                  ) -> Layout:
    """The layout for ``studies[0]``, the study being opened.

    Parameters
    ----------
    studies : sequence of Study
        The current study first, then any other open studies; those of the same patient
        dated before it are its priors, the most recent first.
    protocols : sequence of Protocol, optional
        In order of preference; by default the user's then the shipped ones
        (:func:`~medview.core.hanging_protocols.load_protocols`).

    Returns
    -------
    Layout
        From the first protocol that applies; one viewport with the first series when
        none does (an empty one for a study without series).
    """
    if protocols is None:
        protocols = load_protocols()[0]
    current = studies[0]
    priors = prior_studies(current, studies[1:])
    for protocol in protocols:
        if applies(protocol, current):
            cells = _fill(protocol, current, priors)
            if cells is not None:
                return _shape(protocol, cells)
    first = Cell(current.series[0]) if current.series else None
    return Layout(1, 1, (first,), NO_PROTOCOL)


def prior_studies(current: Study, others: Sequence[Study]) -> list[Study]:
    """The studies of ``current``'s patient dated before it, the most recent first (a
    study without a date counts as earlier)."""
    mine = [s for s in others if s is not current and s.uid != current.uid
            and same_patient(s, current) and (not s.date or not current.date
                                               or s.date < current.date)]
    return sorted(mine, key=lambda s: (s.date, s.time), reverse=True)


def applies(protocol: Protocol, study: Study) -> bool:
    """Whether ``study`` matches the protocol's ``match`` (before viewports are filled)."""
    if protocol.modality and not set(protocol.modality) & {m.upper() for m in study.modalities}:
        return False
    if protocol.body_part and not any(protocol.body_part.search(_body_part(s))
                                      for s in study.series):
        return False
    if protocol.description:
        texts = [study.description] + [s.description for s in study.series]
        if not any(protocol.description.search(t or "") for t in texts):
            return False
    return True


# -- filling viewports --------------------------------------------------------------


def _fill(protocol: Protocol, current: Study, priors: list[Study]) -> list[Cell | None] | None:
    placed: list[Cell | None] = []
    used: set[int] = set()
    for rule in protocol.viewports:
        cell = _place(rule, placed, current, priors, used)
        if cell is None and rule.otherwise is not None:
            cell = _place(rule.otherwise, placed, current, priors, used)
        if cell is None and rule.required:
            return None
        if cell is not None:
            used.add(cell.series.id)
        placed.append(cell)
    if sum(c is not None for c in placed) < protocol.min_viewports:
        return None
    return placed


def _place(rule: ViewportRule, placed: list[Cell | None], current: Study,
           priors: list[Study], used: set[int]) -> Cell | None:
    wanted = rule.series
    if wanted.same_as is not None:
        ref = placed[wanted.same_as - 1]
        return Cell(ref.series, rule.plane, ref.study) if ref is not None else None
    like = placed[wanted.like - 1] if wanted.like is not None else None
    if wanted.like is not None and like is None:
        return None
    for study in ([current] if rule.study == CURRENT else priors):
        candidates = [s for s in study.series if s.id not in used and _accepts(wanted, s)]
        if like is not None:
            candidates = [s for s in candidates if s.modality == like.series.modality]
            candidates.sort(key=lambda s: _likeness(s, like.series), reverse=True)
        elif wanted.pick == "most_images":
            candidates.sort(key=len, reverse=True)
        if candidates:
            return Cell(candidates[0], rule.plane, rule.study)
    return None


def _accepts(rule: SeriesRule, series: Series) -> bool:
    if rule.modality and series.modality.upper() not in rule.modality:
        return False
    description = series.description or ""
    if rule.description and not rule.description.search(description):
        return False
    if rule.exclude and rule.exclude.search(description):
        return False
    if rule.body_part and not rule.body_part.search(_body_part(series)):
        return False
    if rule.volume is not None and (refusal(series) is None) != rule.volume:
        return False
    return True


def _likeness(series: Series, model: Series) -> tuple[int, ...]:
    """How much ``series`` looks like ``model``: body part, view, side, description."""
    a, b = _header(series), _header(model)
    same = [_tag(a, k) == _tag(b, k) and _tag(a, k) != "" for k in
            ("BodyPartExamined", "ViewPosition", "ImageLaterality", "Laterality")]
    same.append((series.description or "").casefold() == (model.description or "").casefold())
    return tuple(int(x) for x in same)


def fit_grid(rows: int, cols: int, n: int) -> tuple[int, int]:
    """A ``rows`` × ``cols`` grid shrunk to hold ``n`` viewports: one row of ``n`` when
    they fit in a row, else as few rows as they need."""
    if n <= cols:
        return 1, max(1, n)
    return min(rows, math.ceil(n / cols)), cols


def _shape(protocol: Protocol, placed: list[Cell | None]) -> Layout:
    """The protocol's grid, shrunk to the viewports filled (in order)."""
    cells = [c for c in placed if c is not None]
    rows, cols = fit_grid(protocol.rows, protocol.cols, len(cells))
    cells += [None] * (rows * cols - len(cells))
    return Layout(rows, cols, tuple(cells), protocol.name)


# -- headers ------------------------------------------------------------------------


def _header(series: Series):
    sources = series.frames.sources()
    return sources[0][1] if sources else None


def _tag(header, keyword: str) -> str:
    if header is None:
        return ""
    return str(header.get(keyword, "") or "").strip().upper()


def _body_part(series: Series) -> str:
    return _tag(_header(series), "BodyPartExamined")


def same_patient(a: Study, b: Study) -> bool:
    """Whether two studies are of one patient (one Patient object, or equal ID and name)."""
    if a.patient is not None and a.patient is b.patient:
        return True
    pa, pb = a.patient, b.patient
    return bool(pa and pb and pa.id and pa.id == pb.id and pa.name == pb.name)
