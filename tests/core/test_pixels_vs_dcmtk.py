"""medview's 8-bit rendering against dcmtk's dcmj2pnm (3.6.7), pixel by pixel, +-1 grey level.

dcmtk's LINEAR windowing (``+Ww c w``, ``+Wi n``) follows PS3.3 C.11.2.1.2.1 but
truncates where we round, hence the +-1. Our stored values come from
``decode_frame`` (pydicom); dcmtk decodes itself, so this also cross-checks decoding.

What is not compared, and why:

* JPEG 2000 files (``*_J2K*``, ``JPEG2000.dcm``...): dcmtk has no JPEG 2000 codec.
* Lossy JPEG (``JPEG-lossy.dcm``, ``JPGExtended.dcm``): IDCT implementations may
  legitimately differ by a stored value, which a narrow window amplifies; that is
  decoder behaviour, not the display pipeline.
* ``rtdose_expb*.dcm``: dcmtk byte-swaps 32-bit big-endian pixel data as 16-bit
  words (its little-endian twin ``rtdose.dcm``, same values, matches); dcmtk's bug.
* ``MR2_UNCR.dcm`` with narrow windows: its Rescale Slope is 3.774114 and dcmtk
  truncates rescaled values to integers before windowing (the standard has no
  such step), so with a 400-wide window it is off by up to 2. Its stored
  2000-wide window is still compared.
* LINEAR_EXACT: dcmtk 3.6.7 does not know it; we pass the equivalent LINEAR window.
* Enhanced multi-frame: dcmtk applies the functional-group rescale but not the
  Frame VOI LUT windows (``+Wi`` finds none), so those windows are passed with ``+Ww``.
* YBR colour: the YBR->RGB conversion is the decoder's (pydicom's), differing from
  dcmtk's by up to 2; RGB and palette colour are compared.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np
import pydicom
import pytest

from medview.core.io.dicom import decode_frame, read_header, transfer_syntax
from medview.core.pixels import FrameRenderer, Window, display_params, modality_values
from tests.helpers.datafiles import find

pytestmark = [
    pytest.mark.reference,
    pytest.mark.skipif(shutil.which("dcmj2pnm") is None, reason="dcmtk's dcmj2pnm is not on PATH"),
]

_JPEG_LS = ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81")

# (file, frame): real monochrome files covering CT/MR/CR/NM/US, MONOCHROME1, signed,
# 8/12/14/15/16/32-bit, rescaled, Modality LUT, VOI LUT, multi-frame and enhanced.
GREY = [
    ("CT_small.dcm", 0),              # CT, signed 16-bit, rescale -1024, no window
    ("693_UNCR.dcm", 0),              # CT 512x512, signed 14-bit, padding
    ("693_UNCI.dcm", 0),
    ("bad_sequence.dcm", 0),          # CT, JPEG lossless 12-bit, two stored windows
    ("MR_small.dcm", 0),              # MR signed 16-bit
    ("MR_small_bigendian.dcm", 0),
    ("MR_small_RLE.dcm", 0),
    ("MR_small_jpeg_ls_lossless.dcm", 0),
    ("MR-SIEMENS-DICOM-WithOverlays.dcm", 0),  # 12-bit, two windows, overlays (not drawn)
    ("MR2_UNCR.dcm", 0),              # 1024x1024, non-integer rescale slope
    ("emri_small.dcm", 5),            # multi-frame, Presentation LUT Shape IDENTITY
    ("eCT_Supplemental.dcm", 0),      # enhanced CT: functional-group rescale
    ("eCT_Supplemental.dcm", 1),
    ("RG1_UNCR.dcm", 0),              # CR 1955x1841 MONOCHROME1, 15-bit
    ("RG3_UNCR.dcm", 0),              # CR MONOCHROME1, 10-bit
    ("6154", 0),                      # CR MONOCHROME1, rescale slope 0.684
    ("JPEG-LL.dcm", 0),               # NM, JPEG lossless, signed
    ("JPEG2000_UNC.dcm", 0),          # NM signed, no window
    ("JPGLosslessP14SV1_1s_1f_8b.dcm", 0),  # US 8-bit
    ("mlut_18.dcm", 0),               # Modality LUT Sequence, signed input
    ("vlut_04.dcm", 0),               # VOI LUT Sequence
    ("liver.dcm", 1),                 # 1-bit segmentation frame
    ("rtdose.dcm", 3),                # 32-bit
]
# dcmtk truncates rescaled values to integers: only wide windows stay within +-1 (see top)
WIDE_WINDOWS_ONLY = {"MR2_UNCR.dcm"}

COLOUR = ["SC_rgb.dcm", "SC_rgb_16bit.dcm", "SC_rgb_expb_16bit.dcm", "US1_UNCR.dcm",
          "OBXXXX1A.dcm", "OBXXXX1A_expb.dcm", "examples_palette.dcm"]


@lru_cache(maxsize=8)
def _frame(name: str, frame: int):
    path = find(name)
    header = read_header(path)
    return path, header, decode_frame(path, frame)


def _tool(header) -> str:
    syntax = transfer_syntax(header)
    if syntax in _JPEG_LS:
        if shutil.which("dcml2pnm") is None:
            pytest.skip("JPEG-LS needs dcmtk's dcml2pnm")
        return "dcml2pnm"
    return "dcmj2pnm"


def read_pnm(path: Path) -> np.ndarray:
    """A binary 8-bit PGM (P5) or PPM (P6) as (rows, cols) or (rows, cols, 3) uint8."""
    data = path.read_bytes()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    magic, cols, rows, maxval = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    assert maxval == 255, f"expected 8-bit output, got maxval {maxval}"
    channels = 3 if magic == b"P6" else 1
    pixels = np.frombuffer(data, np.uint8, rows * cols * channels, pos + 1)
    return pixels.reshape((rows, cols, 3) if channels == 3 else (rows, cols))


def dcmtk_render(path: Path, tmp_path: Path, args: list[str], frame: int = 0,
                 tool: str = "dcmj2pnm") -> np.ndarray:
    out = tmp_path / f"{path.name}-{frame}-{abs(hash(tuple(args)))}.pnm"
    cmd = [tool, "--no-overlays", "+op", "+F", str(frame + 1), *args, str(path), str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(cmd)} failed: {result.stderr.strip()}"
    return read_pnm(out)


def window_args(window: Window) -> list[str]:
    if window.function == "LINEAR_EXACT":  # same mapping as LINEAR with c + 0.5, w + 1
        return ["+Ww", repr(window.center + 0.5), repr(window.width + 1.0)]
    args = ["+Ww", repr(window.center), repr(window.width)]
    return args + ["+Wfs"] if window.function == "SIGMOID" else args


def assert_within_one(ours: np.ndarray, ref: np.ndarray, what: str) -> None:
    assert ours.shape == ref.shape, what
    diff = np.abs(ours.astype(np.int16) - ref.astype(np.int16))
    bad = np.argwhere(diff > 1)
    assert bad.size == 0, (f"{what}: {len(bad)} pixels differ by more than 1 "
                           f"(max {diff.max()}), first at {bad[:3].tolist()}")


def _kinds(name: str, frame: int) -> list[str]:
    """Which windows to compare for a file, decided from its header at collection."""
    params = display_params(read_header(find(name)), frame)
    kinds = ["stored"] if params.windows or params.voi_luts else []
    if name in WIDE_WINDOWS_ONLY:
        return kinds
    kinds += ["40/400", "auto", "sigmoid"]
    if float(params.slope).is_integer() and float(params.intercept).is_integer():
        # a 3-wide window around the median puts most of the ramp on real pixel values,
        # so an error in the c - 0.5 / w - 1 terms shows up as large differences.
        # (dcmtk truncates non-integer rescaled values, see top, so not for those.)
        kinds.append("narrow")
    return kinds


def _cases():
    for name, frame in GREY:
        for kind in _kinds(name, frame):
            yield pytest.param(name, frame, kind, id=f"{name}[{frame}]-{kind}")


@pytest.mark.parametrize("name, frame, kind", list(_cases()))
def test_grey_matches_dcmtk(name, frame, kind, tmp_path):
    path, header, stored = _frame(name, frame)
    params = display_params(header, frame)
    renderer = FrameRenderer(stored, params)
    tool = _tool(header)
    if kind == "stored":
        if params.voi_luts and not params.windows:
            ours = renderer.render(use_voi_lut=0)
            ref = dcmtk_render(path, tmp_path, ["+Wl", "1"], frame, tool)
            assert_within_one(ours, ref, f"{name} VOI LUT 1")
            return
        for i, window in enumerate(params.windows):
            enhanced = "PerFrameFunctionalGroupsSequence" in header
            args = window_args(window) if enhanced else ["+Wi", str(i + 1)]
            ref = dcmtk_render(path, tmp_path, args, frame, tool)
            assert_within_one(renderer.render(window), ref, f"{name} stored window {i + 1}")
        return
    if kind == "narrow":
        window = Window(float(np.median(modality_values(stored, params))), 3)
    else:
        window = {"40/400": Window(40, 400), "auto": renderer.auto_window(),
                  "sigmoid": Window(*_mid_window(renderer), "SIGMOID")}[kind]
    ref = dcmtk_render(path, tmp_path, window_args(window), frame, tool)
    assert_within_one(renderer.render(window), ref, f"{name} {window}")


def _mid_window(renderer: FrameRenderer) -> tuple[float, float]:
    lo, hi = renderer.modality_range
    return (lo + hi) / 2.0, max((hi - lo) / 2.0, 2.0)


@pytest.mark.parametrize("name, shape", [("MR_small.dcm", "INVERSE"), ("6154", "IDENTITY"),
                                         ("6154", "INVERSE")])
def test_presentation_lut_shape_matches_dcmtk(name, shape, tmp_path):
    # Real pixels, header edited: MONOCHROME2 + INVERSE inverts; MONOCHROME1 + IDENTITY does not.
    full = pydicom.dcmread(find(name))
    full.PresentationLUTShape = shape
    edited = tmp_path / f"{name}-{shape}.dcm"
    full.save_as(edited)
    header, stored = read_header(edited), decode_frame(edited)
    params = display_params(header)
    assert params.invert is (shape == "INVERSE")
    window = params.windows[0]
    ref = dcmtk_render(edited, tmp_path, ["+Wi", "1"])
    assert_within_one(FrameRenderer(stored, params).render(window), ref, f"{name} {shape}")


@pytest.mark.parametrize("name", COLOUR)
def test_colour_matches_dcmtk(name, tmp_path):
    path, header, stored = _frame(name, 0)
    ours = FrameRenderer(stored, display_params(header)).render()
    assert ours.ndim == 3
    assert_within_one(ours, dcmtk_render(path, tmp_path, []), name)
