"""The grey/colour display pipeline (medview.core.pixels) on real files and by formula.

Formula values are worked by hand from PS3.3 C.11.2.1.2.1 (LINEAR),
C.11.2.1.3.2 (LINEAR_EXACT) and C.11.2.1.3.1 (SIGMOID) with y_min = 0, y_max = 255.
Where pydicom implements the same step, its reference function is compared too.
"""

from __future__ import annotations

import dataclasses
import warnings
from copy import deepcopy
from functools import cache

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, apply_windowing
from pydicom.sequence import Sequence
from pydicom.uid import ImplicitVRLittleEndian

from medview.core.io.dicom import decode_frame, read_header
from medview.core.pixels import (
    LUT,
    FrameRenderer,
    Window,
    apply_window,
    auto_window,
    default_window,
    display_params,
    image_params,
    modality_values,
    presets_for,
    render,
)
from tests.helpers.datafiles import find


@cache
def _load(name: str, frame: int = 0):
    path = find(name)
    return read_header(path), decode_frame(path, frame)


def load(name: str, frame: int = 0):
    """(header, stored frame, params) of a real file; the arrays are shared, don't modify."""
    header, stored = _load(name, frame)
    return header, stored, display_params(header, frame)


def quantise(y: np.ndarray) -> np.ndarray:
    return np.floor(y + 0.5).astype(np.uint8)


def pydicom_uint8(stored, header, window: Window | None, invert: bool) -> np.ndarray:
    """pydicom's modality + VOI stages, mapped from pydicom's output range to 0..255."""
    ds = deepcopy(header)
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window.center, window.width
        ds.VOILUTFunction = window.function
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = apply_voi_lut(apply_modality_lut(stored, ds), ds, prefer_lut=window is None)
    if window is None:  # VOI LUT output, 0 .. 2**bits - 1
        y_min, y_max = 0.0, float(2 ** ds.VOILUTSequence[0].LUTDescriptor[2] - 1)
    elif "ModalityLUTSequence" in ds:
        y_min, y_max = 0.0, float(2 ** ds.ModalityLUTSequence[0].LUTDescriptor[2] - 1)
    else:
        bits = int(ds.BitsStored)
        signed = bool(ds.PixelRepresentation)
        lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        slope = float(ds.get("RescaleSlope", 1) or 1)
        intercept = float(ds.get("RescaleIntercept", 0) or 0)
        y_min, y_max = lo * slope + intercept, hi * slope + intercept
    y = (np.asarray(y, np.float64) - y_min) * (255.0 / (y_max - y_min))
    return quantise(255.0 - y if invert else y)


def assert_close(ours: np.ndarray, ref: np.ndarray, tol: int = 1) -> None:
    assert ours.shape == ref.shape
    diff = np.abs(ours.astype(np.int64) - ref.astype(np.int64))
    where = np.argwhere(diff > tol)[:5].tolist()
    assert diff.max() <= tol, f"max difference {diff.max()} at {where}"


# ------------------------------------------------------------------ Window object

def test_window_normalises_and_validates():
    assert Window(40, 400, "linear_exact").function == "LINEAR_EXACT"
    with pytest.raises(ValueError):
        Window(40, 0.5)  # LINEAR needs width >= 1 (C.11.2.1.2.1)
    with pytest.raises(ValueError):
        Window(40, 0, "SIGMOID")
    with pytest.raises(ValueError):
        Window(40, 400, "GAMMA")
    with pytest.raises(ValueError):
        Window(float("nan"), 400)
    assert Window(40, 0.5, "LINEAR_EXACT").width == 0.5


# --------------------------------------------------------- formulas by hand (VOI)

def test_linear_formula_by_hand():
    # c=40, w=400: y=0 for x <= 39.5-199.5 = -160, y=255 for x > 39.5+199.5 = 239
    x = np.array([-1000, -160, -159, 39.5, 40, 238, 239, 240, 5000], dtype=float)
    expected = [0, 0, 0.639097744, 127.5, 127.819548872, 254.360902256, 255, 255, 255]
    np.testing.assert_allclose(apply_window(x, Window(40, 400)), expected, atol=1e-6)


