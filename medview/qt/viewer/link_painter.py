"""Drawing cross-reference lines and the 3-D cursor (where they go comes from
:mod:`medview.view.reference_lines` and :mod:`medview.view.cursor`)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from medview.qt import theme
from medview.view.reference_lines import ReferenceLine

_CURSOR_RADIUS = 7.0                     # logical pixels
_BAR_LENGTH, _BAR_HEIGHT = 48.0, 3.0


def slot_colour(slot: int) -> QColor:
    """The colour of the viewport at ``slot`` of the link (its lines in the others)."""
    return QColor(theme.REFERENCE_SLOTS[slot % len(theme.REFERENCE_SLOTS)])


def draw_reference_lines(p: QPainter, lines: list[ReferenceLine], rc_to_widget) -> None:
    """Each line solid in its view's colour; a thick slab's faces dashed."""
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    dev = p.device()
    dpr = dev.devicePixelRatioF() if dev is not None else 1.0
    for ref in lines:
        colour = slot_colour(ref.slot)
        pen = QPen(colour, 1.2)
        p.setPen(pen)
        p.drawLine(*_crisp(rc_to_widget(ref.line[0]), rc_to_widget(ref.line[1]), dpr))
        pen.setStyle(Qt.PenStyle.DashLine)
        pen.setWidthF(1.0)
        p.setPen(pen)
        for a, b in ref.faces:
            p.drawLine(*_crisp(rc_to_widget(a), rc_to_widget(b), dpr))
    p.restore()


def _crisp(a, b, dpr: float) -> tuple[QPointF, QPointF]:
    """A horizontal or vertical line moved (by under half a screen pixel) onto the middle
    of a row or column of screen pixels, so it is drawn sharp rather than smeared over
    two rows at half strength."""
    (x0, y0), (x1, y1) = a, b
    snap = lambda v: (round(v * dpr - 0.5) + 0.5) / dpr   # noqa: E731
    if abs(y1 - y0) < 1e-6:
        y0 = y1 = snap(y0)
    elif abs(x1 - x0) < 1e-6:
        x0 = x1 = snap(x0)
    return QPointF(x0, y0), QPointF(x1, y1)


def draw_cursor(p: QPainter, where: tuple[float, float]) -> None:
    """A ring around widget point ``where`` (the pixel itself stays visible, and the
    reference lines crossing there too), outlined dark to show on any tissue."""
    centre = QPointF(*where)
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.setBrush(Qt.BrushStyle.NoBrush)
    for colour, width in ((theme.OVERLAY_SHADOW, 3.5), (theme.CURSOR_3D, 1.6)):
        p.setPen(QPen(QColor(colour), width))
        p.drawEllipse(centre, _CURSOR_RADIUS, _CURSOR_RADIUS)
    p.restore()


def draw_slot_bar(p: QPainter, width: float, slot: int) -> None:
    """A short bar in the viewport's own colour at its top left: the key to the colour of
    its line in the other viewports."""
    p.fillRect(QRectF(3, 3, min(width - 6, _BAR_LENGTH), _BAR_HEIGHT), slot_colour(slot))
