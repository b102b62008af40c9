"""Drawing of :mod:`medview.core.annotations` in widget coordinates (hit-testing is
Qt-free: :mod:`medview.view.hit_test`)."""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen

from medview.core.annotations import (ANGLE, CALIBRATION, COBB, ELLIPSE, FREEHAND, LENGTH,
                                      POLYLINE, PROBE, RECT, TEXT, Annotation)
from medview.qt import theme

HANDLE_RADIUS = 4.0
_TICK = 6.0         # half-length of a calibration line's end ticks, logical pixels
_PROBE_RADIUS = 5.0

ToWidget = Callable[[tuple[float, float]], QPointF]
Guide = tuple[tuple[float, float], tuple[float, float]]


def colour_of(a: Annotation) -> str:
    """The colour an annotation is drawn in (unselected)."""
    if a.is_roi:
        return theme.ROI
    return {CALIBRATION: theme.CALIBRATION, TEXT: theme.OVERLAY_TEXT}.get(a.kind, theme.MEASURE)


def _pen(colour: str, width: float = 1.5, dashed: bool = False) -> QPen:
    pen = QPen(QColor(colour), width)
    pen.setCosmetic(True)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def draw_annotation(p: QPainter, a: Annotation, to_widget: ToWidget, label: str,
                    selected: bool = False, preview: QPointF | None = None,
                    labels: list | None = None, guides: list[Guide] = (),
                    bounds: QRectF | None = None) -> None:
    """Draw ``a`` (and, while it is being drawn, a rubber band to ``preview``).

    With ``labels`` given, the label is appended to it instead of drawn, so
    that :func:`draw_labels` can put every label above every outline. ``guides``:
    construction lines in image ``(row, col)`` drawn dashed (a Cobb angle's
    perpendiculars). A label is kept inside ``bounds`` (the widget's rectangle,
    logical pixels) when given.
    """
    colour = theme.ROI_SELECTED if selected else colour_of(a)
    pts = [to_widget(rc) for rc in a.points]
    if preview is not None:
        pts = pts + [preview]
    if not pts:
        return
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    path = _outline(a.kind, pts, closed=preview is None)
    for pn in (_pen("#000000", 3.0), _pen(colour)):
        p.setPen(pn)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)
    if guides:
        _draw_guides(p, [(to_widget(r0), to_widget(r1)) for r0, r1 in guides], colour)
    # handles: every point, but a freehand outline's hundreds of traced points
    p.setPen(_pen("#000000", 1.0))
    p.setBrush(QColor(colour))
    handles = pts[:len(a.points)] if a.kind != FREEHAND else []
    for pt in handles:
        p.drawEllipse(pt, HANDLE_RADIUS if selected else HANDLE_RADIUS - 1.5,
                      HANDLE_RADIUS if selected else HANDLE_RADIUS - 1.5)
    if label:
        apex = to_widget(guides[0][1]) if guides else None
        item = (label, _label_anchor(a.kind, pts, apex), colour)
        if labels is not None:
            labels.append(item)
        else:
            _draw_label(p, *item, bounds=bounds)
    p.restore()


def draw_labels(p: QPainter, labels: list, bounds: QRectF | None = None) -> None:
    """Draw collected labels, each moved down past the boxes already drawn (and kept
    inside ``bounds`` when given)."""
    placed: list[QRectF] = []
    p.save()
    for text, anchor, colour in labels:
        _draw_label(p, text, anchor, colour, placed, bounds)
    p.restore()


def _outline(kind: str, pts: list[QPointF], closed: bool = True) -> QPainterPath:
    """The shape of an annotation of ``kind`` through widget points ``pts`` (an outline
    being drawn is left open towards the pointer: ``closed`` False)."""
    path = QPainterPath()
    if kind == PROBE:
        _add_probe(path, pts[0])
        return path
    if kind == TEXT:
        return path   # the label is the text; the handle marks its anchor
    if len(pts) == 1:
        path.addEllipse(pts[0], 1.0, 1.0)
        return path
    if kind in (LENGTH, ANGLE, POLYLINE, CALIBRATION, FREEHAND):
        path.moveTo(pts[0])
        for pt in pts[1:]:
            path.lineTo(pt)
        if kind == ANGLE and len(pts) == 3:
            _add_arc(path, pts[1], pts[0], pts[2])
        if kind == FREEHAND and closed:
            path.closeSubpath()
        if kind == CALIBRATION:
            _add_ticks(path, pts[0], pts[1])
        return path
    if kind == COBB:   # two lines; the second starts at the third point
        for line in (pts[0:2], pts[2:4]):
            if len(line) == 2:
                path.moveTo(line[0])
                path.lineTo(line[1])
        return path
    # ROIs are axis-aligned in the image; on a rotated view the box is drawn
    # through its four image corners, the ellipse through a polygon.
    a, b = pts[0], pts[1]
    if kind == RECT:
        return _image_box_path(a, b, pts)
    return _image_ellipse_path(a, b)


