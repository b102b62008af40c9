"""Spacing, patient geometry and measurements, against real files and hand maths."""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from medview.core import geometry as g
from tests.helpers.datafiles import find


def header(name: str) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(find(name), stop_before_pixels=True)


# --------------------------------------------------------------------------- spacing


def test_ct_pixel_spacing():
    sp = g.pixel_spacing(header("CT_small.dcm"))
    assert (sp.row_mm, sp.col_mm, sp.source) == (0.661468, 0.661468, "PixelSpacing")
    assert sp.calibrated
    assert sp.label == "PixelSpacing 0.66 mm"


def test_anisotropic_ct_keeps_row_and_column_apart():
    # dicomdirtests CT2N/6293: PixelSpacing 0.545455 (rows) \ 0.596847 (columns)
    sp = g.pixel_spacing(header("6293"))
    assert (sp.row_mm, sp.col_mm) == (0.545455, 0.596847)
    assert sp.label == "PixelSpacing 0.55 × 0.60 mm"


def test_cr_uses_imager_pixel_spacing_labelled_as_detector():
    ds = header("6154")  # real CR with only ImagerPixelSpacing 0.1\0.1
    assert "PixelSpacing" not in ds
    sp = g.pixel_spacing(ds)
    assert (sp.row_mm, sp.col_mm, sp.source) == (0.1, 0.1, "ImagerPixelSpacing")
    assert sp.label == "Imager (detector) 0.10 mm"


def test_magnification_factor_moves_imager_spacing_to_patient_plane():
    ds = header("6154")
    ds.EstimatedRadiographicMagnificationFactor = "1.25"
    sp = g.pixel_spacing(ds)
    assert sp.source == "ImagerPixelSpacing ÷ magnification"
    assert sp.row_mm == pytest.approx(0.08) and sp.col_mm == pytest.approx(0.08)
    assert sp.label == "Imager (detector) 0.080 mm, mag-corrected"


@pytest.mark.parametrize("factor", ["0", "-1.2", ""])
def test_invalid_magnification_factor_is_ignored(factor):
    ds = header("6154")
    ds.EstimatedRadiographicMagnificationFactor = factor
    assert g.pixel_spacing(ds).source == "ImagerPixelSpacing"


def test_pixel_spacing_equal_to_imager_spacing_is_the_detector_spacing():
    # PS3.3 10.7.1.1: equal values mean no magnification correction was made
    ds = header("6154")
    ds.PixelSpacing = [0.1, 0.1]
    assert g.pixel_spacing(ds).source == "ImagerPixelSpacing"
    ds.EstimatedRadiographicMagnificationFactor = "1.1"
    assert g.pixel_spacing(ds).row_mm == pytest.approx(0.1 / 1.1)


def test_calibrated_pixel_spacing_wins_over_imager_spacing():
    ds = header("6154")
    ds.PixelSpacing = [0.085, 0.085]
    assert g.pixel_spacing(ds) == g.Spacing(0.085, 0.085, "PixelSpacing")
    ds.PixelSpacing = [0.1, 0.1]
    ds.PixelSpacingCalibrationType = "GEOMETRY"  # explicitly calibrated, even if equal
    assert g.pixel_spacing(ds).source == "PixelSpacing"


def test_nominal_scanned_pixel_spacing_for_digitised_film():
    ds = header("SC_rgb_jpeg.dcm")
    ds.NominalScannedPixelSpacing = [0.2, 0.25]
    sp = g.pixel_spacing(ds)
    assert (sp.row_mm, sp.col_mm, sp.source) == (0.2, 0.25, "NominalScannedPixelSpacing")


@pytest.mark.parametrize("name", ["SC_rgb_jpeg.dcm", "mlut_18.dcm"])
def test_secondary_capture_without_spacing_is_uncalibrated(name):
    sp = g.pixel_spacing(header(name))
    assert sp == g.Spacing(None, None, "uncalibrated")
    assert not sp.calibrated
    assert sp.label == "uncalibrated (px)"


