"""Which measurement, and which of its points, lies under the pointer. No Qt.

Tests run in widget coordinates (logical pixels), so the tolerance is the same on
screen at any zoom; ``to_widget`` maps an annotation's ``(row, col)`` points there.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from medview.core.annotations import (ANGLE, CALIBRATION, COBB, FREEHAND, LENGTH,
                                      POLYLINE, RECT, Annotation)

HIT_TOLERANCE = 6.0   #: logical pixels from a line, or around an ROI

Point = tuple[float, float]
ToWidget = Callable[[tuple[float, float]], Point]


def hit_test(a: Annotation, pos: Point, to_widget: ToWidget) -> tuple[str, int] | None:
    """``("handle", i)`` when ``pos`` is on point ``i``, ``("body", -1)`` on the
    outline (or inside an ROI), else None."""
    pts = [to_widget(rc) for rc in a.points]
    for i, pt in enumerate(pts if a.kind != FREEHAND else ()):  # a traced outline moves whole
        if _dist(pt, pos) <= HIT_TOLERANCE + 1:
            return ("handle", i)
    if len(pts) < 2:
        return None
    segments = _segments(a.kind, pts)
    if segments is not None:
        near = any(_dist_to_segment(pos, s0, s1) <= HIT_TOLERANCE for s0, s1 in segments)
        if near or (a.kind == FREEHAND and _inside_polygon(pos, pts)):
            return ("body", -1)
        return None
    x0, x1 = sorted((pts[0][0], pts[1][0]))
    y0, y1 = sorted((pts[0][1], pts[1][1]))
    if a.kind == RECT:
        t = HIT_TOLERANCE
        inside = x0 - t <= pos[0] <= x1 + t and y0 - t <= pos[1] <= y1 + t
        return ("body", -1) if inside else None
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    rx, ry = (x1 - x0) / 2 + HIT_TOLERANCE, (y1 - y0) / 2 + HIT_TOLERANCE
    inside = ((pos[0] - cx) / rx) ** 2 + ((pos[1] - cy) / ry) ** 2 <= 1.0
    return ("body", -1) if inside else None


def _segments(kind: str, pts: list[Point]) -> list[tuple[Point, Point]] | None:
    """The straight pieces of a line-like annotation (None for a box or ellipse)."""
    if kind in (LENGTH, ANGLE, POLYLINE, CALIBRATION):
        return list(zip(pts, pts[1:]))
    if kind == COBB:
        return [tuple(pts[i:i + 2]) for i in (0, 2) if len(pts) >= i + 2]
    if kind == FREEHAND:
        return list(zip(pts, pts[1:] + pts[:1]))
    return None


def _inside_polygon(p: Point, pts: list[Point]) -> bool:
    inside = False
    for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]):
        if (y0 <= p[1]) != (y1 <= p[1]) and p[0] < x0 + (p[1] - y0) / (y1 - y0) * (x1 - x0):
            inside = not inside
    return inside


def _dist(a: Point, b: Point) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def _dist_to_segment(p: Point, a: Point, b: Point) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    n = dx * dx + dy * dy
    if n == 0:
        return _dist(p, a)
    t = max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / n))
    return _dist(p, (a[0] + t * dx, a[1] + t * dy))
