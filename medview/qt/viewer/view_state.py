"""Where and how an image sits in a viewport: zoom, pan, rotation, flips.

Image coordinates are continuous: the image covers ``[0, cols] × [0, rows]``
and the centre of pixel ``(r, c)`` is at ``x = c + 0.5, y = r + 0.5``. Core
geometry wants ``(row, col)`` with pixel centres on integers; use
:func:`to_rc` / :func:`from_rc` to cross over.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF
from PySide6.QtGui import QTransform

MIN_SCALE, MAX_SCALE = 0.02, 64.0


@dataclass
class ViewState:
    """Geometry of the view; ``fit`` makes ``scale`` follow the widget size."""

    fit: bool = True
    scale: float = 1.0          # widget (logical) pixels per image pixel
    pan_x: float = 0.0          # offset of the image centre from the widget centre
    pan_y: float = 0.0
    rotation: int = 0           # degrees clockwise, multiple of 90
    flip_h: bool = False
    flip_v: bool = False

    def reset(self) -> None:
        self.fit, self.scale, self.pan_x, self.pan_y = True, 1.0, 0.0, 0.0
        self.rotation, self.flip_h, self.flip_v = 0, False, False

    def rotated_size(self, cols: int, rows: int) -> tuple[int, int]:
        return (rows, cols) if self.rotation % 180 else (cols, rows)

    def fit_scale(self, cols: int, rows: int, width: float, height: float) -> float:
        w, h = self.rotated_size(cols, rows)
        if w <= 0 or h <= 0 or width <= 0 or height <= 0:
            return 1.0
        return min(width / w, height / h)

    def effective_scale(self, cols: int, rows: int, width: float, height: float) -> float:
        return self.fit_scale(cols, rows, width, height) if self.fit else self.scale

    def transform(self, cols: int, rows: int, width: float, height: float) -> QTransform:
        """Image → widget transform (row-vector convention: applied left to right)."""
        s = self.effective_scale(cols, rows, width, height)
        t = QTransform.fromTranslate(-cols / 2.0, -rows / 2.0)
        t *= QTransform.fromScale(-1.0 if self.flip_h else 1.0, -1.0 if self.flip_v else 1.0)
        t *= QTransform().rotate(self.rotation)
        t *= QTransform.fromScale(s, s)
        t *= QTransform.fromTranslate(width / 2.0 + self.pan_x, height / 2.0 + self.pan_y)
        return t

    def zoom_about(self, factor: float, anchor: QPointF, cols: int, rows: int,
                   width: float, height: float) -> None:
        """Multiply the scale by ``factor`` keeping the image point under ``anchor`` still."""
        old = self.transform(cols, rows, width, height)
        inv, ok = old.inverted()
        image_pt = inv.map(anchor) if ok else QPointF(cols / 2, rows / 2)
        s = self.effective_scale(cols, rows, width, height)
        self.fit = False
        self.scale = min(MAX_SCALE, max(MIN_SCALE, s * factor))
        moved = self.transform(cols, rows, width, height).map(image_pt)
        self.pan_x += anchor.x() - moved.x()
        self.pan_y += anchor.y() - moved.y()

    def set_scale(self, scale: float, cols: int, rows: int, width: float, height: float) -> None:
        """An absolute scale about the widget centre (1:1, zoom in/out buttons)."""
        centre = QPointF(width / 2.0, height / 2.0)
        s = self.effective_scale(cols, rows, width, height)
        self.zoom_about(scale / s, centre, cols, rows, width, height)

    def rotate(self, degrees: int) -> None:
        # Rotation is applied after the flips, so it always turns the screen image.
        self.rotation = (self.rotation + degrees) % 360

    def flip(self, horizontal: bool) -> None:
        # Flip about the screen axis, whatever the rotation.
        if self.rotation % 180:
            horizontal = not horizontal
        if horizontal:
            self.flip_h = not self.flip_h
        else:
            self.flip_v = not self.flip_v


def to_rc(p: QPointF) -> tuple[float, float]:
    """Image point → core ``(row, col)`` (pixel centres on integers)."""
    return (p.y() - 0.5, p.x() - 0.5)


def from_rc(rc: tuple[float, float]) -> QPointF:
    return QPointF(rc[1] + 0.5, rc[0] + 0.5)
