"""Measurements of outlines of many points: polyline length, freehand ROI, Cobb angle.

Points are ``(row, col)`` image coordinates with pixel centres on integers, as in
:mod:`medview.core.geometry`, whose :class:`~medview.core.geometry.Spacing` says how
far apart pixels are. Lengths, areas and angles are computed in physical space (rows
and columns scaled by their own spacing), so anisotropic pixels measure correctly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np

from medview.core.geometry import Measurement, RoiStats, Spacing, roi_stats

Point = Sequence[float]

#: Below this angle (degrees) the Cobb construction's perpendiculars meet too far
#: away to draw; the angle itself is still reported.
_CONSTRUCTION_MIN_DEGREES = 2.0


def polyline_length(spacing: Spacing, points: Sequence[Point]) -> Measurement:
    """Sum of the segment lengths of an open polyline (mm when calibrated, else px).

    Raises
    ------
    ValueError
        With fewer than two points.
    """
    xy = _physical(spacing, points)
    if len(xy) < 2:
        raise ValueError("a polyline needs two points")
    total = float(np.hypot(*np.diff(xy, axis=0).T).sum())
    return Measurement(total, "mm" if spacing.calibrated else "px", spacing.source)


def polygon_area(spacing: Spacing, points: Sequence[Point]) -> Measurement:
    """Area enclosed by the closed polygon through ``points`` (the shoelace formula).

    The outline is taken as drawn, so this is the area of the shape itself, not of
    the pixels whose centres fall inside (:func:`polygon_mask`); a self-crossing
    outline counts its lobes with opposite signs, as the formula does.
    """
    xy = _physical(spacing, points)
    if len(xy) < 3:
        return Measurement(0.0, _area_unit(spacing), spacing.source)
    r, c = xy[:, 0], xy[:, 1]
    area = 0.5 * abs(float(np.dot(r, np.roll(c, -1)) - np.dot(c, np.roll(r, -1))))
    return Measurement(area, _area_unit(spacing), spacing.source)


def polygon_mask(shape: tuple[int, int], points: Sequence[Point]) -> np.ndarray:
    """Pixels whose centres lie inside the closed polygon (even-odd rule).

    Vertices may lie outside the image (the mask is clipped). One scan: for every
    pixel row, each edge crossing that row toggles "inside" for the centres strictly
    right of the crossing (a centre on a left edge is outside, as a ray cast to the
    left from it would say).
    """
    rows, cols = int(shape[0]), int(shape[1])
    mask = np.zeros((rows, cols), dtype=bool)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 3 or rows == 0 or cols == 0:
        return mask
    r_lo = max(0, math.ceil(pts[:, 0].min()))
    r_hi = min(rows - 1, math.floor(pts[:, 0].max()))
    if r_hi < r_lo:
        return mask
    y = np.arange(r_lo, r_hi + 1, dtype=np.float64)[:, None]
    (ya, xa), (yb, xb) = pts.T, np.roll(pts, -1, axis=0).T
    crosses = (ya <= y) != (yb <= y)                # half-open: a vertex counts once
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(crosses, xa + (y - ya) / (yb - ya) * (xb - xa), 0.0)
    start = np.clip(np.floor(x) + 1, 0, cols).astype(np.int64)   # first centre right of it
    toggles = np.zeros((len(y), cols + 1), dtype=np.int32)
    row_index = np.broadcast_to(np.arange(len(y))[:, None], start.shape)
    np.add.at(toggles, (row_index[crosses], start[crosses]), 1)
    mask[r_lo:r_hi + 1] = (np.cumsum(toggles[:, :cols], axis=1) & 1).astype(bool)
    return mask


def freehand_stats(values: np.ndarray, points: Sequence[Point], spacing: Spacing,
                   units: str = "") -> RoiStats:
    """Statistics of ``values`` inside a freehand outline, with the outline's own area.

    Mean, SD, min and max are over the pixels whose centres are inside
    (:func:`polygon_mask`); the area is the polygon's (:func:`polygon_area`).

    Raises
    ------
    ValueError
        If the outline encloses no pixel centre.
    """
    stats = roi_stats(values, polygon_mask(np.shape(values)[:2], points), spacing, units)
    return RoiStats(stats.mean, stats.sd, stats.min, stats.max,
                    polygon_area(spacing, points), stats.n_pixels, stats.units)


def cobb_angle(spacing: Spacing, p0: Point, p1: Point, p2: Point, p3: Point) -> Measurement:
    """The Cobb angle between line ``p0``–``p1`` and line ``p2``–``p3``, in degrees.

    Each line is an end plate (or any two lines, e.g. for kyphosis, lordosis or a
    hallux valgus). The lines are oriented the same way across the image (towards
    increasing column; downwards when vertical) before the angle between them is
    taken, so the order in which a line's ends were clicked does not matter; a
    severe curve may exceed 90°.

    Raises
    ------
    ValueError
        If a line has zero length.
    """
    u = _oriented(_physical_vector(spacing, p0, p1))
    v = _oriented(_physical_vector(spacing, p2, p3))
    cross = u[0] * v[1] - u[1] * v[0]
    degrees = math.degrees(math.atan2(abs(cross), float(u @ v)))
    return Measurement(degrees, "°", spacing.source)


@dataclass(frozen=True)
class CobbConstruction:
    """The classic drawing of a Cobb angle: a perpendicular from the middle of each
    line, meeting at ``apex`` where the angle between them equals the Cobb angle.

    Attributes
    ----------
    perpendiculars : tuple of two ((row, col), (row, col))
        From each line's midpoint to the apex.
    apex : (row, col)
    """

    perpendiculars: tuple[tuple[Point, Point], tuple[Point, Point]]
    apex: tuple[float, float]


def cobb_construction(spacing: Spacing, points: Sequence[Point]) -> CobbConstruction | None:
    """The perpendiculars of the Cobb construction, in image ``(row, col)``.

    Perpendicular in physical space (on anisotropic pixels that is not perpendicular
    in pixels). None when a line is degenerate or the lines are within 2° of parallel
    (the perpendiculars would meet far off the image).
    """
    if len(points) < 4:
        return None
    a = _physical(spacing, points[:4])
    d1, d2 = a[1] - a[0], a[3] - a[2]
    if not np.any(d1) or not np.any(d2):
        return None
    m1, m2 = (a[0] + a[1]) / 2, (a[2] + a[3]) / 2
    n1, n2 = np.array([-d1[1], d1[0]]), np.array([-d2[1], d2[0]])
    det = n1[0] * -n2[1] - n1[1] * -n2[0]
    sine = abs(d1[0] * d2[1] - d1[1] * d2[0]) / (np.hypot(*d1) * np.hypot(*d2))
    if sine < math.sin(math.radians(_CONSTRUCTION_MIN_DEGREES)) or det == 0:
        return None
    rhs = m2 - m1   # m1 + t·n1 = m2 + s·n2
    t = (rhs[0] * -n2[1] - rhs[1] * -n2[0]) / det
    apex = m1 + t * n1
    to_image = _to_image(spacing)
    mid1, mid2, apex_rc = to_image(m1), to_image(m2), to_image(apex)
    return CobbConstruction(((mid1, apex_rc), (mid2, apex_rc)), apex_rc)


# --------------------------------------------------------------------------- helpers


def _physical(spacing: Spacing, points: Sequence[Point]) -> np.ndarray:
    xy = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if spacing.calibrated:
        xy = xy * np.array([spacing.row_mm, spacing.col_mm])
    return xy


def _to_image(spacing: Spacing):
    scale = np.array([spacing.row_mm, spacing.col_mm]) if spacing.calibrated else np.ones(2)
    return lambda p: (float(p[0] / scale[0]), float(p[1] / scale[1]))


def _physical_vector(spacing: Spacing, p0: Point, p1: Point) -> np.ndarray:
    a = _physical(spacing, [p0, p1])
    v = a[1] - a[0]
    if not np.any(v):
        raise ValueError("a Cobb line has zero length")
    return v


def _oriented(v: np.ndarray) -> np.ndarray:
    """``v`` or ``-v``, whichever points to increasing column (downwards if vertical)."""
    row, col = v
    return -v if col < 0 or (col == 0 and row < 0) else v


def _area_unit(spacing: Spacing) -> str:
    return "mm²" if spacing.calibrated else "px²"
