"""The maths of the reading tools, without Qt: Cobb angle, polyline, freehand ROI,
calibration from a known length, pixel probe (HU, SUV) and the scale bar's length."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medview.core import geometry, outlines
from medview.core.annotations import (CALIBRATION, COBB, FREEHAND, LENGTH, POLYLINE, PROBE,
                                      TEXT, Annotation)
from medview.core.probe import probe
from medview.core.suv import SuvUnavailable, suv_scale
from medview.view.camera import Affine
from medview.view.scale_bar import format_mm, nice_length, scale_bar
from tests.helpers.pet import pet_header
from tests.helpers.series import load_series, write_series

ISO = geometry.Spacing(0.5, 0.5, geometry.PIXEL_SPACING)
PX = geometry.Spacing(None, None, geometry.UNCALIBRATED)


def line_at(degrees: float, centre=(100.0, 100.0), half: float = 40.0, sp=PX):
    """Two (row, col) ends of a line through ``centre`` at ``degrees`` from the image's
    horizontal (physically, on spacing ``sp``)."""
    t = math.radians(degrees)
    rs, cs = (sp.row_mm, sp.col_mm) if sp.calibrated else (1.0, 1.0)
    dr, dc = half * math.sin(t) / rs, half * math.cos(t) / cs
    return (centre[0] - dr, centre[1] - dc), (centre[0] + dr, centre[1] + dc)


# --------------------------------------------------------------------------- Cobb


@pytest.mark.parametrize("a, b, expected", [(20, -15, 35), (0, 30, 30), (50, -50, 100),
                                            (10, 10, 0)])
def test_cobb_angle_of_known_lines_whatever_the_click_order(a, b, expected):
    p0, p1 = line_at(a, (50, 100))
    p2, p3 = line_at(b, (250, 100))
    for first in ((p0, p1), (p1, p0)):
        for second in ((p2, p3), (p3, p2)):
            m = outlines.cobb_angle(PX, *first, *second)
            assert m.unit == "°" and m.value == pytest.approx(expected, abs=1e-9)


def test_cobb_angle_is_physical_on_anisotropic_pixels():
    sp = geometry.Spacing(0.5, 1.0, geometry.PIXEL_SPACING)
    p0, p1 = line_at(25, (50, 100), sp=sp)
    p2, p3 = line_at(-20, (250, 100), sp=sp)
    assert outlines.cobb_angle(sp, p0, p1, p2, p3).value == pytest.approx(45)
    # in pixels the same lines make another angle: the spacing matters
    assert outlines.cobb_angle(PX, p0, p1, p2, p3).value != pytest.approx(45, abs=1)
    with pytest.raises(ValueError, match="zero length"):
        outlines.cobb_angle(sp, p0, p0, p2, p3)


def test_cobb_construction_perpendiculars_meet_at_the_cobb_angle():
    sp = geometry.Spacing(0.5, 1.0, geometry.PIXEL_SPACING)
    pts = [*line_at(25, (50, 100), sp=sp), *line_at(-20, (250, 100), sp=sp)]
    c = outlines.cobb_construction(sp, pts)
    scale = np.array([0.5, 1.0])
    ends = np.asarray(pts) * scale
    apex = np.asarray(c.apex) * scale
    for (mid, to), (a, b) in zip(c.perpendiculars, (ends[:2], ends[2:])):
        mid = np.asarray(mid) * scale
        assert mid == pytest.approx((a + b) / 2)
        assert np.asarray(to) * scale == pytest.approx(apex)
        assert float((apex - mid) @ (b - a)) == pytest.approx(0, abs=1e-6)  # perpendicular
    u, v = (np.asarray(p[0]) * scale - apex for p in c.perpendiculars)
    between = math.degrees(math.acos(u @ v / np.linalg.norm(u) / np.linalg.norm(v)))
    assert min(between, 180 - between) == pytest.approx(45)
    assert outlines.cobb_construction(sp, [*line_at(5, (50, 100)), *line_at(6, (250, 100))]) is None


# --------------------------------------------------------------------------- polyline, freehand

POLYGON = [(10.0, 10.0), (10.0, 70.0), (40.0, 90.0), (80.0, 50.0), (60.0, 20.0)]


def shoelace(points) -> float:
    total = 0.0
    for (y0, x0), (y1, x1) in zip(points, points[1:] + points[:1]):
        total += x0 * y1 - x1 * y0
    return abs(total) / 2


def test_polyline_length_sums_its_segments_in_mm():
    pts = [(0, 0), (0, 30), (40, 30), (40, 60)]
    assert outlines.polyline_length(PX, pts).value == pytest.approx(100)
    sp = geometry.Spacing(0.5, 0.25, geometry.PIXEL_SPACING)
    m = outlines.polyline_length(sp, pts)
    assert (m.value, m.unit, m.source) == (pytest.approx(30 * 0.25 * 2 + 40 * 0.5), "mm",
                                           geometry.PIXEL_SPACING)
    with pytest.raises(ValueError):
        outlines.polyline_length(PX, [(0, 0)])


def test_freehand_area_is_the_shoelace_area_in_mm2():
    assert shoelace(POLYGON) == pytest.approx(3750)   # by hand: |−600+1900+5200+1400−400| / 2
    assert outlines.polygon_area(PX, POLYGON).value == pytest.approx(shoelace(POLYGON))
    assert outlines.polygon_area(PX, POLYGON[::-1]).value == pytest.approx(3750)  # either way
    sp = geometry.Spacing(0.5, 0.25, geometry.IMAGER_PIXEL_SPACING)
    m = outlines.polygon_area(sp, POLYGON)
    assert (m.value, m.unit, m.source) == (pytest.approx(3750 * 0.125), "mm²", sp.source)


def test_polygon_mask_selects_the_pixel_centres_inside():
    mask = outlines.polygon_mask((100, 100), POLYGON)
    # brute force: each pixel centre against each edge (ray casting to the right)
    expected = np.zeros((100, 100), bool)
    for r in range(100):
        for c in range(100):
            inside = False
            for (y0, x0), (y1, x1) in zip(POLYGON, POLYGON[1:] + POLYGON[:1]):
                if (y0 <= r) != (y1 <= r) and c > x0 + (r - y0) / (y1 - y0) * (x1 - x0):
                    inside = not inside
            expected[r, c] = inside
    assert np.array_equal(mask, expected)
    assert abs(int(mask.sum()) - 3750) < 0.05 * 3750   # about the shoelace area
    # a square through pixel edges holds exactly its pixels; outside vertices are clipped
    square = [(-0.5, -0.5), (-0.5, 9.5), (9.5, 9.5), (9.5, -0.5)]
    assert outlines.polygon_mask((20, 20), square)[:10, :10].all()
    assert outlines.polygon_mask((20, 20), square).sum() == 100
    big = [(-50, -50), (-50, 150), (150, 150), (150, -50)]
    assert outlines.polygon_mask((20, 30), big).all()


def test_freehand_roi_statistics_on_a_known_array():
    values = np.arange(20 * 30, dtype=np.int16).reshape(20, 30) - 100
    outline = [(1.5, 2.5), (1.5, 7.5), (5.5, 7.5), (5.5, 2.5)]   # rows 2-5, columns 3-7
    sp = geometry.Spacing(0.5, 0.25, geometry.PIXEL_SPACING)
    s = outlines.freehand_stats(values, outline, sp, "HU")
    inside = values[2:6, 3:8].astype(float)
    assert s.n_pixels == 20 and s.units == "HU"
    assert (s.mean, s.min, s.max) == (pytest.approx(inside.mean()), inside.min(), inside.max())
    assert s.sd == pytest.approx(inside.std(ddof=1))
    assert s.area.value == pytest.approx(4 * 5 * 0.125) and s.area.unit == "mm²"
    with pytest.raises(ValueError, match="no pixels"):
        outlines.freehand_stats(values, [(2.1, 2.1), (2.1, 2.4), (2.4, 2.2)], sp)


# --------------------------------------------------------------------------- calibration


def test_calibration_from_a_known_length_scales_the_spacing():
    detector = geometry.Spacing(0.2, 0.2, geometry.IMAGER_PIXEL_SPACING)
    sp = geometry.user_spacing(detector, (10, 10), (10, 110), 25.0)   # 20 mm by detector
    assert (sp.row_mm, sp.col_mm, sp.source) == (pytest.approx(0.25), pytest.approx(0.25),
                                                 geometry.USER_CALIBRATION)
    assert sp.label == "Calibrated by user 0.25 mm"
    square = geometry.user_spacing(PX, (0, 0), (60, 80), 50.0)         # 100 px
    assert (square.row_mm, square.col_mm) == (pytest.approx(0.5), pytest.approx(0.5))
    aniso = geometry.Spacing(0.5, 0.25, geometry.PIXEL_SPACING)
    kept = geometry.user_spacing(aniso, (0, 0), (0, 40), 20.0)         # 10 mm → × 2
    assert (kept.row_mm, kept.col_mm) == (pytest.approx(1.0), pytest.approx(0.5))
    for bad in (0, -3, float("nan"), "x"):
        with pytest.raises(ValueError, match="positive"):
            geometry.user_spacing(detector, (0, 0), (0, 10), bad)
    with pytest.raises(ValueError, match="zero length"):
        geometry.user_spacing(detector, (5, 5), (5, 5), 10)


class _Frame:
    """A frame as measurements see it: a key and a spacing."""

    key = ("cr.dcm", 0)

    def __init__(self, spacing):
        self.spacing = spacing


def test_a_measurement_with_a_user_calibration_says_so_in_label_and_data():
    frame = _Frame(geometry.Spacing(0.2, 0.2, geometry.IMAGER_PIXEL_SPACING))
    plain = Annotation(LENGTH, [(10, 10), (10, 110)])
    assert plain.result(frame).value == pytest.approx(20)
    assert "Imager Pixel Spacing" in plain.label(frame)
    calibrated = Annotation(LENGTH, [(10, 10), (10, 110)], calibration=[0.25, 0.25])
    m = calibrated.result(frame)
    assert (m.value, m.source) == (pytest.approx(25), geometry.USER_CALIBRATION)
    assert calibrated.calibration == (0.25, 0.25)   # a JSON list becomes a tuple
    assert "25.0 mm" in calibrated.label(frame) and "calibrated" in calibrated.label(frame)
    path = Annotation(POLYLINE, [(0, 0), (0, 40), (30, 40)], calibration=(0.5, 0.5))
    assert path.result(frame).value == pytest.approx(35) and "calibrated" in path.label(frame)

    line = Annotation(CALIBRATION, [(10, 10), (10, 110)])
    assert "type the known length" in line.label(frame)
    line.known_mm = 25.0
    result = line.result(frame)
    assert result.spacing.row_mm == pytest.approx(0.25)
    assert result.native.value == pytest.approx(20)       # the line measures natively
    assert line.label(frame).startswith("Calibration 25 mm (0.25 mm/px)")
    assert "was 20.0 mm by Imager Pixel Spacing" in line.label(frame)


def test_cobb_text_and_freehand_annotations_label_what_they_measure():
    frame = _Frame(ISO)
    cobb = Annotation(COBB, [*line_at(20, (50, 100)), *line_at(-15, (250, 100))])
    assert cobb.label(frame) == "35.0°"
    assert Annotation(TEXT, [(5, 5)], text="L4 fracture").label(frame) == "L4 fracture"
    assert not Annotation(FREEHAND, [(0, 0), (0, 5)]).complete
    assert Annotation(FREEHAND, POLYGON).open_ended


# --------------------------------------------------------------------------- probe: HU, SUV


def test_probe_reads_hounsfield_units_through_the_rescale(tmp_path):
    write_series(tmp_path / "ct", n=1, size=16, extra={"RescaleSlope": 2,
                                                       "RescaleIntercept": -1000})
    frame = load_series(tmp_path / "ct").frames[0]
    p = probe(frame, (3.2, 4.9))   # nearest pixel (3, 5): stored 3 + 5
    assert (p.row, p.col, p.stored, p.units) == (3, 5, (8.0,), "HU")
    assert p.value == 8 * 2 - 1000 and p.suv is None and p.no_suv == ""
    a = Annotation(PROBE, [(3, 5)])
    assert a.label(frame) == "-984 HU"
    with pytest.raises(ValueError, match="outside"):
        probe(frame, (-3, 5))


def test_suv_body_weight_formula_on_a_constructed_pet_header():
    s = suv_scale(pet_header())
    decayed = 370e6 * 2 ** (-3600 / 6586.2)   # injected 10:00, series 11:00
    assert s.decay_s == 3600 and s.decayed_dose_bq == pytest.approx(decayed)
    assert s.factor == pytest.approx(75 * 1000 / decayed)
    assert 5000 * s.factor == pytest.approx(1.4804, abs=1e-4)   # 5 kBq/mL → SUVbw
    # a full start date-time wins; an injection before midnight for a scan after it
    dated = suv_scale(pet_header(RadiopharmaceuticalStartDateTime="20240101103000"))
    assert dated.decay_s == 1800
    late = suv_scale(pet_header(SeriesTime="003000", AcquisitionTime="003750",
                                RadiopharmaceuticalStartTime="233000"))
    assert late.decay_s == 3600
    # earlier acquisition than the series time (a re-written series time): the acquisition
    assert suv_scale(pet_header(SeriesTime="120000")).decay_s == 3900
    assert suv_scale(pet_header(DecayCorrection="ADMIN")).factor == pytest.approx(75e3 / 370e6)
    assert suv_scale(pet_header(Units="GML")).factor == 1.0


@pytest.mark.parametrize("change, reason", [
    ({"PatientWeight": None}, "no Patient's Weight"),
    ({"PatientWeight": "0"}, "no Patient's Weight"),
    ({"Units": "CNTS"}, "Units is CNTS, not BQML"),
    ({"DecayCorrection": "NONE"}, "not decay-corrected"),
    ({"RadionuclideTotalDose": None}, "no Radionuclide Total Dose"),
    ({"RadionuclideHalfLife": None}, "no Radionuclide Half Life"),
    ({"RadiopharmaceuticalStartTime": None}, "no Radiopharmaceutical Start Time"),
    ({"RadiopharmaceuticalInformationSequence": None}, "no Radiopharmaceutical Information"),
    ({"Modality": "CT"}, "defined for PET, not CT"),
])
def test_no_suv_says_why(change, reason):
    with pytest.raises(SuvUnavailable, match=reason):
        suv_scale(pet_header(**change))


def test_probe_on_pet_gives_activity_and_suv_or_why_not(tmp_path):
    header = pet_header()
    extra = {k: header[k].value for k in ("Units", "DecayCorrection", "PatientWeight",
                                          "SeriesDate", "SeriesTime", "AcquisitionDate",
                                          "AcquisitionTime",
                                          "RadiopharmaceuticalInformationSequence")}
    extra.update(RescaleSlope=100, RescaleIntercept=0)
    write_series(tmp_path / "pet", n=1, size=16, modality="PT", extra=extra)
    frame = load_series(tmp_path / "pet").frames[0]
    p = probe(frame, (2, 3))                      # stored 5 → 500 Bq/mL
    assert (p.value, p.units) == (500, "Bq/mL")
    assert p.suv == pytest.approx(500 * suv_scale(header).factor)
    assert Annotation(PROBE, [(2, 3)]).label(frame) == f"500 Bq/mL\nSUVbw {p.suv:.2f}"
    del extra["PatientWeight"]
    write_series(tmp_path / "pet2", n=1, size=16, modality="PT", extra=extra)
    frame = load_series(tmp_path / "pet2").frames[0]
    assert Annotation(PROBE, [(2, 3)]).label(frame) == "500 Bq/mL\nno SUV: no Patient's Weight"


# --------------------------------------------------------------------------- scale bar


@pytest.mark.parametrize("max_mm, expected", [(37, 20), (100, 100), (99.9, 50), (1000, 1000),
                                              (0.7, 0.5), (4.99, 2), (5, 5), (0.01, 0.01)])
def test_scale_bar_length_is_1_2_or_5_times_a_power_of_ten(max_mm, expected):
    assert nice_length(max_mm) == pytest.approx(expected)


def test_scale_bar_fits_the_view_and_names_its_spacing():
    # 2 widget px per image pixel of 0.5 mm: 0.25 mm per widget px; a 400 px view
    bar = scale_bar(ISO, Affine.scale(2, 2), 400)
    assert (bar.mm, bar.pixels, bar.text) == (20, 80, "20 mm")
    assert bar.source == "Pixel Spacing"
    user = geometry.Spacing(0.1, 0.1, geometry.USER_CALIBRATION)
    assert "calibrated by user" in scale_bar(user, Affine.scale(1, 1), 400).source
    # anisotropic pixels turned a quarter: the screen's horizontal runs along the rows
    aniso = geometry.Spacing(0.5, 0.25, geometry.PIXEL_SPACING)
    upright = scale_bar(aniso, Affine(), 400)
    turned = scale_bar(aniso, Affine.rotate(90), 400)
    assert upright.pixels == pytest.approx(upright.mm / 0.25)
    assert turned.pixels == pytest.approx(turned.mm / 0.5)
    assert scale_bar(PX, Affine(), 400) is None
    assert scale_bar(ISO, Affine.scale(0.01, 0.01), 400) is not None
    assert scale_bar(ISO, Affine.scale(2, 2), 60) is None     # too narrow to draw
    assert format_mm(0.5) == "0.5 mm" and format_mm(200) == "200 mm"
