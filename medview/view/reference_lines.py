"""Cross-reference lines: where another view's plane cuts this view's image. No Qt.

Two image planes that are not parallel meet in a line of patient space. Drawn on one
image, clipped to the part that lies inside both images, it shows where the other view
is (the classic localiser line; in MPR the lines of the three planes cross at the 3-D
cursor). A thick slab adds its two faces, ``± slab/2`` mm from the plane.

Image positions are core ``(row, col)`` with pixel centres on integers; an image of
``(rows, cols)`` covers ``[-0.5, rows - 0.5] × [-0.5, cols - 0.5]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medview.view.links import PARALLEL, ViewLink

RC = tuple[float, float]
Segment = tuple[RC, RC]


def plane_intersection(a, b, offset_mm: float = 0.0) -> tuple[np.ndarray, np.ndarray] | None:
    """The line where two image planes meet, as (a point, a unit direction) in patient
    space; None when they are parallel (within :data:`~medview.view.links.PARALLEL`).

    ``offset_mm`` moves plane ``b`` along its normal first (a slab face).
    """
    na, nb = np.asarray(a.normal, float), np.asarray(b.normal, float)
    direction = np.cross(na, nb)
    if np.linalg.norm(direction) < np.sqrt(1.0 - PARALLEL ** 2):
        return None
    direction /= np.linalg.norm(direction)
    da = float(na @ a.origin)
    db = float(nb @ b.origin) + offset_mm
    point = np.linalg.solve(np.stack([na, nb, direction]), np.array([da, db, 0.0]))
    return point, direction


def _to_rc(plane, point) -> np.ndarray:
    """(row, col) of a patient point in ``plane`` (projected onto it)."""
    offset = np.asarray(point, float) - plane.origin
    return np.array([offset @ plane.col_cosine / plane.spacing.row_mm,
                     offset @ plane.row_cosine / plane.spacing.col_mm])


def _clip(plane, shape, point, direction, t0: float, t1: float) -> tuple[float, float]:
    """The range of ``t`` in ``[t0, t1]`` for which ``point + t·direction`` lies over the
    image (``shape`` rows × cols) of ``plane``; empty when ``t0 > t1``."""
    start = _to_rc(plane, point)
    along = _to_rc(plane, np.asarray(point, float) + direction) - start
    for axis, size in enumerate(shape):
        lo, hi = -0.5, size - 0.5
        if abs(along[axis]) < 1e-12:
            if not lo <= start[axis] <= hi:
                return 1.0, 0.0
            continue
        ta, tb = (lo - start[axis]) / along[axis], (hi - start[axis]) / along[axis]
        t0, t1 = max(t0, min(ta, tb)), min(t1, max(ta, tb))
    return t0, t1


def reference_line(plane, shape: tuple[int, int], other, other_shape=None,
                   offset_mm: float = 0.0) -> Segment | None:
    """Where ``other`` cuts the image of ``plane``, as a segment in its ``(row, col)``.

    Parameters
    ----------
    plane : ImagePlane
        The plane of the image the line is drawn on.
    shape : (rows, cols)
        Its size.
    other : ImagePlane
        The other view's plane.
    other_shape : (rows, cols), optional
        The other image's size: the segment keeps to the part of the line over that
        image too. None: the other plane is unbounded (an MPR plane spans the volume).
    offset_mm : float
        Move ``other`` along its normal first (the faces of a thick slab).

    Returns
    -------
    ((row, col), (row, col)) or None
        The ends of the segment; None when the planes are parallel or the line misses
        an image.
    """
    line = plane_intersection(plane, other, offset_mm)
    if line is None:
        return None
    point, direction = line
    t0, t1 = _clip(plane, shape, point, direction, -np.inf, np.inf)
    if other_shape is not None:
        t0, t1 = _clip(other, other_shape, point, direction, t0, t1)
    if not t0 < t1:
        return None
    a, b = (_to_rc(plane, point + t * direction) for t in (t0, t1))
    return (float(a[0]), float(a[1])), (float(b[0]), float(b[1]))


@dataclass(frozen=True)
class ReferenceLine:
    """The line of one peer view on a view: ``line``, and ``faces`` (the faces of the
    peer's thick slab, none for a thin plane); ``peer`` is the other view's model and
    ``slot`` its place in the link (which colour to draw it in)."""

    peer: object
    slot: int
    line: Segment
    faces: tuple[Segment, ...] = ()


def reference_lines(model, link: ViewLink) -> list[ReferenceLine]:
    """The lines of every peer of ``model`` in ``link`` (the views that follow it: the
    same frame of reference) whose current plane cuts ``model``'s current image."""
    frame = model.frame
    plane = getattr(frame, "plane", None)
    if plane is None:
        return []
    shape = frame.shape
    out = []
    for slot, peer in enumerate(link):
        if peer is model or not link.rule(model, peer):
            continue
        other = getattr(peer.frame, "plane", None)
        if other is None:
            continue
        bounded = peer.frame.shape
        line = reference_line(plane, shape, other, bounded)
        if line is None:
            continue
        half = getattr(peer.frame, "slab_mm", 0.0) / 2
        faces = tuple(f for f in (reference_line(plane, shape, other, bounded, d)
                                  for d in (-half, half)) if f is not None) if half else ()
        out.append(ReferenceLine(peer, slot, line, faces))
    return out
