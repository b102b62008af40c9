"""A series calibrated by the reader, without Qt: which calibration line is in force and
stamping its spacing on every annotation of the series.

The calibration is itself an annotation (kind ``calibration``: a line and the length
the reader typed), so it is drawn, moved, deleted and saved like any other, and a
reopened study comes back calibrated. One line per series is in force, the newest;
its spacing (:func:`medview.core.geometry.user_spacing`) is stamped on each annotation
of the series as :attr:`~medview.core.annotations.Annotation.calibration`, which is what
they measure with and what their labels and saved data name.
"""

from __future__ import annotations

from medview.core.annotations import CALIBRATION, Annotation, AnnotationStore

Calibration = tuple[float, float]   # (row_mm, col_mm)


def lines(store: AnnotationStore, keys: set) -> list[tuple[tuple, Annotation]]:
    """The calibration lines on the images ``keys`` (one series), oldest first."""
    found = [(k, a) for k, items in store.items() if k in keys
             for a in items if a.kind == CALIBRATION]
    return sorted(found, key=lambda item: item[1].id)


def in_force(store: AnnotationStore, keys: set) -> Calibration | None:
    """The spacing of the newest calibration line of the series that has a length."""
    for _, a in reversed(lines(store, keys)):
        if a.calibration is not None:
            return a.calibration
    return None


def update(store: AnnotationStore, keys: set, frame) -> Calibration | None:
    """Bring the series up to date after a change on ``frame`` (the image shown).

    Recomputes the calibration lines on ``frame`` from their points and typed length
    (a line may have been moved), then stamps the calibration in force on every other
    annotation of the series (None: back to the images' own spacing). Returns it.
    """
    from medview.core import geometry

    for a in store.on(frame.key):
        if a.kind == CALIBRATION and a.known_mm is not None and a.complete:
            try:
                sp = geometry.user_spacing(frame.spacing, a.points[0], a.points[1], a.known_mm)
                value = (sp.row_mm, sp.col_mm)
            except ValueError:  # dragged to zero length: calibrates nothing
                value = None
            _stamp(a, value)
    calibration = in_force(store, keys)
    for k, items in store.items():
        if k in keys:
            for a in items:
                if a.kind != CALIBRATION:
                    _stamp(a, calibration)
    return calibration


def keep_only(store: AnnotationStore, keys: set, line: Annotation) -> None:
    """Remove the series' other calibration lines: one calibration per series."""
    for k, a in lines(store, keys):
        if a is not line:
            store.remove(k, a)


def _stamp(a: Annotation, value: Calibration | None) -> None:
    if a.calibration != value:
        a.calibration = value
        a._cache = None
