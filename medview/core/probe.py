"""The value of one pixel in the units that mean something: HU on CT, SUV on PET.

A probe reads the stored value at a point, maps it through the modality LUT (rescale
slope/intercept: Hounsfield units on CT, Bq/mL on PET) and, on PET, through the SUVbw
factor of :mod:`medview.core.suv` when the header allows one, else says why not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medview.core.imports import load
from medview.core.suv import SuvScale, SuvUnavailable, suv_scale

#: How PET Units (0054,1001) are written next to a value.
UNIT_NAMES = {"BQML": "Bq/mL", "GML": "g/mL (SUVbw)", "CNTS": "counts"}


@dataclass(frozen=True)
class ProbeValue:
    """What a probe reads at one pixel.

    Attributes
    ----------
    row, col : int
        The pixel (the one whose centre is nearest the probed point).
    stored : tuple of float
        The stored value (three for colour images).
    value : float or None
        The modality value (HU, Bq/mL, ...), None for colour and palette images.
    units : str
        Units of ``value`` (e.g. ``"HU"``, ``"Bq/mL"``), empty when unknown.
    suv : float or None
        SUVbw on PET when defined.
    no_suv : str
        On PET without an SUV, the reason (one line); empty otherwise.
    """

    row: int
    col: int
    stored: tuple[float, ...]
    value: float | None
    units: str
    suv: float | None = None
    no_suv: str = ""


def nearest_pixel(shape: tuple[int, int], rc: tuple[float, float]) -> tuple[int, int] | None:
    """The pixel whose centre is nearest ``rc``, or None outside the image."""
    r, c = int(np.floor(rc[0] + 0.5)), int(np.floor(rc[1] + 0.5))
    if 0 <= r < shape[0] and 0 <= c < shape[1]:
        return r, c
    return None


def suv_scale_of(frame) -> SuvScale | str | None:
    """The SUV factor of ``frame``, the reason it has none (PET), or None (not PET)."""
    if str(frame.get("Modality", "")).upper() != "PT":
        return None
    try:
        return suv_scale(frame.header)
    except SuvUnavailable as exc:
        return str(exc)


def probe(frame, rc: tuple[float, float], suv: SuvScale | str | None = ...) -> ProbeValue:
    """The value of ``frame`` at ``rc`` (decoding its pixels if needed).

    Parameters
    ----------
    frame : medview.core.study.Frame
    rc : (row, col)
    suv : SuvScale or str or None, optional
        :func:`suv_scale_of` ``(frame)`` when the caller keeps it; found here when left out.

    Raises
    ------
    ValueError
        If ``rc`` is outside the image.
    """
    pix = nearest_pixel(frame.shape, rc)
    if pix is None:
        raise ValueError("the probe is outside the image")
    stored = frame.stored()[pix]
    params = frame.params
    if np.ndim(stored) > 0 or params.is_colour:
        return ProbeValue(*pix, tuple(float(v) for v in np.ravel(stored)), None, "")
    value = float(load("medview.core.pixels").modality_values(np.asarray([stored]), params)[0])
    units = params.units or str(frame.get("Units", "") or "")   # PET: Units (0054,1001)
    units = UNIT_NAMES.get(units.upper(), units)
    scale = suv_scale_of(frame) if suv is ... else suv
    if isinstance(scale, SuvScale):
        return ProbeValue(*pix, (float(stored),), value, units, suv=value * scale.factor)
    return ProbeValue(*pix, (float(stored),), value, units, no_suv=scale or "")


def format_probe(p: ProbeValue) -> str:
    """``"-1016 HU"``; on PET ``"5230 Bq/mL\\nSUVbw 2.41"`` or the reason there is no SUV."""
    if p.value is None:
        return ("RGB " if len(p.stored) == 3 else "index ") + " ".join(
            f"{v:.0f}" for v in p.stored)
    v = p.value
    text = f"{v:.0f}" if abs(v - round(v)) < 1e-6 or abs(v) >= 1000 else f"{v:.2f}"
    text = f"{text} {p.units}".rstrip()
    if p.suv is not None:
        text += f"\nSUVbw {p.suv:.2f}"
    elif p.no_suv:
        text += f"\nno SUV: {p.no_suv}"
    return text
