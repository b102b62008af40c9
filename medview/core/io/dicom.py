"""Read DICOM files: header first, pixels one frame at a time on demand.

Decoding goes through pydicom's pixel plugins (python-gdcm, pylibjpeg-openjpeg,
pylibjpeg-rle, Pillow and pydicom's native decoders), so JPEG baseline/extended/
lossless, JPEG-LS, JPEG 2000 (incl. HTJ2K), RLE and deflated files all decode
without any GPL package.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from medview.core.errors import ReadError

# Image Pixel module attributes every displayable object must carry (PS3.3 C.7.6.3).
REQUIRED_PIXEL_TAGS = ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel",
                       "PhotometricInterpretation")

# Transfer syntaxes pydicom can't decode with the codecs we ship, and why.
_DEFLATED = "1.2.840.10008.1.2.1.99"


def read_header(path: str | Path) -> Dataset:
    """Read a DICOM file's header, stopping before the pixel data.

    Raises
    ------
    ReadError
        If the file is missing, not DICOM, or truncated inside the header.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True)
    except FileNotFoundError:
        raise ReadError(path, "file not found") from None
    except IsADirectoryError:
        raise ReadError(path, "is a folder, not a file") from None
    except InvalidDicomError:
        raise ReadError(path, "not a DICOM file") from None
    except Exception as exc:  # pydicom raises many types on damaged headers
        raise ReadError(path, f"damaged DICOM header ({_short(exc)})") from None
    if not _looks_like_dicom(ds):
        raise ReadError(path, "not a DICOM file")
    return ds


def has_pixels(path: str | Path) -> bool:
    """Whether the file carries (Float/Double) Pixel Data, judged from its tags."""
    try:
        ds = pydicom.dcmread(path, specific_tags=["PixelData", "FloatPixelData",
                                                  "DoubleFloatPixelData"], defer_size=64)
    except Exception:
        return False
    return any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"))


def check_displayable(path: str | Path, ds: Dataset) -> None:
    """Raise ReadError if ``ds`` lacks what is needed to show its pixels."""
    missing = [k for k in REQUIRED_PIXEL_TAGS if k not in ds or ds[k].value in (None, "")]
    if missing:
        raise ReadError(path, f"missing required tag(s) {', '.join(missing)}")
    syntax = transfer_syntax(ds)
    if syntax is not None and syntax.is_compressed:
        if not _decoder_available(syntax):
            raise ReadError(path, f"unsupported transfer syntax {syntax.name} ({syntax})")


def transfer_syntax(ds: Dataset) -> UID | None:
    """The file's Transfer Syntax UID, or None when the file meta lacks it."""
    meta = getattr(ds, "file_meta", None)
    uid = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    return UID(uid) if uid else None


def number_of_frames(ds: Dataset) -> int:
    """NumberOfFrames as an int (1 when absent, empty or invalid)."""
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def decode_frame(path: str | Path, index: int = 0) -> np.ndarray:
    """Decode one frame's stored values.

    Returns the stored values with BitsStored masking and sign extension applied
    (PS3.5 8.1.1), shape (rows, cols) for one sample or (rows, cols, 3) RGB for
    colour (YBR_FULL/YBR_FULL_422 converted to RGB, planar configuration
    normalised). Palette colour stays as indices: the display pipeline applies it.

    Raises
    ------
    ReadError
        With the reason (truncated pixel data, unsupported syntax, ...).
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                arr = pydicom.pixels.pixel_array(path, index=index)
            except NotImplementedError:
                # e.g. deflated syntaxes cannot be read frame-wise from a path
                ds = pydicom.dcmread(path)
                arr = pydicom.pixels.pixel_array(ds, index=index)
    except ReadError:
        raise
    except FileNotFoundError:
        raise ReadError(path, "file not found") from None
    except Exception as exc:
        raise ReadError(path, _pixel_reason(exc)) from None
    return arr


def _decoder_available(syntax: UID) -> bool:
    from pydicom.pixels.decoders.base import get_decoder

    try:
        return get_decoder(syntax).is_available
    except NotImplementedError:
        return False


def _looks_like_dicom(ds: Dataset) -> bool:
    # dcmread(force=False) accepts some headerless files; require a SOP or pixel module
    return bool(ds.get("SOPClassUID") or ds.get("Rows") or getattr(ds, "file_meta", None))


def _pixel_reason(exc: Exception) -> str:
    msg = _short(exc)
    low = msg.lower()
    if "no pixel data" in low or "pixel data" in low and "missing" in low or "no (7fe0" in low:
        return "no pixel data"
    if "unable to decompress" in low or "no pixel data decoders" in low or "not supported" in low:
        return f"unsupported or undecodable pixel data ({msg})"
    if "shorter than" in low or "expected length" in low or "truncat" in low or "end of" in low:
        return f"truncated pixel data ({msg})"
    return f"cannot decode pixel data ({msg})"


def _short(exc: Exception, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
