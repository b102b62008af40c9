"""The scale bar, without Qt: a round length (1, 2 or 5 × 10^n mm) that fits the view,
and the spacing it relies on.

The bar lies along the screen's horizontal, whatever the rotation, so its length in
mm per screen pixel is taken along the image direction that is horizontal on screen
(row or column spacing: they differ on anisotropic pixels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from medview.core.annotations import SOURCE_NAMES

NICE = (1.0, 2.0, 5.0)
MAX_FRACTION = 0.25   #: of the view's width, at most
MIN_PIXELS = 24.0     #: shorter bars are not drawn (the view is too small)


@dataclass(frozen=True)
class ScaleBar:
    """Attributes: ``mm`` (its length), ``pixels`` (logical widget pixels), ``text``
    (``"20 mm"``) and ``source`` (which spacing, named as next to a measurement)."""

    mm: float
    pixels: float
    text: str
    source: str


def nice_length(max_mm: float) -> float:
    """The largest 1, 2 or 5 × 10^n mm not longer than ``max_mm`` (> 0)."""
    if not (max_mm > 0 and math.isfinite(max_mm)):
        raise ValueError(f"no scale bar fits {max_mm!r} mm")
    exp = math.floor(math.log10(max_mm))
    fits = [n * 10.0 ** e for e in (exp - 1, exp, exp + 1) for n in NICE
            if n * 10.0 ** e <= max_mm * (1 + 1e-9)]   # log10 may round either way
    return max(fits)


def format_mm(mm: float) -> str:
    """``"20 mm"``, ``"0.5 mm"``, ``"100 mm"``."""
    return f"{mm:.0f} mm" if mm >= 1 else f"{mm:.3g} mm"


def mm_per_pixel(spacing, transform) -> float | None:
    """Millimetres per logical widget pixel along the screen's horizontal, or None when
    the image is uncalibrated or the map is singular."""
    inv = transform.inverted()
    if inv is None or not spacing.calibrated:
        return None
    dx, dy = inv.map_vector((1.0, 0.0))   # image x = column, y = row
    return math.hypot(dx * spacing.col_mm, dy * spacing.row_mm)


def scale_bar(spacing, transform, view_width: float) -> ScaleBar | None:
    """The bar for a view ``view_width`` logical pixels wide drawn with ``transform``
    (image → widget), or None when uncalibrated or too small to draw."""
    mm_px = mm_per_pixel(spacing, transform)
    if not mm_px or view_width <= 0:
        return None
    mm = nice_length(view_width * MAX_FRACTION * mm_px)
    pixels = mm / mm_px
    if pixels < MIN_PIXELS:
        return None
    return ScaleBar(mm, pixels, format_mm(mm), SOURCE_NAMES.get(spacing.source, spacing.source))
