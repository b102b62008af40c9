"""Annotations drawn on images, as plain data: the measurements, the calibration line,
the pixel probe and text.

No Qt here: the viewer draws these and moves their points; this module says what
they measure (through :mod:`medview.core.geometry`, :mod:`medview.core.outlines` and
:mod:`medview.core.probe`) and keeps them per image while a study is open. Points are
``(row, col)`` image coordinates with pixel centres on integers, as in
:mod:`medview.core.geometry`.

Kinds and their points: length (2 ends), polyline (2 or more), angle (arm end,
vertex, arm end), Cobb angle (two lines: 4 points), rectangle and ellipse ROI (2
opposite corners of the bounding box), freehand ROI (3 or more, a closed outline),
probe (1), text (1, where the text is anchored), calibration (2 ends of a line whose
length the reader typed, :attr:`Annotation.known_mm`).

A series calibrated by the reader (:mod:`medview.view.calibration`) stamps its spacing
on every annotation of the series (:attr:`Annotation.calibration`), so what a
measurement says, on screen, in a saved reading or in a report, names the user
calibration it relied on.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from medview.core.probe import ProbeValue, format_probe

# geometry (and through it pydicom) is imported on first measurement, not at
# import time: the viewer imports this module before its window is shown.

LENGTH, ANGLE, RECT, ELLIPSE = "length", "angle", "rect", "ellipse"
POLYLINE, COBB, FREEHAND = "polyline", "cobb", "freehand"
PROBE, TEXT, CALIBRATION = "probe", "text", "calibration"
#: The least number of points of each kind (open-ended kinds may have more).
POINTS_NEEDED = {LENGTH: 2, ANGLE: 3, RECT: 2, ELLIPSE: 2, POLYLINE: 2, COBB: 4,
                 FREEHAND: 3, PROBE: 1, TEXT: 1, CALIBRATION: 2}
#: Kinds drawn with any number of points, finished by the reader (double click, Enter,
#: or for a freehand outline the release of the button).
OPEN_ENDED = frozenset({POLYLINE, FREEHAND})
ROI_KINDS = frozenset({RECT, ELLIPSE, FREEHAND})
KIND_NAMES = {LENGTH: "Length", ANGLE: "Angle", RECT: "Rectangle ROI", ELLIPSE: "Ellipse ROI",
              POLYLINE: "Polyline", COBB: "Cobb angle", FREEHAND: "Freehand ROI",
              PROBE: "Pixel probe", TEXT: "Text", CALIBRATION: "Calibration"}

_ids = itertools.count(1)


@dataclass(eq=False)
class Annotation:
    """One annotation on one image.

    Attributes
    ----------
    kind : str
        One of :data:`KIND_NAMES`.
    points : list of (row, col)
        See the module docstring for how many and what they are.
    text : str
        What a text annotation says.
    known_mm : float or None
        A calibration line's true length, as the reader typed it.
    calibration : (row_mm, col_mm) or None
        The user calibration in force: on a calibration line, the spacing it defines;
        on a measurement, the spacing it is measured with (instead of the image's).
    """

    kind: str
    points: list[tuple[float, float]] = field(default_factory=list)
    id: int = field(default_factory=lambda: next(_ids))
    text: str = ""
    known_mm: float | None = None
    calibration: tuple[float, float] | None = None
    _cache: tuple[Any, Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.calibration is not None:  # a list when read back from JSON
            self.calibration = (float(self.calibration[0]), float(self.calibration[1]))
        if self.known_mm is not None:
            self.known_mm = float(self.known_mm)

    @property
    def complete(self) -> bool:
        """Enough points to say what it measures (an open-ended one may get more)."""
        return len(self.points) >= POINTS_NEEDED[self.kind]

    @property
    def is_roi(self) -> bool:
        return self.kind in ROI_KINDS

    @property
    def open_ended(self) -> bool:
        return self.kind in OPEN_ENDED

    def move_by(self, drow: float, dcol: float) -> None:
        self.points = [(r + drow, c + dcol) for r, c in self.points]
        self._cache = None

    def set_point(self, i: int, rc: tuple[float, float]) -> None:
        self.points[i] = (float(rc[0]), float(rc[1]))
        self._cache = None

    def add_point(self, rc: tuple[float, float]) -> None:
        self.points.append((float(rc[0]), float(rc[1])))
        self._cache = None

    def spacing(self, frame):
        """The spacing this annotation measures with on ``frame``: its user
        calibration when it carries one, else the image's own."""
        if self.calibration is not None and self.kind != CALIBRATION:
            from medview.core import geometry

            return geometry.Spacing(*self.calibration, geometry.USER_CALIBRATION)
        return frame.spacing

    def result(self, frame):
        """What this annotation measures on ``frame`` (cached until it changes).

        Returns a Measurement (length, polyline, angle, Cobb), RoiStats (ROIs), a
        ProbeValue (probe), a CalibrationResult (calibration line), the text (text),
        a one-line reason when it cannot be measured, or None while incomplete.
        """
        if not self.complete:
            return None
        key = (frame.key, tuple(self.points), self.calibration, self.known_mm, self.text)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        value = measure(self, frame)
        self._cache = (key, value)
        return value

    def label(self, frame) -> str:
        """Multi-line text shown next to the annotation."""
        return format_result(self.result(frame))


@dataclass(frozen=True)
class CalibrationResult:
    """What a calibration line sets: its true length, what the image's own spacing
    made of it, and the spacing of the series from now on."""

    known_mm: float
    native: Any      # geometry.Measurement
    spacing: Any     # geometry.Spacing
    native_text: str  # :func:`native_length`


def measure(a: Annotation, frame):
    """Compute ``a`` on ``frame`` (whose pixels must be decodable for ROIs and probes).

    Returns what :meth:`Annotation.result` describes, or a one-line reason why it
    cannot be measured.
    """
    from medview.core import geometry, outlines
    from medview.core.probe import probe

    spacing = a.spacing(frame)
    p = a.points
    try:
        if a.kind == TEXT:
            return a.text or "…"
        if a.kind == LENGTH:
            return geometry.distance(spacing, p[0], p[1])
        if a.kind == POLYLINE:
            return outlines.polyline_length(spacing, p)
        if a.kind == ANGLE:
            return geometry.angle(spacing, p[0], p[1], p[2])
        if a.kind == COBB:
            return outlines.cobb_angle(spacing, *p[:4])
        if a.kind == CALIBRATION:
            return _calibration(a, frame)
        if a.kind == PROBE:
            return probe(frame, p[0])
        return _roi(a, frame, spacing)
    except ValueError as exc:  # zero-length arm, empty ROI
        return str(exc)
    except Exception as exc:  # undecodable pixels etc.
        return getattr(exc, "reason", None) or str(exc)


def _roi(a: Annotation, frame, spacing):
    from medview.core import geometry, outlines

    values = frame.modality_values()
    units = getattr(frame.params, "units", "") or ""
    if values.ndim == 3:  # colour: statistics of the mean of the channels
        values = values.mean(axis=2)
        units = "RGB mean"
    if a.kind == FREEHAND:
        return outlines.freehand_stats(values, a.points, spacing, units)
    make = geometry.rect_mask if a.kind == RECT else geometry.ellipse_mask
    mask = make(values.shape[:2], a.points[0], a.points[1])
    return geometry.roi_stats(values, mask, spacing, units)


def native_length(a: Annotation, frame) -> str:
    """What a calibration line measures with the image's own spacing:
    ``"20.0 mm by Pixel Spacing"`` or ``"100.0 px uncalibrated"``."""
    from medview.core import geometry

    m = geometry.distance(frame.spacing, a.points[0], a.points[1])
    if m.unit != "mm":
        return f"{m.value:.1f} px uncalibrated"
    return f"{m.value:.1f} mm by {SOURCE_NAMES.get(m.source, m.source)}"


def _calibration(a: Annotation, frame):
    from medview.core import geometry

    if a.known_mm is None:
        return f"{native_length(a, frame)}\ntype the known length"
    native = geometry.distance(frame.spacing, a.points[0], a.points[1])
    spacing = geometry.user_spacing(frame.spacing, a.points[0], a.points[1], a.known_mm)
    return CalibrationResult(a.known_mm, native, spacing, native_length(a, frame))


def format_result(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, CalibrationResult):
        return _format_calibration(value)
    if isinstance(value, ProbeValue):
        return format_probe(value)
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


def _format_calibration(c: CalibrationResult) -> str:
    sp = c.spacing
    per_px = (f"{sp.row_mm:.4g} mm/px" if abs(sp.row_mm - sp.col_mm) <= 1e-9 * sp.row_mm
              else f"{sp.row_mm:.4g} × {sp.col_mm:.4g} mm/px")
    return f"Calibration {c.known_mm:g} mm ({per_px})\nwas {c.native_text}"


#: How each calibration source (``geometry.Spacing.source``) is named next to a
#: measurement; the keys equal geometry's constants (a test checks).
SOURCE_NAMES = {
    "PixelSpacing": "Pixel Spacing",
    "ImagerPixelSpacing": "Imager Pixel Spacing (at detector)",
    "ImagerPixelSpacing ÷ magnification": "Imager Pixel Spacing ÷ magnification",
    "NominalScannedPixelSpacing": "scanned film spacing",
    "user calibration": "calibrated by user",
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

