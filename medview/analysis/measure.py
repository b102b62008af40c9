"""Areas and volumes of segmentation results, and how to print them. No Qt.

A volume over a series is the Cavalieri estimate: the sum of the class area on every
slice times the distance between slices. The distance comes from the slice positions
(Image Position (Patient) projected on the slice normal, as the series is sorted), else
from Spacing Between Slices, else from Slice Thickness; which one was used is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import median

from medview.core.imports import load


@dataclass(frozen=True)
class SliceSpacing:
    """Distance between adjacent slices of a series, in mm, and where it came from."""

    mm: float
    source: str   # "ImagePositionPatient", "SpacingBetweenSlices" or "SliceThickness"


@dataclass
class VolumeEstimate:
    """Per-class volume over a series.

    Attributes
    ----------
    mm3 : dict of str to float
        Volume of each class in mm³ (empty when the areas are not in mm²).
    slices_used, slices_total : int
        Slices with a result, and slices in the series; the estimate is complete
        only when they are equal.
    spacing : SliceSpacing or None
        None when the series gives no slice distance (no volume then).
    reason : str
        Why there is no volume, when there is none.
    """

    mm3: dict[str, float] = field(default_factory=dict)
    slices_used: int = 0
    slices_total: int = 0
    spacing: SliceSpacing | None = None
    reason: str = ""

    @property
    def complete(self) -> bool:
        return self.slices_total > 0 and self.slices_used == self.slices_total and bool(self.mm3)


def _float(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if v > 0 else None


def slice_spacing(frames) -> SliceSpacing | None:
    """Distance between adjacent slices of ``frames`` (a sorted series), or None.

    The median gap between slice positions along the normal when every frame has
    an image plane; else Spacing Between Slices or Slice Thickness of the first frame.
    """
    frames = list(frames)
    if len(frames) >= 2:
        slice_location = load("medview.core.geometry").slice_location

        planes = [f.plane for f in frames]
        if all(p is not None for p in planes):
            pos = sorted(slice_location(p) for p in planes)
            gaps = [b - a for a, b in zip(pos, pos[1:]) if b - a > 1e-3]
            if gaps:
                return SliceSpacing(float(median(gaps)), "ImagePositionPatient")
    if not frames:
        return None
    first = frames[0]
    for keyword in ("SpacingBetweenSlices", "SliceThickness"):
        v = _float(first.get(keyword))
        if v is not None:
            return SliceSpacing(v, keyword)
    return None


def series_volume(frames, areas_by_frame: dict) -> VolumeEstimate:
    """Per-class volume over ``frames`` from the areas of the slices analysed so far.

    Parameters
    ----------
    frames : sequence of medview.core.study.Frame
        The series, sorted.
    areas_by_frame : dict
        Frame key → ``{class: Measurement}`` for the frames with a result.
    """
    frames = list(frames)
    est = VolumeEstimate(slices_total=len(frames))
    used = [areas_by_frame[f.key] for f in frames if f.key in areas_by_frame]
    est.slices_used = len(used)
    if len(frames) < 2:
        est.reason = "a volume needs a series of slices"
        return est
    est.spacing = slice_spacing(frames)
    if est.spacing is None:
        est.reason = "the series gives no slice spacing"
        return est
    totals: dict[str, float] = {}
    for areas in used:
        for name, m in areas.items():
            if m.unit != "mm²":
                est.reason = "the images are not calibrated (areas in px²)"
                return est
            totals[name] = totals.get(name, 0.0) + m.value
    est.mm3 = {name: a * est.spacing.mm for name, a in totals.items()}
    return est


def format_volume(mm3: float) -> str:
    """``12.3 mL`` from 1 mL up, ``850 mm³`` below."""
    if mm3 >= 1000.0:
        return f"{mm3 / 1000.0:,.1f} mL"
    return f"{mm3:,.0f} mm³"


def format_area(m) -> str:
    """A :class:`~medview.core.geometry.Measurement` area: ``1,234.5 mm²`` or ``812 px²``."""
    if m.unit == "px²":
        return f"{m.value:,.0f} px²"
    return f"{m.value:,.1f} {m.unit}"
