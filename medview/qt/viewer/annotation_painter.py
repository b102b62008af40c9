"""Drawing of :mod:`medview.core.annotations` in widget coordinates (hit-testing is
Qt-free: :mod:`medview.view.hit_test`)."""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen

from medview.core.annotations import ANGLE, ELLIPSE, LENGTH, RECT, Annotation
from medview.qt import theme

HANDLE_RADIUS = 4.0

ToWidget = Callable[[tuple[float, float]], QPointF]


def _pen(colour: str, width: float = 1.5, dashed: bool = False) -> QPen:
    pen = QPen(QColor(colour), width)
    pen.setCosmetic(True)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def draw_annotation(p: QPainter, a: Annotation, to_widget: ToWidget, label: str,
                    selected: bool = False, preview: QPointF | None = None,
                    labels: list | None = None) -> None:
    """Draw ``a`` (and, while it is being drawn, a rubber band to ``preview``).

    With ``labels`` given, the label is appended to it instead of drawn, so
    that :func:`draw_labels` can put every label above every outline.
    """
    colour = theme.ROI if a.is_roi else theme.MEASURE
    if selected:
        colour = theme.ROI_SELECTED
    pts = [to_widget(rc) for rc in a.points]
    if preview is not None:
        pts = pts + [preview]
    if not pts:
        return
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    shadow = _pen("#000000", 3.0)
    pen = _pen(colour)
    path = _outline(a.kind, pts)
    for pn in (shadow, pen):
        p.setPen(pn)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)
    # handles
    p.setPen(_pen("#000000", 1.0))
    p.setBrush(QColor(colour))
    for pt in pts[:len(a.points)]:
        p.drawEllipse(pt, HANDLE_RADIUS if selected else HANDLE_RADIUS - 1.5,
                      HANDLE_RADIUS if selected else HANDLE_RADIUS - 1.5)
    if label:
        item = (label, _label_anchor(a.kind, pts), colour)
        if labels is not None:
            labels.append(item)
        else:
            _draw_label(p, *item)
    p.restore()


def draw_labels(p: QPainter, labels: list) -> None:
    """Draw collected labels, each moved down past the boxes already drawn."""
    placed: list[QRectF] = []
    p.save()
    for text, anchor, colour in labels:
        _draw_label(p, text, anchor, colour, placed)
    p.restore()


def _outline(kind: str, pts: list[QPointF]) -> QPainterPath:
    path = QPainterPath()
    if len(pts) == 1:
        path.addEllipse(pts[0], 1.0, 1.0)
        return path
    if kind in (LENGTH, ANGLE):
        path.moveTo(pts[0])
        for pt in pts[1:]:
            path.lineTo(pt)
        if kind == ANGLE and len(pts) == 3:
            _add_arc(path, pts[1], pts[0], pts[2])
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


def _label_anchor(kind: str, pts: list[QPointF]) -> QPointF:
    if kind == ANGLE and len(pts) >= 2:
        return pts[1] + QPointF(10, 10)
    if kind in (RECT, ELLIPSE) and len(pts) >= 2:
        return QPointF(max(pts[0].x(), pts[1].x()) + 8, min(pts[0].y(), pts[1].y()))
    if len(pts) >= 2:  # a length: just below-right of its midpoint
        mid = (pts[0] + pts[1]) / 2
        return mid + QPointF(6, 6)
    return pts[-1] + QPointF(8, 8)


def _draw_label(p: QPainter, text: str, anchor: QPointF, colour: str,
                placed: list[QRectF] | None = None) -> None:
    font = QFont(p.font())
    font.setPointSizeF(max(8.0, font.pointSizeF()))
    p.setFont(font)
    fm = QFontMetricsF(font)
    lines = text.split("\n")
    w = max(fm.horizontalAdvance(s) for s in lines) + 8
    h = fm.height() * len(lines) + 4
    # keep the label inside the widget
    dev = p.device()
    x = min(anchor.x(), max(0.0, dev.width() / dev.devicePixelRatioF() - w)) if dev else anchor.x()
    y = min(anchor.y(), max(0.0, dev.height() / dev.devicePixelRatioF() - h)) if dev else anchor.y()
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