def test_linear_width_one_is_a_threshold_at_c_minus_half():
    x = np.array([98.0, 99.5, 99.6, 100.0])
    np.testing.assert_array_equal(apply_window(x, Window(100, 1)), [0, 0, 255, 255])


def test_linear_exact_formula_by_hand():
    # c=40, w=400: y=0 for x <= -160, y=255 for x > 240, else ((x-40)/400 + 0.5) * 255
    x = np.array([-161, -160, 40, 140, 240, 241], dtype=float)
    expected = [0, 0, 127.5, 191.25, 255, 255]
    np.testing.assert_allclose(apply_window(x, Window(40, 400, "LINEAR_EXACT")), expected)


def test_sigmoid_formula_by_hand():
    # y = 255 / (1 + exp(-4 (x - 40) / 400)); x=140 -> 255/(1+e^-1), x=-60 -> 255/(1+e)
    x = np.array([40.0, 140.0, -60.0])
    expected = [127.5, 186.419946, 68.580054]
    np.testing.assert_allclose(apply_window(x, Window(40, 400, "SIGMOID")), expected, atol=1e-5)


@pytest.mark.parametrize("window", [Window(40, 400), Window(40.5, 1), Window(-3, 2),
                                    Window(40, 400, "LINEAR_EXACT"),
                                    Window(10, 0.25, "LINEAR_EXACT"),
                                    Window(40, 400, "SIGMOID")])
def test_window_functions_match_pydicom_apply_windowing(window):
    # With 8-bit unsigned input and no rescale pydicom's output range is exactly 0..255
    ds = Dataset()
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsStored, ds.PixelRepresentation = 8, 0
    ds.WindowCenter, ds.WindowWidth = window.center, window.width
    ds.VOILUTFunction = window.function
    x = np.linspace(-300.0, 400.0, 2801)
    np.testing.assert_allclose(apply_window(x, window), apply_windowing(x.copy(), ds), atol=1e-9)


@pytest.mark.parametrize("window", [Window(100, 50), Window(100, 50, "LINEAR_EXACT"),
                                    Window(100, 50, "SIGMOID"), Window(100.5, 1)])
def test_render_rounds_the_formula_to_nearest(window):
    stored = np.arange(256, dtype=np.uint8).reshape(16, 16)
    params = image_params("L", 8)
    expected = quantise(apply_window(stored.astype(float), window))
    np.testing.assert_array_equal(FrameRenderer(stored, params).render(window), expected)


# -------------------------------------------------------------- modality stage

def test_modality_lut_sequence_mlut_18():
    header, stored, params = load("mlut_18.dcm")
    lut = params.modality_lut
    assert isinstance(lut, LUT)
    assert (lut.first_mapped, lut.bits, len(lut.table)) == (-2048, 16, 4096)
    assert stored.min() < 0  # signed input into a LUT whose first mapped value is negative
    np.testing.assert_array_equal(modality_values(stored, params),
                                  apply_modality_lut(stored, header))
    for window in (Window(32768, 65536), Window(20000, 9000), Window(45000, 1000, "SIGMOID")):
        ours = FrameRenderer(stored, params).render(window)
        assert_close(ours, pydicom_uint8(stored, header, window, invert=False))


def test_rescale_matches_pydicom_on_signed_ct():
    header, stored, params = load("CT_small.dcm")
    assert params.signed and stored.dtype == np.int16
    assert (params.slope, params.intercept, params.units) == (1.0, -1024.0, "HU")
    np.testing.assert_allclose(modality_values(stored, params), apply_modality_lut(stored, header))
    for window in (Window(40, 400), Window(-600, 1500), Window(50, 1)):
        assert_close(FrameRenderer(stored, params).render(window),
                     pydicom_uint8(stored, header, window, invert=False))


