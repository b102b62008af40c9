"""DICOM SR export and import: TID 1500 measurements and Key Object Selection.

A study of real files (CT_small, MR_small, the 10-frame emri_small) is measured with
every tool, exported with highdicom, checked by dcmtk's ``dsrdump`` and read back: each
measurement keeps its type, points in image coordinates, values and units, and the
SOP instance and frame it was made on; each key image its instance and frame. A
radiograph measured with Imager Pixel Spacing or a user calibration says so in the SR.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pydicom
import pytest

from medview.core import geometry
from medview.core.annotations import (ANGLE, CALIBRATION, COBB, ELLIPSE, FREEHAND, LENGTH,
                                      POLYLINE, PROBE, RECT, TEXT, Annotation)
from medview.core.errors import ReadError
from medview.core.image_refs import FrameFinder
from medview.core.io.image import probe_image
from medview.core.sr.concepts import USER_CALIBRATION
from medview.core.sr.key_objects import write_key_object_selection
from medview.core.sr.measurement_report import write_measurement_report
from medview.core.sr.read import read_document, to_annotations, to_key_images
from medview.core.study import Frame
from tests.helpers.study_files import STUDY_UID, frame_of, one_study, open_study, real_file

MEASURED = [
    ("CT_small.dcm", 0, LENGTH, [(10.25, 20.5), (90.0, 100.75)]),
    ("CT_small.dcm", 0, RECT, [(30.0, 30.0), (60.5, 70.0)]),
    ("MR_small.dcm", 0, ANGLE, [(5.0, 5.0), (30.0, 30.0), (5.0, 55.0)]),
    ("emri_small.dcm", 7, ELLIPSE, [(40.0, 50.0), (12.0, 14.0)]),   # drawn up and left
    ("emri_small.dcm", 2, LENGTH, [(3.5, 60.0), (3.5, 2.0)]),
    ("MR_small.dcm", 0, ELLIPSE, [(10.0, 20.0), (50.0, 30.0)]),      # taller than wide
    ("CT_small.dcm", 0, POLYLINE, [(5.0, 5.0), (5.0, 40.0), (30.5, 40.0), (60.0, 12.25)]),
    ("CT_small.dcm", 0, COBB, [(10.0, 10.0), (6.0, 50.0), (40.0, 10.0), (48.0, 50.0)]),
    ("MR_small.dcm", 0, FREEHAND, [(10.0, 10.0), (12.5, 40.0), (35.0, 44.0), (40.0, 15.0),
                                   (25.0, 8.0)]),
]
KEYS = [("emri_small.dcm", 7), ("CT_small.dcm", 0), ("emri_small.dcm", 2)]


@pytest.fixture
def study(tmp_path):
    return open_study(one_study(tmp_path / "study"))


def _values(result) -> list[tuple[float, str]]:
    """What medview shows for an annotation, as (value, unit) in the SR's order."""
    if hasattr(result, "unit"):
        return [(result.value, result.unit)]
    return [(result.area.value, result.area.unit)] + [
        (getattr(result, k), result.units) for k in ("mean", "sd", "min", "max")]


def _dsrdump(path) -> str:
    if shutil.which("dsrdump") is None:
        pytest.skip("dcmtk's dsrdump is not installed")
    out = subprocess.run(["dsrdump", str(path)], capture_output=True, text=True, timeout=60)
    errors = [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("E:")]
    assert out.returncode == 0 and not errors, out.stdout + out.stderr
    return out.stdout


