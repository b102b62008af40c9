"""Decoded stored values equal what dcmtk or GDCM (Debian's command-line tools) decode.

For every lossless-compressed real file, the reference tool decompresses it to
an uncompressed file, whose values pydicom reads with its native (codec-free)
reader; medview's decode of every frame must equal it exactly. 12-bit JPEG
Extended (lossy) is compared too: both sides run the IJG algorithm, so the
result must be identical.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pydicom
import pytest
from pydicom.uid import UID

from medview.core.errors import ReadError
from medview.core.io.dicom import check_displayable, decode_frame, number_of_frames, read_header
from tests.helpers.datafiles import all_real_files

pytestmark = pytest.mark.reference

# transfer syntax -> (tool, args) that writes an uncompressed copy
REFERENCE = {
    "1.2.840.10008.1.2.5": ("dcmdrle", []),                 # RLE Lossless
    "1.2.840.10008.1.2.4.70": ("dcmdjpeg", []),             # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.57": ("dcmdjpeg", []),             # JPEG Lossless
    "1.2.840.10008.1.2.4.51": ("dcmdjpeg", []),             # JPEG Extended 12-bit
    "1.2.840.10008.1.2.4.80": ("dcmdjpls", []),             # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.90": ("gdcmconv", ["--raw"]),      # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.201": ("gdcmconv", ["--raw"]),     # HTJ2K Lossless
}

# Files whose pixel data is deliberately broken in pydicom's test suite.
KNOWN_BROKEN = {"emri_small_jpeg_2k_lossless_too_short.dcm", "UN_sequence.dcm",
                "bad_sequence.dcm"}


def _cases():
    cases = []
    for path in all_real_files():
        try:
            ds = read_header(path)
            check_displayable(path, ds)
        except ReadError:
            continue
        syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
        if syntax in REFERENCE and path.name not in KNOWN_BROKEN:
            cases.append(pytest.param(path, str(syntax), id=path.name))
    return cases


CASES = _cases()


def test_enough_reference_cases():
    # RLE, JPEG lossless, JPEG 12-bit extended, JPEG-LS, JPEG 2000 (no real HTJ2K file exists)
    kinds = {p.values[1] for p in CASES}
    assert len(CASES) >= 20 and len(kinds) >= 5, (len(CASES), kinds)


@pytest.mark.parametrize("path,syntax", CASES)
def test_decode_equals_reference(path, syntax, tmp_path):
    tool, args = REFERENCE[syntax]
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} not installed (Debian: dcmtk / libgdcm-tools)")
    out = tmp_path / "raw.dcm"
    proc = subprocess.run([tool, *args, str(path), str(out)], capture_output=True, text=True)
    assert proc.returncode == 0 and out.exists(), proc.stderr
    ref_ds = pydicom.dcmread(out)
    assert not UID(ref_ds.file_meta.TransferSyntaxUID).is_compressed
    ref = ref_ds.pixel_array
    header = read_header(path)
    n = number_of_frames(header)
    for i in range(n):
        ours = decode_frame(path, i, header)
        expected = ref[i] if n > 1 else ref
        assert ours.shape == expected.shape
        np.testing.assert_array_equal(ours, expected, err_msg=f"frame {i} of {path.name}")
