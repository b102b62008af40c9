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
import pydicom.filereader
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import (UID, DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian,
                         ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGBaseline8Bit,
                         JPEGExtended12Bit, JPEGLossless, JPEGLosslessSV1)

from medview.core.errors import ReadError, is_fatal, one_line, plain_reason
from medview.core.imports import load
from medview.core.io.dicom_bounds import PixelElement, check_pixel_bounds
from medview.core.io.gdcm_direct import decode_grey_frame

# Image Pixel module attributes every displayable object must carry (PS3.3 C.7.6.3).
REQUIRED_PIXEL_TAGS = ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel",
                       "PhotometricInterpretation")



PIXEL_DATA_TAGS = frozenset({0x7FE00010, 0x7FE00009, 0x7FE00008})
# JPEG processes pydicom's plugins may refuse (12-bit) that GDCM's own reader decodes.
_GDCM_DIRECT_SYNTAXES = frozenset({JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLossless, JPEGLosslessSV1})


def read_header(path: str | Path) -> Dataset:
    """Read a DICOM file's header, stopping before the pixel data.

    The pixel data is not read, but whether the file has any is recorded in
    ``ds.medview_has_pixels`` so a folder scan can skip non-image objects
    (reports, plans, DICOMDIRs) without decoding anything.

    Raises
    ------
    ReadError
        If the file is missing, not DICOM, or truncated inside the header.
    """
    path = Path(path)
    try:
        ds, seen_pixels = _read_partial(path, force=False)
    except InvalidDicomError:
        # No preamble/meta (old ACR-NEMA style files): accept only if it parses
        # into something that looks like an image or a SOP instance.
        try:
            ds, seen_pixels = _read_partial(path, force=True)
        except Exception:
            raise ReadError(path, "not a DICOM file") from None
        if not (ds.get("SOPClassUID") or ds.get("Rows")):
            raise ReadError(path, "not a DICOM file") from None
    except FileNotFoundError:
        raise ReadError(path, "file not found") from None
    except IsADirectoryError:
        raise ReadError(path, "is a folder, not a file") from None
    except Exception as exc:  # pydicom raises many types on damaged headers
        raise ReadError(path, f"damaged DICOM header ({one_line(exc)})") from None
    if len(ds) == 0 and not seen_pixels:
        raise ReadError(path, "damaged DICOM header (no readable elements)")
    ds.medview_has_pixels = seen_pixels
    return ds


def _read_partial(path: Path, force: bool) -> tuple[Dataset, bool]:
    seen: list[tuple[int, str | None, int]] = []

    def stop_at_pixels(tag, vr, length) -> bool:
        if tag in PIXEL_DATA_TAGS:
            seen.append((tag, vr, length))
            return True
        return False

    with warnings.catch_warnings(), open(path, "rb") as fp:
        warnings.simplefilter("ignore")
        ds = pydicom.filereader.read_partial(fp, stop_when=stop_at_pixels, force=force)
        ds.filename = str(path)
        if seen:
            ds.medview_pixel_element = _pixel_element(ds, fp.tell(), path, *seen[0][1:])
    return ds, bool(seen)


def _pixel_element(ds: Dataset, start: int, path: Path, vr: str | None, length: int) -> PixelElement:
    """Where the pixel data value starts: read_partial leaves ``fp`` at its element header."""
    syntax = transfer_syntax(ds)
    size = path.stat().st_size
    if syntax == DeflatedExplicitVRLittleEndian:
        return PixelElement(length, None, size)  # ``fp`` is the compressed file, not the dataset
    header = 8 if vr is None or vr not in ("OB", "OW", "OF", "OD", "OL", "OV", "UN") else 12
    little = getattr(ds, "original_encoding", (None, True))[1] is not False
    return PixelElement(length, start + header, size, little)


def check_displayable(path: str | Path, ds: Dataset) -> None:
    """Raise ReadError if ``ds`` lacks what is needed to show its pixels."""
    if not getattr(ds, "medview_has_pixels", True):
        kind = _sop_name(ds)
        raise ReadError(path, "no pixel data in this file" + (f" ({kind})" if kind else ""))
    missing = [k for k in REQUIRED_PIXEL_TAGS if k not in ds or ds[k].value in (None, "")]
    if missing:
        raise ReadError(path, f"missing required tag(s) {', '.join(missing)}")
    syntax = transfer_syntax(ds)
    if syntax is not None and not syntax.is_transfer_syntax:
        raise ReadError(path, f"unknown transfer syntax {syntax}")
    if syntax is not None and syntax.is_compressed:
        if not _decoder_available(syntax):
            raise ReadError(path, f"unsupported transfer syntax {syntax.name} ({syntax})")
    check_pixel_bounds(path, ds, syntax)


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


def decode_frame(path: str | Path, index: int = 0, header: Dataset | None = None) -> np.ndarray:
    """Decode one frame's stored values.

    Returns the stored values with BitsStored masking and sign extension applied
    (PS3.5 8.1.1), shape (rows, cols) for one sample or (rows, cols, 3) RGB for
    colour (YBR_FULL/YBR_FULL_422 converted to RGB, planar configuration
    normalised). Palette colour stays as indices: the display pipeline applies it.
    Pass the file's ``header`` (from :func:`read_header`) when known, to save
    reading it again. Compressed pixel data is decoded in a decoder process
    (:mod:`medview.core.io.decode_pool`); native pixel data is read here.

    Raises
    ------
    ReadError
        With the reason (truncated pixel data, unsupported syntax, a decoder
        that crashed or ran out of time, ...).
    """
    if header is None:
        header = read_header(path)
    syntax = transfer_syntax(header)
    if syntax is not None and syntax.is_transfer_syntax and syntax.is_compressed:
        from medview.core.io import decode_pool

        return decode_pool.decode("dicom", path, index, decoder=decoder_name(syntax))
    return decode_frame_in_process(path, index, header)