def test_every_measurement_survives_the_round_trip(study, tmp_path):
    items = [(frame_of(study, name, i), Annotation(kind, points))
             for name, i, kind, points in MEASURED]
    written = write_measurement_report(items, tmp_path / "sr.dcm", observer="Reader^Ann")
    assert (written.count, written.notes) == (len(MEASURED), [])

    ds = pydicom.dcmread(tmp_path / "sr.dcm")
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert ds.StudyInstanceUID == STUDY_UID and ds.PatientID == "SR-1"
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    dump = _dsrdump(tmp_path / "sr.dcm")
    assert dump.count('"Measurement Group"') == len(MEASURED) and "Reader^Ann" in dump
    # SCOORD is (column, row) from the top left corner of the top left pixel (PS3.3
    # C.18.6.1.1): the first length's first point (10.25, 20.5) is 21/10.75
    assert "(POLYLINE,21/10.75," in dump

    doc = read_document(tmp_path / "sr.dcm")
    assert doc.kind == "measurements" and doc.study_uid == STUDY_UID and doc.notes == []
    assert len(doc.measurements) == len(MEASURED)
    for (frame, a), m in zip(items, doc.measurements):
        assert m.kind == a.kind
        np.testing.assert_allclose(m.points, a.points, atol=1e-4)
        assert m.image.sop_instance_uid == frame.header.SOPInstanceUID
        assert m.image.sop_class_uid == frame.header.SOPClassUID
        assert m.image.series_uid == frame.header.SeriesInstanceUID
        assert m.image.frame == frame.index
        expected = _values(a.result(frame))
        assert [(v.value, v.unit) for v in m.values] == [
            (pytest.approx(value, rel=1e-9), unit) for value, unit in expected]
        result = a.result(frame)
        assert m.source == getattr(result, "area", result).source
    assert [m.source for m in doc.measurements[:3]] == [geometry.PIXEL_SPACING] * 3
    assert doc.measurements[3].source == geometry.UNCALIBRATED  # emri_small: no spacing
    assert doc.measurements[3].values[0].unit == "px²"
    rect = doc.measurements[1]
    assert [v.name for v in rect.values] == [
        "Area", "X-Ray Attenuation (Mean)", "X-Ray Attenuation (Standard Deviation)",
        "X-Ray Attenuation (Minimum)", "X-Ray Attenuation (Maximum)"]
    assert rect.values[1].unit == "HU" and rect.label == "Rectangle ROI 2"

    # SR -> annotations on the reopened study: the same images, the same points
    placed, notes = to_annotations(doc, FrameFinder([study]))
    assert notes == []
    assert [(key, b.kind) for key, b in placed] == [(f.key, a.kind) for f, a in items]
    for (_, b), (_, a) in zip(placed, items):
        np.testing.assert_allclose(b.points, a.points, atol=1e-4)


def test_key_images_survive_the_round_trip(study, tmp_path):
    frames = [frame_of(study, name, i) for name, i in KEYS]
    written = write_key_object_selection(frames, tmp_path / "ko.dcm", description="for MDT")
    assert (written.count, written.notes) == (3, [])
    ds = pydicom.dcmread(tmp_path / "ko.dcm")
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.59" and ds.Modality == "KO"
    dump = _dsrdump(tmp_path / "ko.dcm")
    assert "Key Object Selection" in dump and "for MDT" in dump

    doc = read_document(tmp_path / "ko.dcm")
    assert doc.kind == "key images" and doc.title == "Of Interest"
    got = {(r.sop_instance_uid, r.frame, r.series_uid) for r in doc.key_images}
    assert got == {(f.header.SOPInstanceUID, f.index, f.header.SeriesInstanceUID) for f in frames}
    assert len(doc.key_images) == 3  # two frames of emri_small in one item, both named
    keys, notes = to_key_images(doc, FrameFinder([study]))
    assert sorted(keys) == sorted(f.key for f in frames) and notes == []


def test_imager_pixel_spacing_and_user_calibration_are_stated(tmp_path):
    cr = real_file("6154")   # a CR with Imager Pixel Spacing only (pydicom's DICOMDIR tests)
    shutil.copy(cr, tmp_path / "cr.dcm")
    header = pydicom.dcmread(tmp_path / "cr.dcm", stop_before_pixels=True)
    detector = Frame(tmp_path / "cr.dcm", 0, header)
    assert detector.spacing.source == geometry.IMAGER_PIXEL_SPACING
    line = [(1.0, 1.0), (9.0, 13.0)]
    written = write_measurement_report(   # the second made on the series calibrated by user
        [(detector, Annotation(LENGTH, line)),
         (detector, Annotation(LENGTH, line, calibration=(0.25, 0.25)))], tmp_path / "sr.dcm")
    assert written.count == 2
    dump = _dsrdump(tmp_path / "sr.dcm")
    assert '"Imager Pixel Spacing (at the detector)"' in dump
    assert '"User calibration from a known length"' in dump
    doc = read_document(tmp_path / "sr.dcm")
    at_detector, by_user = doc.measurements
    assert at_detector.source == geometry.IMAGER_PIXEL_SPACING
    assert by_user.source == USER_CALIBRATION
    assert by_user.values[0].value == pytest.approx(0.25 * (8**2 + 12**2) ** 0.5)
    assert at_detector.values[0].value == pytest.approx(
        detector.spacing.row_mm * (8**2 + 12**2) ** 0.5)


