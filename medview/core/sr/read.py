"""Reading SR documents back: a TID 1500 Measurement Report to measurements, a Key
Object Selection document to key images.

What medview writes (:mod:`.measurement_report`, :mod:`.key_objects`) comes back whole;
other systems' reports are read as far as they map onto medview's tools: a two-point
POLYLINE is a length, a three-point one with a unit of degrees an angle, a longer one
(or a three-point one in mm or px) a polyline, an angle inferred from two two-point
POLYLINEs a Cobb angle, a closed POLYLINE around an axis-aligned rectangle a rectangle
ROI and any other closed POLYLINE a freehand ROI, an axis-aligned ELLIPSE (or a CIRCLE)
an ellipse ROI. Anything else is listed in ``notes``, one line each. A file that is not
such a document raises :class:`~medview.core.errors.ReadError` with one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medview.core.annotations import (ANGLE, COBB, ELLIPSE, FREEHAND, KIND_NAMES, LENGTH,
                                      POLYLINE, RECT, Annotation)
from medview.core.errors import ReadError, plain_reason
from medview.core.image_refs import FrameFinder, ImageRef
from medview.core.imports import load
from medview.core.io.dicom import read_header
from medview.core.sr import concepts

KEY_OBJECT_SELECTION_UID = "1.2.840.10008.5.1.4.1.1.88.59"
MEASUREMENT_REPORT_TEMPLATE = "1500"


@dataclass(frozen=True)
class Value:
    """One measured value as recorded: ``name`` is the concept's meaning, with the
    derivation in brackets for ROI statistics (``"X-Ray Attenuation (Mean)"``)."""

    name: str
    value: float
    unit: str


@dataclass
class Measurement:
    """One measurement of a report, in medview's terms.

    Attributes
    ----------
    kind : str
        An annotation kind of :mod:`medview.core.annotations`.
    points : list of (row, col)
        As the annotation's points (pixel centres on integers).
    image : ImageRef
        The image it was made on.
    values : list of Value
        As recorded in the report (the viewer measures again on the image).
    source : str
        The pixel spacing it relied on (``geometry.Spacing.source``), empty when the
        report does not say in medview's codes.
    label : str
        The tracking identifier (e.g. ``"Length 1"``).
    """

    kind: str
    points: list[tuple[float, float]]
    image: ImageRef
    values: list[Value] = field(default_factory=list)
    source: str = ""
    label: str = ""

    def annotation(self) -> Annotation:
        return Annotation(self.kind, list(self.points))


@dataclass
class Document:
    """What an SR file holds, as far as medview reads it.

    Attributes
    ----------
    kind : str
        ``"measurements"`` (TID 1500) or ``"key images"`` (Key Object Selection).
    study_uid, patient_id, patient_name, title : str
    measurements : list of Measurement
    key_images : list of ImageRef
    notes : list of str
        What was left out, one line each.
    """

    kind: str
    study_uid: str = ""
    patient_id: str = ""
    patient_name: str = ""
    title: str = ""
    measurements: list[Measurement] = field(default_factory=list)
    key_images: list[ImageRef] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_document(path: str | Path) -> Document:
    """Read a TID 1500 Measurement Report or a Key Object Selection document."""
    path = Path(path)
    ds = read_header(path)  # SR documents have no pixel data: this is all of it
    try:
        if str(ds.get("SOPClassUID", "")) == KEY_OBJECT_SELECTION_UID:
            return _key_objects(ds)
        templates = ds.get("ContentTemplateSequence") or [None]
        if str(getattr(templates[0], "TemplateIdentifier", "")) == MEASUREMENT_REPORT_TEMPLATE:
            return _measurement_report(ds)
    except ReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged document: one line
        # pydicom parses sequences when first read, so a cut file fails here
        why = ("its content is cut short" if isinstance(exc, (OSError, EOFError))
               else plain_reason(exc))
        raise ReadError(path, f"damaged SR document ({why})") from None
    raise ReadError(path, "not a DICOM SR measurement report (TID 1500) or key object "
                          "selection document")


def to_annotations(document: Document, finder: FrameFinder) -> tuple[list, list[str]]:
    """``(frame key, Annotation)`` for each measurement whose image is open, and one note
    per measurement whose image is not."""
    placed, notes = [], []
    for m in document.measurements:
        key = finder.key_of(m.image)
        if key is None:
            notes.append(f"{m.label or KIND_NAMES[m.kind]}: image {m.image.describe()} is not open")
        else:
            placed.append((key, m.annotation()))
    return placed, notes


def to_key_images(document: Document, finder: FrameFinder) -> tuple[list, list[str]]:
    """Frame keys of the document's key images that are open, and a note per other."""
    keys, notes = [], []
    for ref in document.key_images:
        key = finder.key_of(ref)
        if key is None:
            notes.append(f"key image {ref.describe()} is not open")
        else:
            keys.append(key)
    return keys, notes


