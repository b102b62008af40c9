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
    for ref in lines:
        colour = slot_colour(ref.slot)
        pen = QPen(colour, 1.2)
        p.setPen(pen)
        p.drawLine(QPointF(*rc_to_widget(ref.line[0])), QPointF(*rc_to_widget(ref.line[1])))
        pen.setStyle(Qt.PenStyle.DashLine)
        pen.setWidthF(1.0)
        p.setPen(pen)
        for a, b in ref.faces:
            p.drawLine(QPointF(*rc_to_widget(a)), QPointF(*rc_to_widget(b)))
    p.restore()


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
