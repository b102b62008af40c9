"""Fallback decoder through GDCM's own ImageReader.

pydicom's GDCM plugin refuses 12-bit JPEG Extended (process 2 & 4), which is
common in older CR/CT archives, yet GDCM itself decodes it (bit-exact with
dcmtk's ``dcmdjpeg``). Without this, the only decoder would be the GPL-licensed
pylibjpeg-libjpeg. Used only for greyscale images, where no colour-space
conversion question arises.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medview.core.imports import load

_DTYPES = {"UINT8": np.uint8, "INT8": np.int8, "UINT16": np.uint16, "INT16": np.int16,
           "UINT32": np.uint32, "INT32": np.int32}


def _gdcm():
    gdcm = load("gdcm")
    # GDCM's C++ traces go straight to stderr; medview reports reasons itself.
    gdcm.Trace.WarningOff()
    gdcm.Trace.ErrorOff()
    gdcm.Trace.DebugOff()
    return gdcm


def decode_grey_frame(path: str | Path, index: int, rows: int, cols: int) -> np.ndarray:
    """Decode frame ``index`` of a greyscale file with GDCM.

    Raises
    ------
    ValueError
        When GDCM cannot read the file or its output has an unexpected layout.
    """
    gdcm = _gdcm()
    reader = gdcm.ImageReader()
    reader.SetFileName(str(path))
    if not reader.Read():
        raise ValueError("GDCM could not read the file")
    image = reader.GetImage()
    fmt = image.GetPixelFormat()
    if fmt.GetSamplesPerPixel() != 1:
        raise ValueError("GDCM fallback handles greyscale only")
    dtype = _DTYPES.get(fmt.GetScalarTypeAsString())
    if dtype is None:
        raise ValueError(f"unexpected GDCM pixel type {fmt.GetScalarTypeAsString()}")
    raw = image.GetBuffer()
    if raw is None:
        raise ValueError("GDCM returned no pixel data")
    # python-gdcm hands bytes back as a str; this is how pydicom's plugin recovers them
    data = np.frombuffer(raw.encode("utf-8", "surrogateescape"), dtype=dtype)
    frame_len = rows * cols
    if data.size < (index + 1) * frame_len:
        raise ValueError("GDCM returned fewer pixels than the header promises")
    return data[index * frame_len:(index + 1) * frame_len].reshape(rows, cols).copy()