# -- key object selection -----------------------------------------------------------


def _key_objects(ds) -> Document:
    doc = _document("key images", ds)
    series_of = _evidence_series(ds)
    for item in ds.get("ContentSequence", []):
        if str(item.get("ValueType", "")) != "IMAGE":
            continue
        for ref in _image_refs(item, series_of):
            doc.key_images.append(ref)
    return doc


# -- measurement report -------------------------------------------------------------


def _measurement_report(ds) -> Document:
    hd = load("highdicom")
    doc = _document("measurements", ds)
    series_of = _evidence_series(ds)
    report = hd.sr.Comprehensive3DSR.from_dataset(ds).content
    groups = ([(g, _line_measurements) for g in report.get_image_measurement_groups()]
              + [(g, _roi_measurement) for g in report.get_planar_roi_measurement_groups()])
    order = _tracking_order(ds)  # the document's order, lines and ROIs mixed
    groups.sort(key=lambda pair: order.get(str(pair[0].tracking_uid), len(order)))
    for group, read in groups:
        doc.measurements += read(group, series_of, doc.notes)
    return doc


def _tracking_order(ds) -> dict[str, int]:
    """Tracking Unique Identifier (DCM 112040) -> position in the document."""
    order: dict[str, int] = {}
    stack = list(reversed(ds.get("ContentSequence", [])))
    while stack:
        item = stack.pop()
        names = item.get("ConceptNameCodeSequence") or [None]
        if str(getattr(names[0], "CodeValue", "")) == "112040" and "UID" in item:
            order.setdefault(str(item.UID), len(order))
        stack += reversed(item.get("ContentSequence", []))
    return order


def _line_measurements(group, series_of: dict, notes: list[str]) -> list[Measurement]:
    label = str(group.tracking_identifier or "")
    out = []
    for m in group.get_measurements():
        scoords = [c for c in m.referenced_coordinates if hasattr(c, "GraphicType")
                   and c.GraphicType == "POLYLINE"]
        if not scoords:
            notes.append(f"{label or m.name.meaning}: no image coordinates, left out")
            continue
        unit = concepts.unit_of(m.unit)
        kind, points = _line_shape([points_of(c.value) for c in scoords], unit)
        refs = _image_refs(scoords[0].ContentSequence[0], series_of) if kind else []
        if kind is None or not refs:
            notes.append(f"{label or m.name.meaning}: a {len(points)}-point line "
                         f"in {unit or 'no unit'} is not one of medview's measurements")
            continue
        out.append(Measurement(kind, points, refs[0],
                               [Value(str(m.name.meaning), float(m.value), unit)],
                               concepts.calibration_of(m.method), label))
    return out


def _line_shape(lines: list[list], unit: str) -> tuple[str | None, list]:
    """The kind of a line measurement from its POLYLINEs and unit, and its points."""
    degrees = unit == "°"
    if degrees and len(lines) == 2 and all(len(line) == 2 for line in lines):
        return COBB, lines[0] + lines[1]
    points = lines[0]
    if len(points) == 2 and not degrees:
        return LENGTH, points
    if len(points) == 3 and degrees:
        return ANGLE, points
    if len(points) >= 3 and not degrees:
        return POLYLINE, points
    return None, points


