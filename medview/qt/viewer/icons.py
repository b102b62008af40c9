"""The toolbar's icons, drawn as vector shapes at whatever size and pixel ratio the
screen asks for, so they stay sharp at 100 %, 150 % and 200 %.

Each icon is a function drawing on a 24 × 24 grid; :func:`icon` wraps it in a
``QIconEngine`` that paints it into a pixmap of the requested size times the device
pixel ratio (never scaling a small bitmap up). Axis-aligned strokes are 2 units wide
on whole coordinates, so at 24 px (and 48 px on a 2× screen) they fill whole pixels.
Colours follow the palette: strokes in the text colour, a touch of the colour each
measurement is drawn in on the image; disabled icons are dimmed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (QBrush, QColor, QFont, QGuiApplication, QIcon, QIconEngine, QPainter,
                           QPainterPath, QPalette, QPen, QPixmap, QPolygonF)

from medview.qt import theme

GRID = 24.0


class Ink:
    """The colours one icon is drawn with: the palette's text colour (the theme's, once
    applied), dimmed when disabled."""

    def __init__(self, enabled: bool) -> None:
        group = QPalette.ColorGroup.Active if enabled else QPalette.ColorGroup.Disabled
        self.line = QGuiApplication.palette().color(group, QPalette.ColorRole.WindowText)
        self.enabled = enabled

    def accent(self, colour: str) -> QColor:
        return QColor(colour) if self.enabled else self.line


Draw = Callable[[QPainter, Ink, bool], None]   # painter on the grid, ink, checked


class PaintedIconEngine(QIconEngine):
    """Paints one :data:`Draw` function at any size (see the module docstring)."""

    def __init__(self, draw: Draw) -> None:
        super().__init__()
        self._draw = draw

    def paint(self, painter: QPainter, rect: QRect, mode, state) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        side = min(rect.width(), rect.height())
        painter.translate(rect.x() + (rect.width() - side) / 2,
                          rect.y() + (rect.height() - side) / 2)
        painter.scale(side / GRID, side / GRID)
        self._draw(painter, Ink(mode != QIcon.Mode.Disabled), state == QIcon.State.On)
        painter.restore()

    def pixmap(self, size: QSize, mode, state) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def scaledPixmap(self, size: QSize, mode, state, scale: float) -> QPixmap:
        pm = QPixmap(max(1, round(size.width() * scale)), max(1, round(size.height() * scale)))
        pm.setDevicePixelRatio(scale)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        self.paint(p, QRect(QPoint(0, 0), size), mode, state)
        p.end()
        return pm

    def clone(self) -> QIconEngine:
        return PaintedIconEngine(self._draw)


def icon(name: str) -> QIcon:
    """The icon called ``name`` (one of :data:`ICONS`)."""
    try:
        draw = ICONS[name]
    except KeyError:
        raise KeyError(f"no icon {name!r}; valid: {', '.join(sorted(ICONS))}") from None
    return QIcon(PaintedIconEngine(draw))


# --------------------------------------------------------------------------- pens


def _pen(p: QPainter, colour: QColor, width: float = 2.0, dashed: bool = False) -> None:
    pen = QPen(colour, width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    if dashed:
        pen.setDashPattern([1.5, 1.5])
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)


def _square_pen(p: QPainter, colour: QColor, width: float = 2.0) -> None:
    pen = QPen(colour, width)
    pen.setCapStyle(Qt.PenCapStyle.SquareCap)
    pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)


def _dots(p: QPainter, colour: QColor, points, r: float = 1.8) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(colour)
    for x, y in points:
        p.drawEllipse(QPointF(x, y), r, r)


def _poly(*points) -> QPolygonF:
    return QPolygonF([QPointF(x, y) for x, y in points])


def _lines(p: QPainter, *segments) -> None:
    for x0, y0, x1, y1 in segments:
        p.drawLine(QPointF(x0, y0), QPointF(x1, y1))


def _text(p: QPainter, ink: Ink, rect: QRectF, text: str, size: float) -> None:
    font = QFont()
    font.setPixelSize(1)        # sized by the path's scale, not the screen's font size
    font.setBold(True)
    path = QPainterPath()
    path.addText(0, 0, font, text)
    box = path.boundingRect()
    scale = size / max(box.height(), 1e-6)
    p.save()
    p.translate(rect.center().x() - box.center().x() * scale,
                rect.center().y() - box.center().y() * scale)
    p.scale(scale, scale)
    p.fillPath(path, ink.line)
    p.restore()


# --------------------------------------------------------------------------- tools


def _pointer(p, ink, on):
    p.setPen(QPen(ink.line, 1.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                  Qt.PenJoinStyle.RoundJoin))
    p.setBrush(QBrush(ink.line))
    p.drawPolygon(_poly((6, 3), (6, 19), (10, 15.5), (13, 21.5), (15.5, 20.5), (12.6, 14.6),
                        (18, 14.2)))


def _length(p, ink, on):
    _pen(p, ink.line)
    _lines(p, (5, 19, 19, 5))
    _pen(p, ink.line, 1.5)
    _lines(p, (2.5, 16.5, 7.5, 21.5), (16.5, 2.5, 21.5, 7.5))   # end bars
    _dots(p, ink.accent(theme.MEASURE), ((5, 19), (19, 5)))


def _polyline(p, ink, on):
    _pen(p, ink.line)
    pts = ((3, 19), (8, 8), (15, 15), (21, 4))
    p.drawPolyline(_poly(*pts))
    _dots(p, ink.accent(theme.MEASURE), pts, 2.0)


def _angle(p, ink, on):
    _pen(p, ink.line)
    p.drawPolyline(_poly((21, 19), (4, 19), (15, 5)))
    _pen(p, ink.accent(theme.MEASURE), 1.5)
    p.drawArc(QRectF(-4, 11, 16, 16), 0, 52 * 16)


def _cobb(p, ink, on):
    _pen(p, ink.line)
    _lines(p, (3, 8, 14, 4), (3, 16, 14, 20))              # two end plates
    _pen(p, ink.accent(theme.MEASURE), 1.5, dashed=True)
    _lines(p, (8.5, 6, 21, 12), (8.5, 18, 21, 12))         # their perpendiculars
    _dots(p, ink.accent(theme.MEASURE), ((21, 12),), 1.6)


def _rect(p, ink, on):
    _square_pen(p, ink.line)
    p.drawRect(QRectF(4, 6, 16, 12))
    _dots(p, ink.accent(theme.ROI), ((4, 6), (20, 18)))


def _ellipse(p, ink, on):
    _pen(p, ink.line)
    p.drawEllipse(QRectF(3, 6, 18, 12))
    _dots(p, ink.accent(theme.ROI), ((12, 12),), 1.6)


def _freehand(p, ink, on):
    _pen(p, ink.line)
    path = QPainterPath(QPointF(6, 16))
    path.cubicTo(2, 9, 7, 3, 13, 5)
    path.cubicTo(19, 7, 23, 11, 19, 16)
    path.cubicTo(16, 20, 12, 17, 10, 19)
    path.cubicTo(8, 21, 7, 18, 6, 16)
    p.drawPath(path)
    _dots(p, ink.accent(theme.ROI), ((13, 12),), 1.6)


def _probe(p, ink, on):
    _pen(p, ink.line, 1.5)
    p.drawEllipse(QPointF(7, 7), 4, 4)
    _lines(p, (10, 10, 13, 13))                       # a leader to the value
    _dots(p, ink.accent(theme.MEASURE), ((7, 7),), 1.5)
    _text(p, ink, QRectF(10, 13, 13, 9), "HU", 7.5)


def _text_tool(p, ink, on):
    _text(p, ink, QRectF(2, 2, 20, 20), "T", 15)
    _pen(p, ink.accent(theme.MEASURE), 1.5)
    _lines(p, (17, 20, 21, 20))


def _calibrate(p, ink, on):
    _square_pen(p, ink.line, 1.5)
    p.drawRect(QRectF(2.75, 8.75, 18.5, 7.5))              # a ruler
    for i, x in enumerate((6, 9, 12, 15, 18)):
        _lines(p, (x, 9, x, 11.5 if i % 2 else 13))
    _pen(p, ink.accent(theme.CALIBRATION), 1.5)
    _lines(p, (3, 20, 21, 20), (3, 18, 3, 22), (21, 18, 21, 22))   # the known length


def _magnifier(p, ink, on):
    _pen(p, ink.line)
    p.drawEllipse(QPointF(10, 10), 6.5, 6.5)
    _pen(p, ink.line, 3.5)
    _lines(p, (15, 15, 20.5, 20.5))
    _pen(p, ink.accent(theme.ACCENT), 1.5)
    _lines(p, (7, 10, 13, 10), (10, 7, 10, 13))


def _scale_bar(p, ink, on):
    _text(p, ink, QRectF(3, 3, 18, 8), "mm", 6.5)
    _square_pen(p, ink.line, 2)
    _lines(p, (3, 18, 21, 18), (3, 14, 3, 18), (21, 14, 21, 18))
    _pen(p, ink.accent(theme.ACCENT), 1.5)
    _lines(p, (12, 15, 12, 18))


# --------------------------------------------------------------------------- view


def _fit(p, ink, on):
    _square_pen(p, ink.line)
    for x, y, dx, dy in ((3, 3, 1, 1), (21, 3, -1, 1), (3, 21, 1, -1), (21, 21, -1, -1)):
        p.drawPolyline(_poly((x, y + 5 * dy), (x, y), (x + 5 * dx, y)))
    p.fillRect(QRectF(8, 8, 8, 8), ink.accent(theme.ACCENT))


def _actual(p, ink, on):
    _text(p, ink, QRectF(1, 4, 22, 16), "1:1", 11)


def _arrow_head(p, ink, tip: QPointF, angle_deg: float, size: float = 4.5) -> None:
    a = math.radians(angle_deg)
    back = QPointF(-math.cos(a), -math.sin(a)) * size
    side = QPointF(-math.sin(a), math.cos(a)) * size * 0.8
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(ink.line)
    p.drawPolygon(QPolygonF([tip, tip + back + side, tip + back - side]))


def _rotate(p, ink, on):
    _pen(p, ink.line)
    p.drawArc(QRectF(4, 4, 16, 16), 120 * 16, -300 * 16)     # clockwise, open at the top left
    _arrow_head(p, ink, QPointF(8.2, 4.3), 200)


def _reset(p, ink, on):
    _pen(p, ink.line)
    p.drawArc(QRectF(4, 4, 16, 16), 60 * 16, 300 * 16)       # counter-clockwise
    _arrow_head(p, ink, QPointF(15.8, 4.3), -20)
    _dots(p, ink.accent(theme.ACCENT), ((12, 12),), 2.0)


def _flip(vertical: bool) -> Draw:
    def draw(p, ink, on):
        p.save()
        if vertical:
            p.translate(24, 0)
            p.rotate(90)
        _pen(p, ink.accent(theme.ACCENT), 1.5, dashed=True)
        _lines(p, (12, 2, 12, 22))
        p.setPen(QPen(ink.line, 1.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                      Qt.PenJoinStyle.RoundJoin))
        p.setBrush(ink.line)
        p.drawPolygon(_poly((9, 5), (9, 19), (2, 19)))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPolygon(_poly((15, 5), (15, 19), (22, 19)))
        p.restore()
    return draw


def _invert(p, ink, on):
    _square_pen(p, ink.line, 1.5)
    p.drawRect(QRectF(3.75, 3.75, 16.5, 16.5))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(ink.line)
    p.drawPolygon(_poly((3.75, 20.25), (20.25, 3.75), (20.25, 20.25)))


def _auto_window(p, ink, on):
    _pen(p, ink.line)
    p.drawEllipse(QPointF(10, 12), 7, 7)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(ink.line)
    p.drawPie(QRectF(3, 5, 14, 14), 90 * 16, -180 * 16)      # half dark, half light
    _text(p, ink, QRectF(15, 1, 9, 9), "A", 7)


def _presets(p, ink, on):
    _pen(p, ink.line)
    p.drawEllipse(QPointF(8, 9), 5.5, 5.5)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(ink.line)
    p.drawPie(QRectF(2.5, 3.5, 11, 11), 90 * 16, -180 * 16)
    _square_pen(p, ink.line, 2)
    _lines(p, (16, 5, 21, 5), (16, 10, 21, 10), (3, 19, 21, 19))


def _cine(p, ink, on):
    if on:   # playing: the button pauses
        p.fillRect(QRectF(6, 5, 4, 14), ink.line)
        p.fillRect(QRectF(14, 5, 4, 14), ink.line)
        return
    p.setPen(QPen(ink.line, 1.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                  Qt.PenJoinStyle.RoundJoin))
    p.setBrush(ink.line)
    p.drawPolygon(_poly((7, 4.5), (7, 19.5), (19, 12)))


def layout_icon(rows: int, cols: int) -> QIcon:
    """A grid of ``rows`` × ``cols`` viewports, the first one marked."""
    return QIcon(PaintedIconEngine(_layout(rows, cols)))


def _layout(rows: int, cols: int) -> Draw:
    def draw(p, ink, on):
        _square_pen(p, ink.line, 1.5)
        p.drawRect(QRectF(3.75, 4.75, 16.5, 14.5))
        w, h = 16.5 / cols, 14.5 / rows
        for c in range(1, cols):
            _lines(p, (3.75 + c * w, 4.75, 3.75 + c * w, 19.25))
        for r in range(1, rows):
            _lines(p, (3.75, 4.75 + r * h, 20.25, 4.75 + r * h))
        p.fillRect(QRectF(5, 6, w - 2.5, h - 2.5), ink.accent(theme.ACCENT))
    return draw


# --------------------------------------------------------------------------- files


def _open_file(p, ink, on):
    _pen(p, ink.line, 1.5)
    p.drawPolygon(_poly((5, 2.75), (14, 2.75), (19, 7.75), (19, 21.25), (5, 21.25)))
    p.drawPolyline(_poly((14, 2.75), (14, 7.75), (19, 7.75)))
    _pen(p, ink.accent(theme.ACCENT), 1.5)
    _lines(p, (8, 12, 16, 12), (8, 15, 16, 15), (8, 18, 13, 18))


def _open_folder(p, ink, on):
    _pen(p, ink.line, 1.5)
    p.drawPolygon(_poly((2.75, 5.75), (9, 5.75), (11, 7.75), (21.25, 7.75), (21.25, 19.25),
                        (2.75, 19.25)))
    _lines(p, (2.75, 10.75, 21.25, 10.75))


def _save_png(p, ink, on):
    _pen(p, ink.line, 1.5)
    p.drawRect(QRectF(2.75, 4.75, 18.5, 14.5))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(ink.line)
    p.drawPolygon(_poly((4.5, 17.5), (10, 10), (13.5, 14), (15.5, 12), (19.5, 17.5)))
    _dots(p, ink.accent(theme.MEASURE), ((16.5, 8.5),), 1.6)


# --------------------------------------------------------------------------- MPR, links


def _mpr(p, ink, on):
    _pen(p, ink.line, 1.5)
    front, back = QRectF(3.75, 8.75, 11.5, 11.5), QRectF(8.75, 3.75, 11.5, 11.5)
    p.drawRect(front)
    p.drawRect(back)
    for a, b in ((front.topLeft(), back.topLeft()), (front.topRight(), back.topRight()),
                 (front.bottomLeft(), back.bottomLeft()),
                 (front.bottomRight(), back.bottomRight())):
        p.drawLine(a, b)
    p.setPen(Qt.PenStyle.NoPen)
    accent = QColor(ink.accent(theme.ACCENT))
    accent.setAlphaF(0.75)
    p.setBrush(accent)   # a slice through the middle of the block
    p.drawPolygon(_poly((3.75, 14.5), (15.25, 14.5), (20.25, 9.5), (8.75, 9.5)))


def _crosshair(p, ink, on):
    _pen(p, ink.line)
    _lines(p, (12, 2, 12, 8.5), (12, 15.5, 12, 22), (2, 12, 8.5, 12), (15.5, 12, 22, 12))
    _dots(p, ink.accent(theme.ACCENT), ((12, 12),), 2.2)


def _tilted_plane(p, ink) -> None:
    _pen(p, ink.line, 1.5)
    p.drawPolygon(_poly((2.75, 16), (12, 9), (21.25, 12), (12, 19)))


def _rotate_plane(p, ink, on):
    _tilted_plane(p, ink)
    _pen(p, ink.accent(theme.ACCENT), 1.5)
    p.drawArc(QRectF(6, 2, 12, 8), 160 * 16, -140 * 16)
    _arrow_head(p, ink, QPointF(17.6, 4.6), 60, 3.5)


def _reset_oblique(p, ink, on):
    _tilted_plane(p, ink)
    _pen(p, ink.accent(theme.ACCENT), 1.5)
    p.drawArc(QRectF(6, 2, 12, 8), 20 * 16, 140 * 16)
    _arrow_head(p, ink, QPointF(6.4, 4.6), 120, 3.5)


def _reference_lines(p, ink, on):
    _square_pen(p, ink.line, 1.5)
    p.drawRect(QRectF(3.75, 3.75, 16.5, 16.5))
    pen = QPen(ink.accent(theme.REFERENCE_LINE), 2)
    p.setPen(pen)
    _lines(p, (3.75, 9, 20.25, 9), (14, 3.75, 14, 20.25))


def _sync(p, ink, on):
    _square_pen(p, ink.line, 1.5)
    p.drawRect(QRectF(2.75, 4.75, 7.5, 14.5))
    p.drawRect(QRectF(13.75, 4.75, 7.5, 14.5))
    _pen(p, ink.accent(theme.ACCENT), 1.5)
    _lines(p, (6.5, 8, 6.5, 16), (17.5, 8, 17.5, 16))
    _arrow_head(p, ink, QPointF(6.5, 18), 90, 3)
    _arrow_head(p, ink, QPointF(17.5, 18), 90, 3)


def _trainer(p, ink, on):
    _square_pen(p, ink.line, 1.5)
    p.drawPolyline(_poly((3.75, 3), (3.75, 20.25), (21, 20.25)))   # axes
    _pen(p, ink.accent(theme.ACCENT), 2)
    path = QPainterPath(QPointF(6, 6))
    path.cubicTo(9, 15, 13, 16.5, 20, 17)                          # a falling loss curve
    p.drawPath(path)


ICONS: dict[str, Draw] = {
    "pointer": _pointer, "length": _length, "polyline": _polyline, "angle": _angle,
    "cobb": _cobb, "rect": _rect, "ellipse": _ellipse, "freehand": _freehand,
    "probe": _probe, "text": _text_tool, "calibration": _calibrate, "magnifier": _magnifier,
    "scale_bar": _scale_bar, "fit": _fit, "actual": _actual, "rotate": _rotate,
    "flip_h": _flip(False), "flip_v": _flip(True), "invert": _invert,
    "auto_window": _auto_window, "presets": _presets, "reset": _reset, "cine": _cine,
    "open_file": _open_file, "open_folder": _open_folder, "save_png": _save_png,
    "trainer": _trainer, "mpr": _mpr, "crosshair": _crosshair,
    "rotate-plane": _rotate_plane, "reset_oblique": _reset_oblique,
    "reference_lines": _reference_lines, "sync": _sync,
}
