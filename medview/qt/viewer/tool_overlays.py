"""Drawing the magnifier's loupe and the scale bar (where they go and what they show is
decided without Qt: :mod:`medview.view.magnifier`, :mod:`medview.view.scale_bar`)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (QColor, QFont, QFontMetricsF, QImage, QPainter, QPainterPath, QPen,
                           QTransform)

from medview.qt import theme
from medview.view.magnifier import Loupe
from medview.view.scale_bar import ScaleBar

_BAR_TICK = 4.0
_MARKER_ROOM = 26.0   # above the bottom orientation letter


def draw_loupe(p: QPainter, loupe: Loupe, transform: QTransform, image: QImage,
               image_rect: QRectF, smooth: bool) -> None:
    """The full-resolution ``image`` (covering ``image_rect`` in image coordinates)
    seen through ``loupe`` (whose ``transform`` is given as a ``QTransform``): a disc
    with a ring, a cross at the probed pixel and the zoom factor."""
    cx, cy = loupe.centre
    r = loupe.radius
    disc = QPainterPath()
    disc.addEllipse(QPointF(cx, cy), r, r)
    p.save()
    p.setClipPath(disc)
    p.fillPath(disc, QColor(theme.VIEWPORT_BG))
    p.setTransform(transform)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
    p.drawImage(image_rect, image)
    p.restore()

    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.setBrush(Qt.BrushStyle.NoBrush)
    for colour, width in ((theme.OVERLAY_SHADOW, 4.0), (theme.ACCENT, 2.0)):
        pen = QPen(QColor(colour), width)
        p.setPen(pen)
        p.drawEllipse(QPointF(cx, cy), r, r)
    for colour, width in ((theme.OVERLAY_SHADOW, 3.0), (theme.OVERLAY_TEXT, 1.0)):
        p.setPen(QPen(QColor(colour), width))
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):   # a gap at the pixel itself
            p.drawLine(QPointF(cx + dx * 4, cy + dy * 4), QPointF(cx + dx * 10, cy + dy * 10))
    text = f"×{loupe.factor:g}"
    font = QFont(p.font())
    font.setBold(True)
    p.setFont(font)
    fm = QFontMetricsF(font)
    box = QRectF(cx - fm.horizontalAdvance(text) / 2 - 4, cy + r - fm.height() - 8,
                 fm.horizontalAdvance(text) + 8, fm.height())
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(0, 0, 0, 170))
    p.drawRoundedRect(box, 3, 3)
    p.setPen(QColor(theme.OVERLAY_TEXT))
    p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
    p.restore()


def draw_scale_bar(p: QPainter, rect: QRectF, bar: ScaleBar, avoid: list[QRectF] = ()) -> QRectF:
    """A horizontal bar of ``bar.pixels`` centred above the bottom edge of ``rect``,
    with its length and spacing above it, moved up past any text in ``avoid`` (corner
    text, orientation letters) it would cover; returns the area it took."""
    font = QFont(p.font())
    font.setPointSizeF(max(8.0, font.pointSizeF() - 0.5))
    fm = QFontMetricsF(font)
    text = f"{bar.text}  ·  {bar.source}"
    x0 = round(rect.center().x() - bar.pixels / 2)
    x1 = x0 + bar.pixels
    tw = fm.horizontalAdvance(text)
    y = rect.bottom() - _MARKER_ROOM - _BAR_TICK
    label_h = _BAR_TICK + 3 + fm.height()
    for other in sorted(avoid, key=lambda r: r.top(), reverse=True):
        box = QRectF(min(x0, rect.center().x() - tw / 2), y - label_h, max(bar.pixels, tw), label_h + 1)
        if other.intersects(box):
            y = other.top() - 2
    p.save()
    p.setFont(font)
    for colour, width in ((theme.OVERLAY_SHADOW, 3.0), (theme.OVERLAY_TEXT, 1.0)):
        pen = QPen(QColor(colour), width)
        pen.setCapStyle(Qt.PenCapStyle.FlatCap)
        p.setPen(pen)
        p.drawLine(QPointF(x0, y + 0.5), QPointF(x1, y + 0.5))
        for x in (x0, (x0 + x1) / 2, x1):
            tick = _BAR_TICK if x != (x0 + x1) / 2 else _BAR_TICK / 2
            p.drawLine(QPointF(x + 0.5, y + 0.5 - tick), QPointF(x + 0.5, y + 0.5))
    base = QPointF(rect.center().x() - tw / 2, y - _BAR_TICK - 3 - fm.descent())
    p.setPen(QColor(theme.OVERLAY_SHADOW))
    p.drawText(base + QPointF(1, 1), text)
    p.setPen(QColor(theme.OVERLAY_DIM))
    p.drawText(base, text)
    p.restore()
    return QRectF(min(x0, base.x()), base.y() - fm.ascent(), max(bar.pixels, tw),
                  y + 1 - (base.y() - fm.ascent()))