def _roi_measurement(group, series_of: dict, notes: list[str]) -> list[Measurement]:
    label = str(group.tracking_identifier or "")
    region = group.roi
    if region is None or not hasattr(region, "GraphicType"):
        notes.append(f"{label or 'ROI'}: not a region on one image, left out")
        return []
    kind, points = _roi_shape(str(region.GraphicType), points_of(region.value))
    refs = _image_refs(region.ContentSequence[0], series_of)
    if kind is None or not refs:
        notes.append(f"{label or 'ROI'}: a {str(region.GraphicType).lower()} region "
                     "that is not an axis-aligned rectangle or ellipse nor a closed "
                     "outline, left out")
        return []
    values, source = [], ""
    for m in group.get_measurements():
        unit = concepts.unit_of(m.unit)
        name = str(m.name.meaning)
        if m.derivation is not None:
            name = f"{name} ({m.derivation.meaning})"
        elif m.method is not None:
            source = source or concepts.calibration_of(m.method)
        values.append(Value(name, float(m.value), unit))
    return [Measurement(kind, points, refs[0], values, source, label)]


def _roi_shape(graphic_type: str, xy_points: list) -> tuple[str | None, list]:
    p = np.asarray(xy_points, float)
    if p.ndim != 2 or p.shape[1] != 2:
        return None, []
    if graphic_type == "POLYLINE" and len(p) == 5:
        (r0, c0), (r1, c1) = (tuple(float(v) for v in p[i]) for i in (0, 2))
        corners = [(r0, c0), (r0, c1), (r1, c1), (r1, c0), (r0, c0)]
        if np.allclose(p, corners, atol=1e-3):
            return RECT, [(r0, c0), (r1, c1)]
    if graphic_type == "POLYLINE" and len(p) >= 4 and np.allclose(p[0], p[-1], atol=1e-3):
        return FREEHAND, [(float(r), float(c)) for r, c in p[:-1]]
    if graphic_type == "ELLIPSE" and len(p) == 4:
        first, second = p[:2], p[2:]
        across, down = (first, second) if np.ptp(first[:, 0]) < 1e-3 else (second, first)
        if np.ptp(across[:, 0]) < 1e-3 and np.ptp(down[:, 1]) < 1e-3:
            return ELLIPSE, [(float(down[0][0]), float(across[0][1])),
                             (float(down[1][0]), float(across[1][1]))]
    if graphic_type == "CIRCLE" and len(p) == 2:
        r = float(np.hypot(*(p[1] - p[0])))
        rc, cc = (float(v) for v in p[0])
        return ELLIPSE, [(rc - r, cc - r), (rc + r, cc + r)]
    return None, []


def points_of(graphic_data) -> list[tuple[float, float]]:
    """SCOORD (column, row) pairs -> ``(row, col)`` points, pixel centres on integers."""
    xy = np.asarray(graphic_data, dtype=float).reshape(-1, 2)
    return [(float(r), float(c)) for r, c in (xy[:, ::-1] - 0.5)]


# -- shared -------------------------------------------------------------------------


def _document(kind: str, ds) -> Document:
    title = ds.get("ConceptNameCodeSequence")
    return Document(kind, study_uid=str(ds.get("StudyInstanceUID", "")),
                    patient_id=str(ds.get("PatientID", "") or ""),
                    patient_name=str(ds.get("PatientName", "") or ""),
                    title=str(title[0].CodeMeaning) if title else "")


def _evidence_series(ds) -> dict[str, str]:
    """SOP Instance UID -> Series Instance UID, from the evidence sequences."""
    out = {}
    for name in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence"):
        for study in ds.get(name, []):
            for series in study.get("ReferencedSeriesSequence", []):
                for sop in series.get("ReferencedSOPSequence", []):
                    out[str(sop.ReferencedSOPInstanceUID)] = str(series.SeriesInstanceUID)
    return out


def _image_refs(item, series_of: dict) -> list[ImageRef]:
    """One ImageRef per referenced frame of an IMAGE content item (frame 1 when it names
    none: a single-frame image, or a whole multi-frame one)."""
    sops = item.get("ReferencedSOPSequence") or []
    if not sops:
        return []
    sop = sops[0]
    uid = str(sop.ReferencedSOPInstanceUID)
    numbers = sop.get("ReferencedFrameNumber")
    if numbers is None or numbers == "":
        numbers = [1]
    elif not isinstance(numbers, (list, tuple)) and not hasattr(numbers, "__iter__"):
        numbers = [numbers]
    return [ImageRef(sop_instance_uid=uid, frame=int(n) - 1,
                     sop_class_uid=str(sop.ReferencedSOPClassUID),
                     series_uid=series_of.get(uid, "")) for n in numbers if int(n) >= 1]
