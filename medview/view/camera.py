"""Where and how an image sits in a viewport: zoom, pan, rotation, flips. No Qt.

Image coordinates are continuous: the image covers ``[0, cols] × [0, rows]`` and the
centre of pixel ``(r, c)`` is at ``x = c + 0.5, y = r + 0.5``. Core geometry wants
``(row, col)`` with pixel centres on integers; use :func:`to_rc` / :func:`from_rc` to
cross over. Widget coordinates are logical pixels, ``y`` down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_SCALE, MAX_SCALE = 0.02, 64.0

Point = tuple[float, float]


@dataclass(frozen=True)
class Affine:
    """A 2-D affine map in Qt's ``QTransform`` convention (row vectors, applied left to
    right): ``x' = m11·x + m21·y + dx``, ``y' = m12·x + m22·y + dy``."""

    m11: float = 1.0
    m12: float = 0.0
    m21: float = 0.0
    m22: float = 1.0
    dx: float = 0.0
    dy: float = 0.0

    @classmethod
    def translate(cls, tx: float, ty: float) -> Affine:
        return cls(dx=tx, dy=ty)

    @classmethod
    def scale(cls, sx: float, sy: float) -> Affine:
        return cls(m11=sx, m22=sy)

    @classmethod
    def rotate(cls, degrees: float) -> Affine:
        """Clockwise on screen (``y`` down); quarter turns are exact."""
        quarter = {0: (0.0, 1.0), 90: (1.0, 0.0), 180: (0.0, -1.0), 270: (-1.0, 0.0)}
        if degrees % 90 == 0:
            s, c = quarter[int(degrees) % 360]
        else:
            s, c = math.sin(math.radians(degrees)), math.cos(math.radians(degrees))
        return cls(m11=c, m12=s, m21=-s, m22=c)

    def then(self, o: Affine) -> Affine:
        """This map followed by ``o``."""
        return Affine(self.m11 * o.m11 + self.m12 * o.m21, self.m11 * o.m12 + self.m12 * o.m22,
                      self.m21 * o.m11 + self.m22 * o.m21, self.m21 * o.m12 + self.m22 * o.m22,
                      self.dx * o.m11 + self.dy * o.m21 + o.dx,
                      self.dx * o.m12 + self.dy * o.m22 + o.dy)

    def map(self, p: Point) -> Point:
        x, y = p
        return (self.m11 * x + self.m21 * y + self.dx, self.m12 * x + self.m22 * y + self.dy)

    def map_vector(self, v: Point) -> Point:
        """A direction: the linear part only."""
        x, y = v
        return (self.m11 * x + self.m21 * y, self.m12 * x + self.m22 * y)

    def inverted(self) -> Affine | None:
        """The inverse map, or None when this one is singular."""
        det = self.m11 * self.m22 - self.m12 * self.m21
        if det == 0:
            return None
        a, b, c, d = self.m22 / det, -self.m12 / det, -self.m21 / det, self.m11 / det
        return Affine(a, b, c, d, -(self.dx * a + self.dy * c), -(self.dx * b + self.dy * d))


@dataclass
class Camera:
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

    def orientation(self) -> Affine:
        """The flips, then the rotation: how the image is turned on screen (no scale)."""
        flips = Affine.scale(-1.0 if self.flip_h else 1.0, -1.0 if self.flip_v else 1.0)
        return flips.then(Affine.rotate(self.rotation))

    def transform(self, cols: int, rows: int, width: float, height: float) -> Affine:
        """Image → widget."""
        s = self.effective_scale(cols, rows, width, height)
        return (Affine.translate(-cols / 2.0, -rows / 2.0)
                .then(self.orientation())
                .then(Affine.scale(s, s))
                .then(Affine.translate(width / 2.0 + self.pan_x, height / 2.0 + self.pan_y)))

    def zoom_about(self, factor: float, anchor: Point, cols: int, rows: int,
                   width: float, height: float) -> None:
        """Multiply the scale by ``factor`` keeping the image point under ``anchor`` still."""
        inv = self.transform(cols, rows, width, height).inverted()
        image_pt = inv.map(anchor) if inv is not None else (cols / 2, rows / 2)
        s = self.effective_scale(cols, rows, width, height)
        self.fit = False
        self.scale = min(MAX_SCALE, max(MIN_SCALE, s * factor))
        moved = self.transform(cols, rows, width, height).map(image_pt)
        self.pan_x += anchor[0] - moved[0]
        self.pan_y += anchor[1] - moved[1]

    def set_scale(self, scale: float, cols: int, rows: int, width: float, height: float) -> None:
        """An absolute scale about the widget centre (1:1, zoom in/out buttons)."""
        s = self.effective_scale(cols, rows, width, height)
        self.zoom_about(scale / s, (width / 2.0, height / 2.0), cols, rows, width, height)

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


def to_rc(p: Point) -> tuple[float, float]:
    """Image point ``(x, y)`` → core ``(row, col)`` (pixel centres on integers)."""
    return (p[1] - 0.5, p[0] - 0.5)


def from_rc(rc: tuple[float, float]) -> Point:
    """Core ``(row, col)`` → image point ``(x, y)``."""
    return (rc[1] + 0.5, rc[0] + 0.5)
