"""Measurements as a DICOM Comprehensive 3D SR Measurement Report (TID 1500).

Each annotation is one measurement group:

- length, polyline, angle, Cobb angle: TID 1501 (Measurements and Qualitative
  Evaluations) holding one TID 300 measurement, Length (SCT 410668003) or Angle (SCT
  1483009), inferred from a SCOORD POLYLINE of its points on the source image (2 for a
  length, 3 or more for a polyline measured along its path, 3 for an angle), or for a
  Cobb angle from two 2-point POLYLINEs, its two lines;
- rectangle, ellipse, freehand ROI: TID 1410 (Planar ROI Measurements) whose image
  region is a closed POLYLINE (the rectangle's four corners, or the freehand outline,
  and the first point again: a 2-D SCOORD has no POLYGON) or an ELLIPSE (major then
  minor axis end points, PS3.3 C.18.6.1.1), with Area and the Mean, Standard
  Deviation, Minimum and Maximum (derivations, CID 7464) of the modality values.

Probes, text notes and calibration lines are not measurements of TID 1500 and are left
out with a note (the saved reading, :mod:`medview.core.readings`, keeps them); the
user calibration itself is stated on every measurement made with it.

Lengths, angles and areas carry a Measurement Method that names the pixel spacing they
relied on (:mod:`.concepts`): Pixel Spacing, Imager Pixel Spacing (at the detector),
user calibration, or uncalibrated pixels. SCOORD coordinates are (column, row) with
(0, 0) at the top left corner of the top left pixel (PS3.3 C.18.6.1.2); medview's
points put pixel centres on integers, hence the half-pixel shift.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medview.core.annotations import (ANGLE, COBB, ELLIPSE, FREEHAND, KIND_NAMES, LENGTH,
                                      POLYLINE, RECT, Annotation)
from medview.core.imports import load
from medview.core.sr import concepts, documents
from medview.core.study import Frame

SERIES_NUMBER = 990
SERIES_DESCRIPTION = "medview measurements"


def write_measurement_report(items: Sequence[tuple[Frame, Annotation]], out: str | Path, *,
                             observer: str | None = None,
                             description: str = SERIES_DESCRIPTION) -> documents.Written:
    """Write the measurements ``items`` (frame, annotation) of one study as a TID 1500 SR.

    Parameters
    ----------
    items : sequence of (Frame, Annotation)
        The annotations and the images they are on; incomplete ones, those on plain
        images and kinds SR cannot carry are left out, each with a note.
    out : path
        The DICOM file to write (atomically).
    observer : str, optional
        The reader's name (``Family^Given``), recorded as the person observer.
    description : str
        Series Description of the document.

    Returns
    -------
    documents.Written
        Raises ValueError when nothing can be exported or the images span studies.
    """
    hd = load("highdicom")
    groups, frames, notes = [], [], []
    for frame, annotation in items:
        reason = _why_not_exported(frame, annotation)
        if reason is not None:
            notes.append(reason)
            continue
        number = len(groups) + 1
        groups.append(_group(frame, annotation, number, notes))
        frames.append(frame)
    if not groups:
        raise ValueError("no measurement on a DICOM image to export"
                         + (f" ({notes[0]})" if notes else ""))
    documents.one_study(frames)
    context = hd.sr.ObservationContext(
        observer_person_context=documents.person_observer(observer) if observer else None,
        observer_device_context=documents.device_observer())
    report = hd.sr.MeasurementReport(
        observation_context=context,
        procedure_reported=concepts.coded(concepts.IMAGING_PROCEDURE),
        imaging_measurements=groups)
    sop_uid = documents.new_uid()
    document = hd.sr.Comprehensive3DSR(
        evidence=documents.evidence(frames), content=report[0],
        series_instance_uid=documents.new_uid(), series_number=SERIES_NUMBER,
        sop_instance_uid=sop_uid, instance_number=1,
        manufacturer=documents.MANUFACTURER, series_description=description,
        software_versions=documents.software_versions(),
        coding_schemes=[concepts.coding_scheme()])
    documents.save(document, Path(out))
    return documents.Written(Path(out), len(groups), notes, sop_uid)


def _why_not_exported(frame: Frame, a: Annotation) -> str | None:
    if a.kind not in EXPORTED:
        return f"{frame.label}: a {KIND_NAMES[a.kind].lower()} is not exported to SR"
    if not a.complete:
        return f"{frame.label}: an unfinished {KIND_NAMES[a.kind]} is left out"
    return documents.why_not_referenceable(frame)


def _group(frame: Frame, a: Annotation, number: int, notes: list[str]):
    hd = load("highdicom")
    tracking = hd.sr.TrackingIdentifier(uid=documents.new_uid(),
                                        identifier=f"{KIND_NAMES[a.kind]} {number}")
    result = a.result(frame)
    if isinstance(result, str):
        notes.append(f"{frame.label}: {KIND_NAMES[a.kind]} {number} has no values ({result})")
        result = None
    if a.is_roi:
        return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=tracking,
            referenced_region=hd.sr.ImageRegion(
                graphic_type=_REGION_TYPE[a.kind], graphic_data=_region(a),
                source_image=documents.source_image("Region", frame)),
            measurements=_roi_measurements(result, frame) if result is not None else None)
    name = concepts.LENGTH if a.kind in (LENGTH, POLYLINE) else concepts.ANGLE
    lines = [a.points[:2], a.points[2:4]] if a.kind == COBB else [a.points]
    coordinates = [hd.sr.CoordinatesForMeasurement(
        graphic_type=hd.sr.GraphicTypeValues.POLYLINE, graphic_data=scoord(line),
        source_image=documents.source_image("Region", frame)) for line in lines]
    measurement = hd.sr.Measurement(
        name=concepts.coded(name), value=result.value,
        unit=concepts.coded(concepts.unit_concept(result.unit)),
        method=concepts.coded(concepts.calibration_concept(result.source)),
        referenced_coordinates=coordinates)
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking, measurements=[measurement],
        source_images=[documents.source_image("MeasurementGroup", frame)])


_REGION_TYPE = {RECT: "POLYLINE", ELLIPSE: "ELLIPSE", FREEHAND: "POLYLINE"}
EXPORTED = (LENGTH, POLYLINE, ANGLE, COBB, RECT, ELLIPSE, FREEHAND)


def _roi_measurements(stats, frame: Frame) -> list:
    hd = load("highdicom")
    area = stats.area
    out = [hd.sr.Measurement(
        name=concepts.coded(concepts.AREA), value=area.value,
        unit=concepts.coded(concepts.unit_concept(area.unit)),
        method=concepts.coded(concepts.calibration_concept(area.source)))]
    quantity = concepts.coded(concepts.quantity(stats.units, str(frame.get("Modality", ""))))
    unit = concepts.coded(concepts.unit_concept(stats.units))
    for name, derivation in concepts.STATISTICS.items():
        out.append(hd.sr.Measurement(name=quantity, value=float(getattr(stats, name)),
                                     unit=unit, derivation=concepts.coded(derivation)))
    return out


def scoord(points: Sequence[tuple[float, float]]) -> np.ndarray:
    """``(row, col)`` points, pixel centres on integers -> SCOORD (column, row) pairs."""
    rc = np.asarray(points, dtype=float).reshape(-1, 2)
    return rc[:, ::-1] + 0.5


def _region(a: Annotation) -> np.ndarray:
    if a.kind == FREEHAND:  # the outline, closed
        return scoord(list(a.points) + [a.points[0]])
    (r0, c0), (r1, c1) = a.points[:2]
    if a.kind == RECT:  # around the corners, closed; the two points are vertices 1 and 3
        return scoord([(r0, c0), (r0, c1), (r1, c1), (r1, c0), (r0, c0)])
    mid_r, mid_c = (r0 + r1) / 2, (c0 + c1) / 2
    across = [(mid_r, c0), (mid_r, c1)]    # horizontal axis, in the points' order
    down = [(r0, mid_c), (r1, mid_c)]      # vertical axis
    major_first = abs(c1 - c0) >= abs(r1 - r0)
    return scoord(across + down if major_first else down + across)
