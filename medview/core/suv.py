"""Standardised uptake value (body weight) of PET images, or the reason there is none.

SUVbw = activity concentration (Bq/mL) × body weight (g) ÷ injected activity decayed
to the time the image values refer to (Bq); tissue is taken as 1 g/mL, so the unit
is g/mL. The attributes and the order of the checks follow the vendor-neutral
procedure of the QIBA FDG-PET/CT profile (its "SUV calculation" pseudo-code):

- Units (0054,1001) ``BQML``: values are activity concentration (``GML``: they are
  SUVbw already; anything else, e.g. ``CNTS``, cannot give an SUV);
- Decay Correction (0054,1102) ``START``: values are decay-corrected to the start of
  the acquisition, so the dose is decayed from injection to the series' start (Series
  Date/Time, or the frame's Acquisition Date/Time when that is earlier, as when a
  scanner re-writes the series time); ``ADMIN``: corrected to the injection, no decay;
  ``NONE``: each frame would need its own decay, which is not done here;
- Patient's Weight (0010,1030) in kg;
- Radiopharmaceutical Information Sequence (0054,0016), first item: Radionuclide
  Total Dose (0018,1074) in Bq at the injection, Radionuclide Half Life (0018,1075) in
  s, and Radiopharmaceutical Start DateTime (0018,1078) or Start Time (0018,1072) (on
  the series' date; a start time later than the series' start is taken as the day
  before, an injection before midnight for a scan after it).

No pydicom import: a header is read through ``Dataset.get``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from medview.core.errors import MedviewError


class SuvUnavailable(MedviewError, ValueError):
    """The header lacks what an SUV needs; the message says what, in one line."""


@dataclass(frozen=True)
class SuvScale:
    """How to turn a PET frame's modality values into SUVbw: ``suv = value × factor``.

    Attributes
    ----------
    factor : float
        g/mL per Bq/mL (1 when the values are SUVbw already).
    weight_kg, dose_bq, decayed_dose_bq, decay_s, half_life_s : float or None
        The inputs (None when the values were stored as SUV).
    decay_correction : str
        ``START``, ``ADMIN``, or ``GML`` for values stored as SUV.
    """

    factor: float
    weight_kg: float | None = None
    dose_bq: float | None = None
    decayed_dose_bq: float | None = None
    decay_s: float | None = None
    half_life_s: float | None = None
    decay_correction: str = ""


def suv_scale(ds) -> SuvScale:
    """The SUVbw factor of a PET header (see the module docstring).

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The header of a PET image (pixels need not be loaded).

    Raises
    ------
    SuvUnavailable
        Naming the first missing or unusable attribute.
    """
    modality = _text(ds, "Modality").upper()
    if modality != "PT":
        raise SuvUnavailable(f"SUV is defined for PET, not {modality or 'this image'}")
    units = _text(ds, "Units").upper()
    if units == "GML":
        return SuvScale(1.0, decay_correction="GML")
    if units != "BQML":
        raise SuvUnavailable(f"Units is {units or 'missing'}, not BQML (activity concentration)")
    weight = _positive(ds.get("PatientWeight"))
    if weight is None:
        raise SuvUnavailable("no Patient's Weight")
    info = ds.get("RadiopharmaceuticalInformationSequence")
    if not info:
        raise SuvUnavailable("no Radiopharmaceutical Information Sequence")
    drug = info[0]
    dose = _positive(drug.get("RadionuclideTotalDose"))
    if dose is None:
        raise SuvUnavailable("no Radionuclide Total Dose")
    half_life = _positive(drug.get("RadionuclideHalfLife"))
    if half_life is None:
        raise SuvUnavailable("no Radionuclide Half Life")
    correction = _text(ds, "DecayCorrection").upper()
    if correction == "ADMIN":
        decay_s = 0.0
    elif correction == "START":
        decay_s = _seconds_from_injection(ds, drug)
    elif correction == "NONE":
        raise SuvUnavailable("the images are not decay-corrected (Decay Correction NONE)")
    else:
        raise SuvUnavailable(f"Decay Correction is {correction or 'missing'}")
    decayed = dose * 2.0 ** (-decay_s / half_life)
    return SuvScale(weight * 1000.0 / decayed, weight, dose, decayed, decay_s, half_life,
                    correction)


def _seconds_from_injection(ds, drug) -> float:
    scan = _datetime(_text(ds, "SeriesDate"), _text(ds, "SeriesTime"))
    acquired = _datetime(_text(ds, "AcquisitionDate"), _text(ds, "AcquisitionTime"))
    if scan is None or (acquired is not None and acquired < scan):
        scan = acquired
    if scan is None:
        raise SuvUnavailable("no Series Date/Time to decay the dose to")
    start = _parse_dt(_text(drug, "RadiopharmaceuticalStartDateTime"))
    if start is None:
        start_time = _parse_tm(_text(drug, "RadiopharmaceuticalStartTime"))
        if start_time is None:
            raise SuvUnavailable("no Radiopharmaceutical Start Time")
        start = dt.datetime.combine(scan.date(), start_time)
        if start > scan:  # injected before midnight, scanned after
            start -= dt.timedelta(days=1)
    seconds = (scan - start).total_seconds()
    if seconds < 0:
        raise SuvUnavailable("the injection is dated after the scan")
    return seconds


# --------------------------------------------------------------------------- values

_TM = re.compile(r"^(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?$")


def _text(ds, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _positive(value) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and f > 0 else None


def _parse_tm(text: str) -> dt.time | None:
    """A DICOM TM (``HH``, ``HHMM``, ``HHMMSS``, ``HHMMSS.FFFFFF``; colons tolerated)."""
    m = _TM.match(text.replace(":", ""))
    if m is None:
        return None
    h, mi, s, frac = m.groups()
    try:
        return dt.time(int(h), int(mi or 0), int(s or 0), int((frac or "0").ljust(6, "0")))
    except ValueError:
        return None


def _parse_da(text: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(text.replace(".", ""), "%Y%m%d").date()
    except ValueError:
        return None


def _datetime(da: str, tm: str) -> dt.datetime | None:
    date, time = _parse_da(da), _parse_tm(tm)
    return dt.datetime.combine(date, time) if date is not None and time is not None else None


def _parse_dt(text: str) -> dt.datetime | None:
    """A DICOM DT; the UTC offset, when given, is dropped (every time in one header
    shares the scanner's clock)."""
    text = re.split(r"[+-]", text, maxsplit=1)[0]
    if len(text) < 8:
        return None
    date, time = _parse_da(text[:8]), _parse_tm(text[8:] or "00")
    return dt.datetime.combine(date, time) if date is not None and time is not None else None