def test_negative_and_positive_stored_values_through_the_table():
    # 693_UNCR: int16 from -2000 (padding) to >2000: the table wraps around 0
    header, stored, params = load("693_UNCR.dcm")
    assert stored.min() < 0 < stored.max()
    window = Window(40, 100)
    expected = quantise(apply_window(modality_values(stored, params), window))
    renderer = FrameRenderer(stored, params)
    np.testing.assert_array_equal(renderer.render(window), expected)
    # other integer widths (offset index) and float data (per-pixel path) agree
    np.testing.assert_array_equal(render(stored.astype(np.int32), params, window), expected)
    assert_close(render(stored.astype(np.float32), params, window), expected)


def test_32bit_stored_values():
    header, stored, params = load("rtdose.dcm")
    assert stored.dtype == np.uint32 and int(stored.max()) > 65535
    window = auto_window(stored, params)
    expected = quantise(apply_window(modality_values(stored, params), window))
    np.testing.assert_array_equal(render(stored, params, window), expected)


def test_float_pixel_data_renders():
    values = np.linspace(-1.0, 1.0, 64 * 64, dtype=np.float32).reshape(64, 64)
    values[0, 0] = np.nan
    params = dataclasses.replace(image_params("L", 16), bits_stored=32)
    window = auto_window(values, params)
    # non-integer values get LINEAR_EXACT, spanning the 0.5-99.5th percentiles
    assert window.function == "LINEAR_EXACT" and 1.9 < window.width <= 2.0
    assert abs(window.center) < 1e-3
    out = render(values, params, window)
    assert out.dtype == np.uint8 and out[0, 0] == 0 and out[-1, -1] >= 254
    assert FrameRenderer(values, params).render(window, invert=True)[0, 0] == 0  # NaN stays black
    assert np.all(np.diff(out.ravel()[1:].astype(int)) >= 0)  # monotonic ramp


# ------------------------------------------------------------------- VOI LUT

def test_voi_lut_sequence_vlut_04():
    header, stored, params = load("vlut_04.dcm")
    assert len(params.voi_luts) == 1 and not params.windows
    lut = params.voi_luts[0]
    assert (lut.first_mapped, lut.bits, len(lut.table)) == (0, 16, 256)
    assert default_window(stored, params) is None  # means "use voi_luts[0]"
    renderer = FrameRenderer(stored, params)
    expected = pydicom_uint8(stored, header, None, invert=False)
    np.testing.assert_array_equal(renderer.render(use_voi_lut=0), expected)
    np.testing.assert_array_equal(renderer.render(), expected)  # the default is the LUT
    with pytest.raises(ValueError):
        renderer.render(Window(40, 400), use_voi_lut=0)


# ------------------------------------------------------------- presentation

def test_monochrome1_inverts_after_voi():
    header, stored, params = load("RG3_UNCR.dcm")
    assert params.photometric == "MONOCHROME1" and params.invert
    window = params.windows[0]
    renderer = FrameRenderer(stored, params)
    ours = renderer.render(window)
    assert_close(ours, pydicom_uint8(stored, header, window, invert=True))
    upright = FrameRenderer(stored, dataclasses.replace(params, invert=False)).render(window)
    np.testing.assert_array_equal(ours.astype(int), 255 - upright.astype(int))
    # the viewer's own inversion cancels the standard one
    np.testing.assert_array_equal(renderer.render(window, invert=True), upright)


@pytest.mark.parametrize("photometric, shape, inverted", [
    ("MONOCHROME2", None, False), ("MONOCHROME1", None, True),
    ("MONOCHROME2", "INVERSE", True), ("MONOCHROME1", "INVERSE", True),
    ("MONOCHROME1", "IDENTITY", False), ("MONOCHROME2", "IDENTITY", False)])
def test_presentation_lut_shape_decides_when_present(photometric, shape, inverted):
    header = deepcopy(load("MR_small.dcm")[0])
    header.PhotometricInterpretation = photometric
    if shape:
        header.PresentationLUTShape = shape
    assert display_params(header).invert is inverted


# --------------------------------------------------------------------- colour

