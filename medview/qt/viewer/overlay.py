"""Drawing the corner overlays and the orientation markers (what they say comes from
:mod:`medview.view.corners` and :mod:`medview.view.orientation`)."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter

from medview.qt import theme
from medview.view.corners import CornerText, fit_beside
from medview.view.orientation import Markers


#: Pixels kept between a left corner's line and the right corner's on the same row.
_CORNER_GAP = 12.0


class CornerCache:
    """Overlay text rendered once into transparent images, keyed by content.

    While the user drags W/L only one line changes; the rest are blitted,
    which is several times cheaper than laying out and drawing text again.
    """

    def __init__(self, limit: int = 64) -> None:
        self._images: dict[tuple, QImage] = {}
        self._limit = limit

    def block(self, lines: tuple[str, ...], dims: tuple[bool, ...], font: QFont,
              dpr: float) -> QImage:
        key = (lines, dims, font.key(), dpr)
        img = self._images.get(key)
        if img is None:
            if len(self._images) >= self._limit:
                self._images.pop(next(iter(self._images)))
            img = self._images[key] = _render_block(lines, dims, font, dpr)
        return img


def _render_block(lines: tuple[str, ...], dims: tuple[bool, ...], font: QFont,
                  dpr: float) -> QImage:
    fm = QFontMetricsF(font)
    w = max((fm.horizontalAdvance(s) for s in lines), default=0) + 2
    h = fm.height() * len(lines) + 2
    img = QImage(max(1, math.ceil(w * dpr)), max(1, math.ceil(h * dpr)),
                 QImage.Format.Format_ARGB32_Premultiplied)
    img.setDevicePixelRatio(dpr)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setFont(font)
    for i, (line, dim) in enumerate(zip(lines, dims)):
        y = fm.ascent() + i * fm.height()
        p.setPen(QColor(theme.OVERLAY_SHADOW))
        p.drawText(QPointF(1, y + 1), line)
        p.setPen(QColor(theme.OVERLAY_DIM if dim else theme.OVERLAY_TEXT))
        p.drawText(QPointF(0, y), line)
    p.end()
    return img


def draw_corners(p: QPainter, rect: QRectF, text: CornerText,
                 cache: CornerCache | None = None) -> list[QRectF]:
    """Draw the four corners; the top corners' first line bright, the rest dimmer. A
    left line that would run into the right corner's line on its row wraps
    (:func:`medview.view.corners.fit_beside`). Returns where each line (or block) went."""
    font = QFont(p.font())
    font.setPointSizeF(max(8.5, font.pointSizeF()))
    dev = p.device()
    dpr = dev.devicePixelRatioF() if dev is not None else 1.0
    cache = cache if cache is not None else CornerCache()
    fm = QFontMetricsF(font)
    lh = fm.height()
    m = 6.0
    drawn: list[QRectF] = []
    for left_lines, right_lines, top in ((text.top_left, text.top_right, True),
                                         (text.bottom_left, text.bottom_right, False)):
        widths = [fm.horizontalAdvance(line) + 2 for line in right_lines]
        beside = widths if top else widths[::-1]
        rows = fit_beside(left_lines, beside, rect.width() - 2 * m - _CORNER_GAP, fm.horizontalAdvance, top)
        if rows:  # one block
            lines = tuple(r for r, _ in rows)
            img = cache.block(lines, tuple(top and i > 0 for _, i in rows), font, dpr)
            y = rect.top() + m if top else rect.bottom() - m - len(rows) * lh - 2
            p.drawImage(QPointF(rect.left() + m, y), img)
            drawn.append(QRectF(QPointF(rect.left() + m, y), img.deviceIndependentSize()))
        n = len(right_lines)
        for i, line in enumerate(right_lines):  # right-aligned: a block per line
            img = cache.block((line,), (top and i > 0,), font, dpr)
            x = rect.right() - m - img.deviceIndependentSize().width()
            y = rect.top() + m + i * lh if top else rect.bottom() - m - (n - i) * lh - 2
            p.drawImage(QPointF(x, y), img)
            drawn.append(QRectF(QPointF(x, y), img.deviceIndependentSize()))
    return drawn


def draw_markers(p: QPainter, rect: QRectF, markers: Markers,
                 cache: CornerCache | None = None, avoid: list[QRectF] = ()) -> list[QRectF]:
    """Draw the orientation letters at the middle of each edge of ``rect``; the top and
    bottom ones move inwards past the corner text in ``avoid`` that would cover them.
    Returns where each letter went."""
    font = QFont(p.font())
    font.setPointSizeF(max(8.5, font.pointSizeF()) + 2)
    font.setBold(True)
    dev = p.device()
    dpr = dev.devicePixelRatioF() if dev is not None else 1.0
    cache = cache if cache is not None else CornerCache()
    m = 6.0
    cx, cy = rect.center().x(), rect.center().y()
    drawn: list[QRectF] = []
    for text, edge in ((markers.left, "left"), (markers.right, "right"),
                       (markers.top, "top"), (markers.bottom, "bottom")):
        if not text:
            continue
        img = cache.block((text,), (False,), font, dpr)
        w, h = img.deviceIndependentSize().width(), img.deviceIndependentSize().height()
        x = {"left": rect.left() + m, "right": rect.right() - m - w}.get(edge, cx - w / 2)
        y = {"top": rect.top() + m, "bottom": rect.bottom() - m - h}.get(edge, cy - h / 2)
        box = QRectF(x, y, w, h)
        for other in sorted(avoid, key=lambda r: r.top(), reverse=edge == "bottom"):
            if edge in ("top", "bottom") and other.intersects(box):
                box.moveTop(other.bottom() + 1 if edge == "top" else other.top() - h - 1)
        p.drawImage(box.topLeft(), img)
        drawn.append(box)
    return drawn


def draw_centre_message(p: QPainter, rect: QRectF, text: str, colour: str = theme.TEXT_DIM) -> None:
    p.save()
    p.setPen(QColor(colour))
    p.drawText(rect.adjusted(20, 20, -20, -20),
               Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)
    p.restore()