def decoder_name(syntax: UID) -> str:
    """The codec family of a compressed transfer syntax, as a user reads it in an error."""
    return _DECODER_NAMES.get(str(syntax), syntax.name)


_DECODER_NAMES = {
    "1.2.840.10008.1.2.4.50": "JPEG baseline", "1.2.840.10008.1.2.4.51": "JPEG extended",
    "1.2.840.10008.1.2.4.57": "JPEG lossless", "1.2.840.10008.1.2.4.70": "JPEG lossless",
    "1.2.840.10008.1.2.4.80": "JPEG-LS", "1.2.840.10008.1.2.4.81": "JPEG-LS",
    "1.2.840.10008.1.2.4.90": "JPEG 2000", "1.2.840.10008.1.2.4.91": "JPEG 2000",
    "1.2.840.10008.1.2.4.201": "HTJ2K", "1.2.840.10008.1.2.4.202": "HTJ2K",
    "1.2.840.10008.1.2.4.203": "HTJ2K", "1.2.840.10008.1.2.5": "RLE",
}


def decode_frame_in_process(path: str | Path, index: int = 0,
                            header: Dataset | None = None) -> np.ndarray:
    """:func:`decode_frame` with the codecs in THIS process.

    For native pixel data, the decoder worker and benchmarks: the app decodes
    compressed data only through :func:`decode_frame`. ``header`` is needed only
    for files without a transfer syntax or deflated ones.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = _decode_with_pydicom(path, index, header)
    except FileNotFoundError:
        raise ReadError(path, "file not found") from None
    except ReadError:
        raise
    except BaseException as exc:  # noqa: BLE001 - Rust decoders panic with a BaseException
        if is_fatal(exc):
            raise
        if isinstance(exc, (MemoryError, RecursionError)) or not isinstance(exc, Exception):
            raise ReadError(path, plain_reason(exc)) from None
        arr = _try_gdcm_direct(path, index)
        if arr is None:
            raise ReadError(path, _pixel_reason(exc)) from None
    if not arr.dtype.isnative:  # big-endian files: callers expect native order
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def _decode_with_pydicom(path: Path, index: int, header: Dataset | None) -> np.ndarray:
    syntax = transfer_syntax(header) if header is not None else None
    if header is not None and (syntax is None or syntax == DeflatedExplicitVRLittleEndian):
        # pydicom reads frames straight from a path only for non-deflated files
        # with file meta; others are read whole, then decoded.
        ds = pydicom.dcmread(path, force=True)
        if syntax is None:
            ds.file_meta = getattr(ds, "file_meta", None) or FileMetaDataset()
            ds.file_meta.TransferSyntaxUID = _syntax_from_encoding(ds)
        return pydicom.pixels.pixel_array(ds, index=index)
    return pydicom.pixels.pixel_array(path, index=index)


def _syntax_from_encoding(ds: Dataset) -> UID:
    if not ds.is_little_endian:
        return ExplicitVRBigEndian
    return ImplicitVRLittleEndian if ds.is_implicit_VR else ExplicitVRLittleEndian


def _try_gdcm_direct(path: Path, index: int) -> np.ndarray | None:
    """GDCM's own reader for greyscale JPEG that pydicom's plugins refuse."""
    try:
        ds = read_header(path)
        syntax = transfer_syntax(ds)
        if syntax not in _GDCM_DIRECT_SYNTAXES or ds.get("SamplesPerPixel", 1) != 1:
            return None  # only the JPEG processes it exists for: GDCM aborts on some bad RLE
        arr = decode_grey_frame(path, index, int(ds.Rows), int(ds.Columns))
    except Exception:
        return None
    return _mask_bits(arr, ds)


def _mask_bits(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    """BitsStored masking and sign extension (PS3.5 8.1.1), as pydicom does."""
    bits = int(ds.get("BitsStored", arr.itemsize * 8))
    if bits >= arr.itemsize * 8:
        return arr
    if ds.get("PixelRepresentation", 0) == 1:
        shift = arr.itemsize * 8 - bits
        signed = arr.astype(np.dtype(f"i{arr.itemsize}"))
        return (signed << shift) >> shift
    return arr & np.array((1 << bits) - 1, dtype=arr.dtype)


def _decoder_available(syntax: UID) -> bool:
    get_decoder = load("pydicom.pixels.decoders.base").get_decoder
    try:
        return get_decoder(syntax).is_available
    except NotImplementedError:
        return False


def _sop_name(ds: Dataset) -> str:
    uid = ds.get("SOPClassUID") or getattr(getattr(ds, "file_meta", None),
                                           "MediaStorageSOPClassUID", None)
    if not uid:
        return ""
    name = UID(uid).name
    return name if name != str(uid) else f"SOP class {uid}"


def _pixel_reason(exc: Exception) -> str:
    msg = one_line(exc)
    low = msg.lower()
    if "no pixel data" in low or "pixel data" in low and "missing" in low or "no (7fe0" in low:
        return "no pixel data"
    if "unable to decompress" in low or "no pixel data decoders" in low or "not supported" in low:
        return f"unsupported or undecodable pixel data ({msg})"
    if any(s in low for s in ("cannot reshape", "shorter than", "expected length", "truncat", "end of")):
        return f"truncated pixel data ({msg})"
    return f"cannot decode pixel data ({msg})"