def _image_box_path(a: QPointF, b: QPointF, pts) -> QPainterPath:
    path = QPainterPath()
    path.addRect(QRectF(a, b).normalized())
    return path


def _image_ellipse_path(a: QPointF, b: QPointF) -> QPainterPath:
    path = QPainterPath()
    path.addEllipse(QRectF(a, b).normalized())
    return path


def _add_arc(path: QPainterPath, vertex: QPointF, a: QPointF, b: QPointF) -> None:
    r = min(24.0, 0.4 * min(_dist(vertex, a), _dist(vertex, b)))
    if r < 4:
        return
    a0 = math.degrees(math.atan2(-(a.y() - vertex.y()), a.x() - vertex.x()))
    a1 = math.degrees(math.atan2(-(b.y() - vertex.y()), b.x() - vertex.x()))
    sweep = (a1 - a0 + 540) % 360 - 180
    rect = QRectF(vertex.x() - r, vertex.y() - r, 2 * r, 2 * r)
    path.arcMoveTo(rect, a0)
    path.arcTo(rect, a0, sweep)


def _add_ticks(path: QPainterPath, a: QPointF, b: QPointF) -> None:
    """Short bars across both ends of a calibration line, like a calliper's jaws."""
    d = b - a
    n = math.hypot(d.x(), d.y())
    if n < 1:
        return
    across = QPointF(-d.y() / n, d.x() / n) * _TICK
    for end in (a, b):
        path.moveTo(end - across)
        path.lineTo(end + across)


def _add_probe(path: QPainterPath, c: QPointF) -> None:
    """A ring with four ticks pointing at the probed pixel."""
    r = _PROBE_RADIUS
    path.addEllipse(c, r, r)
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        path.moveTo(c + QPointF(dx, dy) * r)
        path.lineTo(c + QPointF(dx, dy) * (r + 5))


def _draw_guides(p: QPainter, segments: list[tuple[QPointF, QPointF]], colour: str) -> None:
    """Dashed construction lines, and the arc between them where they meet."""
    for pn in (_pen("#000000", 2.5, dashed=True), _pen(colour, 1.0, dashed=True)):
        p.setPen(pn)
        for s0, s1 in segments:
            p.drawLine(s0, s1)
    if len(segments) == 2 and segments[0][1] == segments[1][1]:
        arc = QPainterPath()
        _add_arc(arc, segments[0][1], segments[0][0], segments[1][0])
        p.setPen(_pen(colour, 1.0))
        p.drawPath(arc)


def _label_anchor(kind: str, pts: list[QPointF], apex: QPointF | None = None) -> QPointF:
    if kind == ANGLE and len(pts) >= 2:
        return pts[1] + QPointF(10, 10)
    if kind == COBB:
        if apex is not None:
            return apex + QPointF(10, -8)
        return max(pts, key=lambda q: q.x()) + QPointF(10, 0)
    if kind in (RECT, ELLIPSE, FREEHAND) and len(pts) >= 2:
        right = max(q.x() for q in pts)
        return QPointF(right + 8, min(q.y() for q in pts))
    if kind in (PROBE, TEXT):
        return pts[0] + QPointF(8, 6)
    if kind == POLYLINE:
        return pts[-1] + QPointF(8, 6)
    if len(pts) >= 2:  # a length: just below-right of its midpoint
        mid = (pts[0] + pts[1]) / 2
        return mid + QPointF(6, 6)
    return pts[-1] + QPointF(8, 8)


def _draw_label(p: QPainter, text: str, anchor: QPointF, colour: str,
                placed: list[QRectF] | None = None, bounds: QRectF | None = None) -> None:
    font = QFont(p.font())
    font.setPointSizeF(max(8.0, font.pointSizeF()))
    p.setFont(font)
    fm = QFontMetricsF(font)
    lines = text.split("\n")
    w = max(fm.horizontalAdvance(s) for s in lines) + 8
    h = fm.height() * len(lines) + 4
    # inside the widget (its logical size: a painter's device may count physical pixels)
    x, y = anchor.x(), anchor.y()
    if bounds is not None:
        x = min(x, max(bounds.left(), bounds.right() - w))
        y = min(y, max(bounds.top(), bounds.bottom() - h))
    box = QRectF(x, y, w, h)
    if placed is not None:
        for _ in range(len(placed) + 1):
            hit = next((r for r in placed if r.intersects(box)), None)
            if hit is None:
                break
            box.moveTop(hit.bottom() + 2)
        placed.append(QRectF(box))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(0, 0, 0, 170))
    p.drawRoundedRect(box, 3, 3)
    p.setPen(QColor(colour))
    for i, line in enumerate(lines):
        p.drawText(QPointF(box.x() + 4, box.y() + 2 + fm.ascent() + i * fm.height()), line)


def _dist(a: QPointF, b: QPointF) -> float:
    return math.hypot(a.x() - b.x(), a.y() - b.y())