def test_palette_colour_ot_pal_8_face():
    # This file has no preamble/meta, which read_header rejects; read it directly.
    ds = pydicom.dcmread(find("OT-PAL-8-face.dcm"), force=True)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    stored = ds.pixel_array
    params = display_params(ds)
    assert params.photometric == "PALETTE COLOR" and params.palette is not None
    assert (params.palette.first_mapped, params.palette.bits) == (0, 16)
    out = render(stored, params)
    assert out.shape == (480, 640, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, (apply_color_lut(stored, ds) >> 8).astype(np.uint8))
    assert default_window(stored, params) is None and presets_for(params) == []


def test_palette_byte_order_and_segmented_tables():
    little = render(*load("OBXXXX1A.dcm")[1:])
    np.testing.assert_array_equal(render(*load("OBXXXX1A_expb.dcm")[1:]), little)
    header, stored, params = load("gdcm-US-ALOKA-16.dcm")  # segmented palette
    assert "SegmentedRedPaletteColorLookupTableData" in header
    np.testing.assert_array_equal(render(stored, params),
                                  (apply_color_lut(stored, header) >> 8).astype(np.uint8))
    np.testing.assert_array_equal(render(*load("gdcm-US-ALOKA-16_big.dcm")[1:]),
                                  render(stored, params))


def test_render_shapes_grey_rgb_and_16bit_rgb():
    _, grey, grey_params = load("693_UNCR.dcm")
    out = render(grey, grey_params)
    assert out.shape == (512, 512) and out.dtype == np.uint8 and out.flags.c_contiguous
    _, rgb8, p8 = load("SC_rgb.dcm")
    out8 = render(rgb8, p8)
    assert out8.shape == (100, 100, 3) and out8.dtype == np.uint8
    np.testing.assert_array_equal(out8, rgb8)
    _, rgb16, p16 = load("SC_rgb_16bit.dcm")
    assert rgb16.dtype == np.uint16 and p16.bits_stored == 16
    np.testing.assert_array_equal(render(rgb16, p16), out8)  # same picture written as v*257
    renderer = FrameRenderer(rgb8, p8)
    np.testing.assert_array_equal(renderer.render(invert=True), 255 - rgb8)
    assert default_window(rgb8, p8) is None


# --------------------------------------------------------- enhanced multi-frame

def test_enhanced_ct_uses_functional_groups():
    header, stored, params = load("eCT_Supplemental.dcm")
    assert "RescaleIntercept" not in header and "WindowCenter" not in header
    for frame in (0, 1):
        p = display_params(header, frame)
        assert (p.slope, p.intercept) == (1.0, -1024.0)  # Pixel Value Transformation Sequence
        assert p.windows == (Window(49, 102, "LINEAR", "Window 1"),)  # Frame VOI LUT Sequence
        assert p.units == ""  # Rescale Type US = unspecified
    assert_close(render(stored, params, params.windows[0]),
                 quantise(apply_window(stored.astype(float) - 1024.0, params.windows[0])), tol=0)


def test_per_frame_group_overrides_shared():
    header = deepcopy(load("eCT_Supplemental.dcm")[0])
    voi = Dataset()
    voi.WindowCenter, voi.WindowWidth = [300, 60], [800, 200]
    voi.WindowCenterWidthExplanation = ["Perfusion", "Narrow"]
    voi.VOILUTFunction = "SIGMOID"
    pvt = Dataset()
    pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = 2, -1000, "HU"
    header.PerFrameFunctionalGroupsSequence[1].FrameVOILUTSequence = Sequence([voi])
    header.PerFrameFunctionalGroupsSequence[1].PixelValueTransformationSequence = Sequence([pvt])
    first, second = display_params(header, 0), display_params(header, 1)
    assert (first.intercept, first.windows[0].center) == (-1024.0, 49.0)
    assert (second.slope, second.intercept, second.units) == (2.0, -1000.0, "HU")
    assert second.windows == (Window(300, 800, "SIGMOID", "Perfusion"),
                              Window(60, 200, "SIGMOID", "Narrow"))


# --------------------------------------------------------------- windows/presets