def test_zero_pixel_spacing_is_uncalibrated():
    ds = header("RG1_UNCI.dcm")  # real CR whose PixelSpacing is 0.000\0.000
    assert [float(v) for v in ds.PixelSpacing] == [0.0, 0.0]
    assert not g.pixel_spacing(ds).calibrated


@pytest.mark.parametrize("value", [["1.0"], ["nan", "1"], ["-0.5", "0.5"]])
def test_malformed_pixel_spacing_is_uncalibrated(value):
    ds = header("CT_small.dcm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns on the invalid DS 'nan'
        ds["PixelSpacing"].value = value
    assert g.pixel_spacing(ds).source == "uncalibrated"


def test_enhanced_ct_uses_shared_pixel_measures():
    ds = header("eCT_Supplemental.dcm")
    assert "PixelSpacing" not in ds
    for frame in (0, 1):
        assert g.pixel_spacing(ds, frame) == g.Spacing(0.388672, 0.388672, "PixelSpacing")


def test_per_frame_pixel_measures_override_shared():
    ds = header("eCT_Supplemental.dcm")
    measures = Dataset()
    measures.PixelSpacing = [0.5, 0.6]
    ds.PerFrameFunctionalGroupsSequence[1].PixelMeasuresSequence = Sequence([measures])
    assert g.pixel_spacing(ds, 0).row_mm == 0.388672
    assert (g.pixel_spacing(ds, 1).row_mm, g.pixel_spacing(ds, 1).col_mm) == (0.5, 0.6)


def test_frame_out_of_range_raises():
    with pytest.raises(IndexError, match="frame 2"):
        g.pixel_spacing(header("eCT_Supplemental.dcm"), 2)


# --------------------------------------------------------------------------- plane


def test_pixel_to_patient_axial_ct():
    plane = g.image_plane(header("CT_small.dcm"))
    p = g.pixel_to_patient(plane, row=10, col=20)
    expected = [-158.135803 + 20 * 0.661468, -179.035797 + 10 * 0.661468, -75.699997]
    np.testing.assert_allclose(p, expected, atol=1e-9)
    np.testing.assert_allclose(plane.normal, [0, 0, 1])
    assert g.slice_location(plane) == pytest.approx(-75.699997)


def test_pixel_to_patient_sagittal_anisotropic_ct():
    # 6293: IOP 0\-1\0\0\0\-1, IPP 0\265\50, rows 0.545455 mm, columns 0.596847 mm.
    # Columns run towards -y, rows towards -z; each uses its own spacing.
    plane = g.image_plane(header("6293"))
    p = g.pixel_to_patient(plane, row=100, col=50)
    np.testing.assert_allclose(p, [0.0, 265 - 50 * 0.596847, 50 - 100 * 0.545455], atol=1e-9)
    np.testing.assert_allclose(plane.normal, [1, 0, 0])  # (0,-1,0) x (0,0,-1)


def test_oblique_plane_normal_and_slice_location():
    ds = header("J2K_pixelrep_mismatch.dcm")  # IOP 1\0\0\0\0.9272\-0.3746
    plane = g.image_plane(ds)
    n = np.array([0.0, 0.3746, 0.9272]) / math.hypot(0.3746, 0.9272)
    np.testing.assert_allclose(plane.normal, n, atol=1e-12)
    expected = -98.1898 * n[1] + 72.1446 * n[2]
    assert g.slice_location(plane) == pytest.approx(expected)
    # a pixel one row down moves along the column cosine, not along the normal
    step = g.pixel_to_patient(plane, 1, 0) - g.pixel_to_patient(plane, 0, 0)
    np.testing.assert_allclose(step, 0.431 * np.array([0, 0.9272, -0.3746]), atol=1e-4)
    assert float(step @ plane.normal) == pytest.approx(0, abs=1e-9)


def test_enhanced_ct_per_frame_positions():
    ds = header("eCT_Supplemental.dcm")
    planes = [g.image_plane(ds, f) for f in (0, 1)]
    np.testing.assert_allclose(planes[1].origin, [99.5, -301.5, -149.0])
    np.testing.assert_allclose(planes[0].normal, [0, 0, -1])  # IOP -1\0\0\0\1\0
    assert [g.slice_location(p) for p in planes] == pytest.approx([159.0, 149.0])
    p = g.pixel_to_patient(planes[1], row=3, col=10)
    np.testing.assert_allclose(p, [99.5 - 10 * 0.388672, -301.5 + 3 * 0.388672, -149.0])


def test_series_sorts_along_normal():
    names = ["17196", "17106", "17166", "17136"]  # one real CT series, shuffled
    planes = {n: g.image_plane(header(n)) for n in names}
    order = sorted(names, key=lambda n: g.slice_location(planes[n]))
    assert order == ["17106", "17136", "17166", "17196"]


def test_plane_is_none_without_geometry_or_calibration():
    assert g.image_plane(header("6154")) is None  # projection radiograph: no IPP/IOP
    ds = header("CT_small.dcm")
    ds.PixelSpacing = [0, 0]
    assert g.image_plane(ds) is None  # no mm, no patient mapping
    ds = header("CT_small.dcm")
    ds.ImageOrientationPatient = [1, 0, 0, 1, 0, 0]  # parallel cosines: corrupt
    assert g.image_plane(ds) is None
    ds = header("CT_small.dcm")
    del ds.ImagePositionPatient
    assert g.image_plane(ds) is None


def test_image_plane_arrays_are_read_only():
    plane = g.image_plane(header("CT_small.dcm"))
    with pytest.raises(ValueError):
        plane.origin[0] = 0.0


# --------------------------------------------------------------------------- measurements

ANISO = g.Spacing(0.5, 2.0, "PixelSpacing")


def test_distance_with_anisotropic_spacing():
    # 3 rows x 0.5 mm = 1.5 mm down, 2 columns x 2 mm = 4 mm across
    m = g.distance(ANISO, (1, 1), (4, 3))
    assert m.value == pytest.approx(math.hypot(1.5, 4.0))
    assert (m.unit, m.source) == ("mm", "PixelSpacing")
    assert str(m) == "4.3 mm (PixelSpacing)"


def test_distance_on_real_anisotropic_ct():
    sp = g.pixel_spacing(header("6293"))
    m = g.distance(sp, (0, 0), (30, 40))
    assert m.value == pytest.approx(math.hypot(30 * 0.545455, 40 * 0.596847))


def test_distance_matches_patient_space_distance():
    plane = g.image_plane(header("J2K_pixelrep_mismatch.dcm"))
    a, b = (12.5, 40.0), (200.0, 7.25)
    in_patient = np.linalg.norm(g.pixel_to_patient(plane, *b) - g.pixel_to_patient(plane, *a))
    assert g.distance(plane.spacing, a, b).value == pytest.approx(in_patient, rel=1e-4)


def test_distance_uncalibrated_is_in_pixels():
    m = g.distance(g.Spacing(None, None, "uncalibrated"), (0, 0), (3, 4))
    assert (m.value, m.unit) == (5.0, "px")
    assert str(m) == "5.0 px (uncalibrated)"


def test_angle_in_physical_space():
    # arms (0,1) and (1,0) in pixels are 90° on screen; in mm they are (0, 2) and (0.5, 0):
    # still 90°. Arms (1,1) and (1,-1) are 90° in pixels but not in mm.
    assert g.angle(ANISO, (0, 1), (0, 0), (1, 0)).value == pytest.approx(90)
    m = g.angle(ANISO, (1, 1), (0, 0), (1, -1))
    expected = 2 * math.degrees(math.atan2(2.0, 0.5))
    assert m.value == pytest.approx(expected)
    assert m.unit == "°" and str(m) == f"{expected:.1f}° (PixelSpacing)"


def test_angle_uncalibrated_and_straight():
    unc = g.Spacing(None, None, "uncalibrated")
    assert g.angle(unc, (1, 1), (0, 0), (1, -1)).value == pytest.approx(90)
    assert g.angle(unc, (0, -5), (0, 0), (0, 7)).value == pytest.approx(180)
    with pytest.raises(ValueError):
        g.angle(unc, (0, 0), (0, 0), (1, 1))


def test_rect_mask_inclusive_and_clipped():
    m = g.rect_mask((20, 30), (9, 9), (0, 0))
    assert m.shape == (20, 30) and m.dtype == bool
    assert m.sum() == 100 and m[0, 0] and m[9, 9] and not m[10, 9]
    assert g.rect_mask((20, 30), (-5, 25), (3, 100)).sum() == 4 * 5


def test_ellipse_area_close_to_pi_a_b():
    a, b = 40, 25  # semi-axes in pixels
    m = g.ellipse_mask((200, 200), (50, 60), (50 + 2 * a, 60 + 2 * b))
    assert m.sum() == pytest.approx(math.pi * a * b, rel=0.01)
    stats = g.roi_stats(np.ones(m.shape), m, ANISO)
    assert stats.area.value == pytest.approx(math.pi * a * b * 0.5 * 2.0, rel=0.01)
    assert stats.area.unit == "mm²"
    assert m[50 + a, 60 + b] and m[50, 60 + b]  # centre; edge midpoint (boundary included)
    assert not m[50, 60] and not m[51, 61]  # the box's corner lies outside


def test_degenerate_ellipse_is_empty():
    assert not g.ellipse_mask((10, 10), (2, 2), (2, 8)).any()


def test_roi_stats_against_numpy_on_real_ct():
    ds = pydicom.dcmread(find("CT_small.dcm"))
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    mask = g.ellipse_mask(hu.shape, (20, 30), (60, 90))
    sp = g.pixel_spacing(ds)
    s = g.roi_stats(hu, mask, sp, "HU")
    inside = hu[mask]
    assert s.n_pixels == inside.size == mask.sum()
    assert s.mean == pytest.approx(inside.mean())
    assert s.sd == pytest.approx(inside.std(ddof=1))
    assert (s.min, s.max) == (inside.min(), inside.max())
    assert s.area.value == pytest.approx(inside.size * 0.661468 ** 2)
    assert (s.units, s.area.source) == ("HU", "PixelSpacing")
    assert str(s).startswith(f"mean {inside.mean():.1f} HU, SD")


def test_roi_stats_uncalibrated_single_pixel_and_errors():
    unc = g.Spacing(None, None, "uncalibrated")
    values = np.arange(12, dtype=np.int16).reshape(3, 4)
    one = np.zeros((3, 4), bool)
    one[1, 2] = True
    s = g.roi_stats(values, one, unc)
    assert (s.mean, s.sd, s.n_pixels, s.area.value, s.area.unit) == (6, 0, 1, 1, "px²")
    with pytest.raises(ValueError, match="no pixels"):
        g.roi_stats(values, np.zeros((3, 4), bool), unc)
    with pytest.raises(ValueError, match="shape"):
        g.roi_stats(values, np.ones((4, 3), bool), unc)


def test_roi_stats_do_not_overflow_integer_values():
    values = np.full((4, 4), 30000, dtype=np.int16)
    s = g.roi_stats(values, np.ones((4, 4), bool), ANISO)
    assert s.mean == 30000 and s.sd == 0


def test_spacing_is_immutable():
    sp = copy.copy(ANISO)
    with pytest.raises(AttributeError):
        sp.row_mm = 1.0  # type: ignore[misc]