def test_what_sr_cannot_carry_is_left_out_with_a_note(study, tmp_path):
    from PIL import Image

    Image.new("L", (16, 16)).save(tmp_path / "photo.png")
    photo = Frame(tmp_path / "photo.png", 0, None, probe_image(tmp_path / "photo.png"))
    ct = frame_of(study, "CT_small.dcm")
    written = write_measurement_report(
        [(photo, Annotation(LENGTH, [(1.0, 1.0), (5.0, 5.0)])),
         (ct, Annotation(LENGTH, [(1.0, 1.0)])),
         (ct, Annotation(LENGTH, [(1.0, 1.0), (5.0, 5.0)])),
         (ct, Annotation(PROBE, [(3.0, 3.0)])),
         (ct, Annotation(TEXT, [(3.0, 3.0)], text="cyst")),
         (ct, Annotation(CALIBRATION, [(1.0, 1.0), (1.0, 9.0)], known_mm=5.0))],
        tmp_path / "sr.dcm")
    assert written.count == 1
    assert written.notes == ["photo.png: not a DICOM image (SR documents reference DICOM "
                             "images only)", "CT_small.dcm: an unfinished Length is left out",
                             "CT_small.dcm: a pixel probe is not exported to SR",
                             "CT_small.dcm: a text is not exported to SR",
                             "CT_small.dcm: a calibration is not exported to SR"]
    with pytest.raises(ValueError, match="no measurement on a DICOM image"):
        write_measurement_report([(photo, Annotation(LENGTH, [(1.0, 1.0), (5.0, 5.0)]))],
                                 tmp_path / "none.dcm")
    assert not (tmp_path / "none.dcm").exists()


def test_images_of_two_studies_are_refused(study, tmp_path):
    other = open_study(one_study(tmp_path / "other", names=("CT_small.dcm",),
                                 StudyInstanceUID="1.2.3.4.5"))
    with pytest.raises(ValueError, match="more than one study"):
        write_key_object_selection([frame_of(study, "CT_small.dcm"),
                                    frame_of(other, "CT_small.dcm")], tmp_path / "ko.dcm")


NOT_SR = "not a DICOM SR measurement report (TID 1500) or key object selection document"


@pytest.mark.parametrize("name, reason", [
    ("reportsi.dcm", NOT_SR),     # a Basic Text SR of IHE Year 2
    ("test-SR.dcm", NOT_SR),
    ("CT_small.dcm", NOT_SR),
    ("README.txt", "not a DICOM file"),
])
def test_other_files_are_refused_in_one_line(name, reason, tmp_path):
    path = real_file(name) if name != "README.txt" else tmp_path / name
    if name == "README.txt":
        path.write_text("not an image")
    with pytest.raises(ReadError) as err:
        read_document(path)
    assert str(err.value) == f"{path}: {reason}"


def test_a_truncated_sr_is_refused_in_one_line(study, tmp_path):
    ct = frame_of(study, "CT_small.dcm")
    write_measurement_report([(ct, Annotation(RECT, [(1.0, 1.0), (5.0, 5.0)]))],
                             tmp_path / "sr.dcm")
    data = (tmp_path / "sr.dcm").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ReadError) as err:
        read_document(tmp_path / "cut.dcm")
    cut = tmp_path / "cut.dcm"
    assert str(err.value) == f"{cut}: damaged SR document (its content is cut short)"
