"""Measurements drawn on images, as plain data: length, angle, rectangle and ellipse ROI.

No Qt here: the viewer draws these and moves their points; this module says
what they measure (through :mod:`medview.core.geometry`) and keeps them per
image while a study is open. Points are ``(row, col)`` image coordinates with
pixel centres on integers, as in :mod:`medview.core.geometry`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# geometry (and through it pydicom) is imported on first measurement, not at
# import time: the viewer imports this module before its window is shown.

LENGTH, ANGLE, RECT, ELLIPSE = "length", "angle", "rect", "ellipse"
POINTS_NEEDED = {LENGTH: 2, ANGLE: 3, RECT: 2, ELLIPSE: 2}
KIND_NAMES = {LENGTH: "Length", ANGLE: "Angle", RECT: "Rectangle ROI", ELLIPSE: "Ellipse ROI"}

_ids = itertools.count(1)


@dataclass(eq=False)
class Annotation:
    """One measurement on one image.

    Attributes
    ----------
    kind : str
        ``"length"``, ``"angle"``, ``"rect"`` or ``"ellipse"``.
    points : list of (row, col)
        2 points (length: ends; ROIs: opposite corners of the bounding box) or
        3 (angle: arm end, vertex, arm end).
    """

    kind: str
    points: list[tuple[float, float]] = field(default_factory=list)
    id: int = field(default_factory=lambda: next(_ids))
    _cache: tuple[Any, Any] | None = field(default=None, repr=False)

    @property
    def complete(self) -> bool:
        return len(self.points) >= POINTS_NEEDED[self.kind]

    @property
    def is_roi(self) -> bool:
        return self.kind in (RECT, ELLIPSE)

    def move_by(self, drow: float, dcol: float) -> None:
        self.points = [(r + drow, c + dcol) for r, c in self.points]
        self._cache = None

    def set_point(self, i: int, rc: tuple[float, float]) -> None:
        self.points[i] = (float(rc[0]), float(rc[1]))
        self._cache = None

    def add_point(self, rc: tuple[float, float]) -> None:
        self.points.append((float(rc[0]), float(rc[1])))
        self._cache = None

    def result(self, frame):
        """What this annotation measures on ``frame`` (cached until a point moves).

        Returns a Measurement (length, angle), RoiStats (ROIs), a one-line
        reason when it cannot be measured, or None while incomplete.
        """
        if not self.complete:
            return None
        key = (frame.key, tuple(self.points))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        value = measure(self, frame)
        self._cache = (key, value)
        return value

    def label(self, frame) -> str:
        """Multi-line text shown next to the annotation."""
        return format_result(self.result(frame))


def measure(a: Annotation, frame):
    """Compute ``a`` on ``frame`` (whose pixels must be decodable for ROIs).

    Returns a ``geometry.Measurement`` (length, angle), a ``geometry.RoiStats``
    (ROIs) or a one-line reason why it cannot be measured.
    """
    from medview.core import geometry

    spacing = frame.spacing
    try:
        if a.kind == LENGTH:
            return geometry.distance(spacing, a.points[0], a.points[1])
        if a.kind == ANGLE:
            return geometry.angle(spacing, a.points[0], a.points[1], a.points[2])
        values = frame.modality_values()
        units = getattr(frame.params, "units", "") or ""
        if values.ndim == 3:  # colour: statistics of the mean of the channels
            values = values.mean(axis=2)
            units = "RGB mean"
        make = geometry.rect_mask if a.kind == RECT else geometry.ellipse_mask
        mask = make(values.shape[:2], a.points[0], a.points[1])
        return geometry.roi_stats(values, mask, spacing, units)
    except ValueError as exc:  # zero-length arm, empty ROI
        return str(exc)
    except Exception as exc:  # undecodable pixels etc.
        return getattr(exc, "reason", None) or str(exc)


def format_result(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if hasattr(value, "unit"):  # geometry.Measurement
        return _format_measurement(value)
    s = value
    u = f" {s.units}" if s.units else ""
    return (f"Mean {s.mean:.1f}{u}  SD {s.sd:.1f}\n"
            f"Min {s.min:.1f}  Max {s.max:.1f}\n"
            f"Area {_format_measurement(s.area, ' · ')}")


def _format_measurement(m, sep: str = "\n") -> str:
    """``"98.4 mm"`` and the calibration source on the next line (or after ``sep``)."""
    if m.unit == "°":
        return f"{m.value:.1f}°"
    value = f"{m.value:.0f}" if m.unit in ("mm²", "px²") and m.value >= 1000 else f"{m.value:.1f}"
    if m.unit in ("px", "px²"):
        return f"{value} {m.unit}{sep}uncalibrated"
    return f"{value} {m.unit}{sep}{SOURCE_NAMES.get(m.source, m.source)}"


#: How each calibration source (``geometry.Spacing.source``) is named next to a
#: measurement; the keys equal geometry's constants (a test checks).
SOURCE_NAMES = {
    "PixelSpacing": "Pixel Spacing",
    "ImagerPixelSpacing": "Imager Pixel Spacing (at detector)",
    "ImagerPixelSpacing ÷ magnification": "Imager Pixel Spacing ÷ magnification",
    "NominalScannedPixelSpacing": "scanned film spacing",
}


class AnnotationStore:
    """Annotations per image (frame key), kept while the study stays open."""

    def __init__(self) -> None:
        self._by_frame: dict[tuple, list[Annotation]] = {}

    def on(self, frame_key: tuple) -> list[Annotation]:
        return self._by_frame.get(frame_key, [])

    def add(self, frame_key: tuple, a: Annotation) -> None:
        self._by_frame.setdefault(frame_key, []).append(a)

    def add_once(self, frame_key: tuple, a: Annotation) -> bool:
        """Add ``a`` unless one of its kind with the same points is there (a saved
        reading loaded again, an SR imported twice); whether it was added."""
        if any(b.kind == a.kind and b.points == a.points for b in self.on(frame_key)):
            return False
        self.add(frame_key, a)
        return True

    def remove(self, frame_key: tuple, a: Annotation) -> bool:
        items = self._by_frame.get(frame_key, [])
        if a in items:
            items.remove(a)
            return True
        return False

    def clear(self, frame_key: tuple | None = None) -> None:
        if frame_key is None:
            self._by_frame.clear()
        else:
            self._by_frame.pop(frame_key, None)

    def items(self) -> list[tuple[tuple, list[Annotation]]]:
        """``(frame key, annotations)`` for every image that has some."""
        return [(k, list(v)) for k, v in self._by_frame.items() if v]

    def forget_frames(self, keys) -> None:
        for k in keys:
            self._by_frame.pop(k, None)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_frame.values())


def nearest_pixel(shape: tuple[int, int], rc: tuple[float, float]) -> tuple[int, int] | None:
    """The pixel whose centre is nearest ``rc``, or None outside the image."""
    r, c = int(np.floor(rc[0] + 0.5)), int(np.floor(rc[1] + 0.5))
    if 0 <= r < shape[0] and 0 <= c < shape[1]:
        return r, c
    return None