def test_several_stored_windows_become_presets():
    _, stored, params = load("bad_sequence.dcm")
    assert [(w.center, w.width, w.name) for w in params.windows] == [
        (40.0, 350.0, "WINDOW1"), (450.0, 1500.0, "WINDOW2")]
    presets = presets_for(params, "CT")
    assert presets[:2] == list(params.windows)
    names = [w.name for w in presets]
    for name in ("Lung", "Mediastinum", "Bone", "Brain", "Abdomen", "Liver", "Stroke", "Subdural"):
        assert name in names
    assert Window(-600, 1500, "LINEAR", "Lung") in presets
    assert len({(w.center, w.width) for w in presets}) == len(presets)  # no duplicates
    assert default_window(stored, params) == params.windows[0]
    _, _, mr = load("MR-SIEMENS-DICOM-WithOverlays.dcm")
    assert presets_for(mr, "MR") == list(mr.windows) and len(mr.windows) == 2


def test_ct_presets_offered_from_units_alone():
    _, _, params = load("CT_small.dcm")
    assert "Lung" in [w.name for w in presets_for(params)]  # units HU


def test_invalid_stored_window_is_dropped():
    header = deepcopy(load("MR_small.dcm")[0])
    header.WindowCenter, header.WindowWidth = [600, 100], [0, 200]
    assert display_params(header).windows == (Window(100, 200, "LINEAR", "Window 2"),)


def test_auto_window_when_none_stored_is_sane():
    header, stored, params = load("CT_small.dcm")
    assert not params.windows
    window = default_window(stored, params)
    assert window == auto_window(stored, params) and window.name == "Auto"
    values = modality_values(stored, params)
    low = window.center - 0.5 - (window.width - 1) / 2
    high = window.center - 0.5 + (window.width - 1) / 2
    assert values.min() <= low < high <= values.max()
    out = render(stored, params)
    assert len(np.unique(out)) > 100  # uses the grey scale
    assert np.mean(out == 0) <= 0.01 and np.mean(out == 255) <= 0.01  # ~0.5% clipped per end


def test_auto_window_ignores_padding():
    _, stored, params = load("693_UNCR.dcm")
    assert params.padding == (-2000, -2000) and np.mean(stored == -2000) > 0.05
    window = auto_window(stored, params)
    assert window.center - window.width / 2 > -1100  # not dragged down to the -3024 HU padding


def test_auto_window_of_a_binary_segmentation():
    _, stored, params = load("liver.dcm")
    out = render(stored, params)
    np.testing.assert_array_equal(np.unique(out), [0, 255])
    np.testing.assert_array_equal(out == 255, stored == 1)


# ---------------------------------------------------------------- plain images

def test_image_params_8bit_grey_is_identity():
    ramp = np.arange(256, dtype=np.uint8).reshape(16, 16)
    np.testing.assert_array_equal(render(ramp, image_params("L", 8)), ramp)


def test_image_params_16bit_and_rgb():
    ramp16 = (np.arange(4096, dtype=np.uint16) * 16).reshape(64, 64)
    params = image_params("L", 16)
    assert params.windows == () and default_window(ramp16, params).name == "Auto"
    rgb = (np.arange(300, dtype=np.uint16).reshape(10, 10, 3) * 200)
    np.testing.assert_array_equal(render(rgb, image_params("RGB", 16)), (rgb >> 8).astype(np.uint8))
    with pytest.raises(ValueError):
        image_params("CMYK", 8)


# ---------------------------------------------------------------- renderer API

def test_out_buffer_is_written_and_returned():
    _, stored, params = load("693_UNCR.dcm")
    renderer = FrameRenderer(stored, params)
    buf = np.empty(stored.shape, np.uint8)
    result = renderer.render(Window(40, 400), out=buf)
    assert result is buf
    np.testing.assert_array_equal(buf, renderer.render(Window(40, 400)))
    lo, hi = renderer.modality_range
    assert lo == float(stored.min()) - 1024 and hi == float(stored.max()) - 1024


def test_grey_renderer_rejects_colour_shaped_input():
    _, _, params = load("693_UNCR.dcm")
    with pytest.raises(ValueError):
        FrameRenderer(np.zeros((4, 4, 3), np.int16), params)
