"""Header-time checks that a DICOM file's claims fit the bytes it really has.

A damaged or hostile header can claim 2,147,483,647 frames in a 39 KB file, a
65535 × 65535 frame in a few bytes of JPEG 2000, or a rescale slope of 1e308.
Everything here is checked from the header and the pixel data's item headers
(seeks, no pixel reads) before any buffer is allocated, so such a file is
listed with the skipped files and its reason instead of being decoded.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import UID

from medview.core.errors import ReadError

# A decoded frame larger than this is refused (a 16k × 16k RGB 16-bit frame is 1.5 GiB).
MAX_FRAME_BYTES = 1 << 30
# Rescale slope/intercept beyond this overflow any display arithmetic (|slope × 65535|).
MAX_RESCALE = 1e12
# Fragments walked when counting encapsulated frames; past this, trust the rest.
_MAX_ITEMS = 1_000_000
_UNDEFINED = 0xFFFFFFFF
# Bytes of the first fragment read to find the codec's image size (SOF / SIZ marker).
_STREAM_HEAD = 4096
# How each encapsulated syntax's first fragment starts (PS3.5 A.4 and the codec standards).
_STREAM_FAMILY = {
    **{f"1.2.840.10008.1.2.4.{n}": "JPEG" for n in (50, 51, 57, 70, 80, 81)},
    **{f"1.2.840.10008.1.2.4.{n}": "JPEG 2000" for n in (90, 91, 92, 93, 201, 202, 203)},
    "1.2.840.10008.1.2.5": "RLE",
}
_MAGIC = {"JPEG": (b"\xff\xd8",),
          "JPEG 2000": (b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0cjP  ")}
_BITS_ALLOCATED = (1, 8, 16, 32, 64)
_PALETTE_KEYS = ("RedPaletteColorLookupTableDescriptor", "GreenPaletteColorLookupTableDescriptor",
                 "BluePaletteColorLookupTableDescriptor")
_PALETTE_DATA = (("RedPaletteColorLookupTableData", "SegmentedRedPaletteColorLookupTableData"),
                 ("GreenPaletteColorLookupTableData", "SegmentedGreenPaletteColorLookupTableData"),
                 ("BluePaletteColorLookupTableData", "SegmentedBluePaletteColorLookupTableData"))


@dataclass(frozen=True)
class PixelElement:
    """Where a file's pixel data element lies, read while parsing the header.

    Attributes
    ----------
    length : int
        The element's declared value length (0xFFFFFFFF: undefined, encapsulated).
    value_offset : int or None
        File offset of its first value byte; None when unknown (deflated files).
    file_size : int
        Size of the file in bytes.
    little_endian : bool
        Byte order of the item headers.
    """

    length: int
    value_offset: int | None
    file_size: int
    little_endian: bool = True

    @property
    def available(self) -> int | None:
        """Bytes of the value really present in the file (None when unknown)."""
        if self.value_offset is None:
            return None
        return max(0, self.file_size - self.value_offset)


@dataclass(frozen=True)
class Geometry:
    rows: int
    columns: int
    frames: int
    samples: int
    bits_allocated: int

    @property
    def frame_bytes(self) -> int:
        return (self.rows * self.columns * self.samples * self.bits_allocated + 7) // 8

    @property
    def native_bytes(self) -> int:
        """Bytes the uncompressed pixel data needs (1-bit frames are packed across frames)."""
        bits = self.rows * self.columns * self.samples * self.bits_allocated * self.frames
        return (bits + 7) // 8


def check_pixel_bounds(path: str | Path, ds: Dataset, syntax: str | None) -> Geometry:
    """Check that ``ds``'s image attributes are sane and fit its pixel data.

    Parameters
    ----------
    path : str or Path
        The file, for the error message.
    ds : Dataset
        The header from :func:`medview.core.io.dicom.read_header`; its
        ``medview_pixel_element`` (a :class:`PixelElement`) locates the pixel data.
    syntax : str or None
        The Transfer Syntax UID (None: uncompressed, from a file without meta).

    Returns
    -------
    Geometry
        The checked rows, columns, frames, samples and bits.

    Raises
    ------
    ReadError
        With a one-line reason, e.g. "truncated pixel data: has 1,024 bytes, needs 32,768".
    """
    geo = image_geometry(path, ds)
    pixel = getattr(ds, "medview_pixel_element", None)
    if pixel is not None:
        if syntax is not None and UID(syntax).is_encapsulated:
            _check_encapsulated(path, ds, pixel, geo.frames, str(syntax))
        else:
            _check_native(path, pixel, geo, _photometric(ds))
    _check_functional_groups(path, ds, geo.frames)
    _check_rescale(path, ds)
    _check_palette(path, ds)
    return geo


def image_geometry(path: str | Path, ds: Dataset) -> Geometry:
    """Rows, Columns, NumberOfFrames, SamplesPerPixel and BitsAllocated, validated."""
    rows = _positive(path, ds, "Rows")
    cols = _positive(path, ds, "Columns")
    samples = _positive(path, ds, "SamplesPerPixel")
    bits = _positive(path, ds, "BitsAllocated")
    if samples not in (1, 3):
        raise ReadError(path, f"unsupported SamplesPerPixel {samples} (must be 1 or 3)")
    if bits not in _BITS_ALLOCATED:
        raise ReadError(path, f"unsupported BitsAllocated {bits}")
    stored = _optional_int(ds, "BitsStored")
    if stored is not None and not 1 <= stored <= bits:
        raise ReadError(path, f"invalid BitsStored {stored} for BitsAllocated {bits}")
    if samples == 3 and _optional_int(ds, "PlanarConfiguration") not in (None, 0, 1):
        raise ReadError(path, f"invalid PlanarConfiguration {ds.get('PlanarConfiguration')}")
    _check_photometric(path, ds, samples)
    geo = Geometry(rows, cols, frame_count(path, ds), samples, bits)
    if geo.frame_bytes > MAX_FRAME_BYTES:
        raise ReadError(path, f"image too large: {cols} × {rows} × {samples} samples at "
                              f"{bits} bits is {geo.frame_bytes / 2**30:.1f} GB per frame "
                              f"(limit {MAX_FRAME_BYTES / 2**30:.0f} GB)")
    return geo


def frame_count(path: str | Path, ds: Dataset) -> int:
    """NumberOfFrames (1 when absent or empty); a value that is not a positive integer is refused."""
    value = ds.get("NumberOfFrames")
    if value is None or value == "":
        return 1
    try:
        frames = int(value)
    except (TypeError, ValueError):
        raise ReadError(path, f"invalid NumberOfFrames {str(value)[:20]!r}") from None
    if frames < 1:
        raise ReadError(path, f"invalid NumberOfFrames {frames}")
    return frames


def _check_native(path, pixel: PixelElement, geo: Geometry, photometric: str) -> None:
    if pixel.length == _UNDEFINED:
        raise ReadError(path, "compressed (encapsulated) pixel data in an uncompressed transfer syntax")
    have = pixel.length if pixel.available is None else min(pixel.length, pixel.available)
    need = geo.native_bytes
    if photometric == "YBR_FULL_422":  # two samples per pixel once subsampled (PS3.3 C.7.6.3.1.2)
        need = need * 2 // 3
    if have < need:
        raise ReadError(path, f"truncated pixel data: has {have:,} bytes, needs {need:,} "
                              f"({geo.frames:,} frame(s) of {geo.columns} × {geo.rows})")


def _check_encapsulated(path, ds: Dataset, pixel: PixelElement, frames: int, syntax: str) -> None:
    if pixel.length != _UNDEFINED:
        raise ReadError(path, "compressed pixel data is not encapsulated (defined length)")
    if pixel.value_offset is None:
        return
    offsets, fragments, start = _walk_items(path, pixel)
    if fragments == 0:
        raise ReadError(path, "no compressed frames in the pixel data")
    _check_stream_start(path, syntax, start)
    _check_stream_size(path, ds, syntax, start)
    extended = ds.get("ExtendedOffsetTable")
    if isinstance(extended, (bytes, bytearray)) and extended and len(extended) // 8 != frames:
        raise ReadError(path, f"extended offset table lists {len(extended) // 8:,} frame(s), "
                              f"the header says {frames:,}")
    if offsets and len(offsets) != frames:
        raise ReadError(path, f"basic offset table lists {len(offsets):,} frame(s), "
                              f"the header says {frames:,}")
    if fragments < frames and not extended:
        raise ReadError(path, f"truncated pixel data: {fragments:,} compressed fragment(s) "
                              f"for {frames:,} frames")


def _walk_items(path, pixel: PixelElement) -> tuple[list[int], int]:
    """Basic offset table entries and the fragment count, checking each item lies in the file."""
    end = pixel.file_size
    fmt = "<HHI" if pixel.little_endian else ">HHI"
    offsets: list[int] = []
    fragments = 0
    start = b""
    with open(path, "rb") as fh:
        pos = pixel.value_offset
        for n in range(_MAX_ITEMS):
            fh.seek(pos)
            head = fh.read(8)
            if len(head) < 8:
                if n == 0:
                    raise ReadError(path, "truncated pixel data: no basic offset table item")
                break  # no sequence delimiter: tolerated, as pydicom does
            group, element, length = struct.unpack(fmt, head)
            tag = group << 16 | element
            if tag == 0xFFFEE0DD:
                break
            if tag != 0xFFFEE000 or length == _UNDEFINED:
                raise ReadError(path, f"damaged compressed pixel data (unexpected item at byte {pos:,})")
            if pos + 8 + length > end:
                raise ReadError(path, f"truncated pixel data: item {n} needs {pos + 8 + length:,} "
                                      f"bytes, the file has {end:,}")
            if n == 0:
                offsets = _basic_offsets(fh, length, pixel.little_endian)
            else:
                fragments += 1
                start = start or fh.read(min(length, _STREAM_HEAD))
            pos += 8 + length
    return offsets, fragments, start


def _check_stream_start(path, syntax: str, start: bytes) -> None:
    """The first fragment must begin as its codec's stream does (some decoders abort otherwise)."""
    family = _STREAM_FAMILY.get(syntax)
    if family is None:
        return
    if family == "RLE":
        segments = struct.unpack("<I", start[:4])[0] if len(start) >= 4 else 0
        ok = 1 <= segments <= 15  # PS3.5 G.5: at most 15 segments
    else:
        ok = any(start.startswith(magic) for magic in _MAGIC[family])
    if not ok:
        raise ReadError(path, f"damaged compressed pixel data (not a {family} stream)")


def _check_stream_size(path, ds: Dataset, syntax: str, start: bytes) -> None:
    """The codec's own image must hold the header's rows, columns, samples and bits.

    GDCM aborts the process when it does not. A larger image is left to the
    decoder: a real test file has junk in its SIZ marker yet decodes.
    """
    family = _STREAM_FAMILY.get(syntax)
    if family == "JPEG":
        _check_jpeg_frame_header(path, ds, start)
        size = _jpeg_frame_header(start)
        size = size[:2] if size is not None else None
    elif family == "JPEG 2000":
        size = _j2k_size(start)
    else:
        return
    if size is None:
        return
    cols, rows = size
    if rows < int(ds.Rows) or cols < int(ds.Columns):
        raise ReadError(path, f"compressed image is {cols} × {rows} but the header says "
                              f"{int(ds.Columns)} × {int(ds.Rows)}")


def _check_jpeg_frame_header(path, ds: Dataset, start: bytes) -> None:
    """JPEG/JPEG-LS: 8- or 16-bit containers, the stream's precision and components must fit."""
    bits = int(ds.BitsAllocated)
    if bits not in (8, 16):
        raise ReadError(path, f"BitsAllocated {bits} is impossible for JPEG pixel data (8 or 16)")
    header = _jpeg_frame_header(start)
    if header is None:
        return
    _, _, precision, components = header
    if precision > bits:
        raise ReadError(path, f"JPEG data has {precision}-bit samples but BitsAllocated is {bits}")
    if components != int(ds.SamplesPerPixel):
        raise ReadError(path, f"JPEG data has {components} component(s) but SamplesPerPixel is "
                              f"{int(ds.SamplesPerPixel)}")


def _jpeg_frame_header(data: bytes) -> tuple[int, int, int, int] | None:
    """(columns, rows, precision, components) from a JPEG or JPEG-LS frame header
    (ITU T.81 B.2.2, T.87 C.2.2); None when not found in ``data``."""
    pos = 2
    while pos + 10 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) or marker == 0xF7:
            precision = data[pos + 4]
            rows, cols = struct.unpack(">HH", data[pos + 5:pos + 9])
            components = data[pos + 9]
            if not rows:  # 0 rows: defined later by a DNL marker
                return None
            return cols, rows, precision, components
        pos += 2 + length
    return None


def _j2k_size(data: bytes) -> tuple[int, int] | None:
    """(columns, rows) from a JPEG 2000 codestream's SIZ marker (ITU T.800 A.5.1)."""
    if not data.startswith(b"\xff\x4f\xff\x51") or len(data) < 24:
        return None
    xsiz, ysiz, xo, yo = struct.unpack(">IIII", data[8:24])
    return (xsiz - xo, ysiz - yo) if xsiz > xo and ysiz > yo else None


def _basic_offsets(fh, length: int, little: bool) -> list[int]:
    count = length // 4
    data = fh.read(count * 4)
    return list(struct.unpack(("<" if little else ">") + "I" * count, data)) if count else []


def _check_functional_groups(path, ds: Dataset, frames: int) -> None:
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and 0 < len(per_frame) < frames:
        raise ReadError(path, f"per-frame functional groups cover {len(per_frame):,} of "
                              f"{frames:,} frames")


def _check_rescale(path, ds: Dataset) -> None:
    """Rescale slope and intercept must be finite and of a size display arithmetic can hold."""
    for item in _rescale_sources(ds):
        for keyword in ("RescaleSlope", "RescaleIntercept"):
            value = item.get(keyword)
            if value is None or value == "":
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue  # unparsable: the display pipeline falls back to 1 / 0
            if not math.isfinite(number) or abs(number) > MAX_RESCALE:
                name = "rescale slope" if keyword == "RescaleSlope" else "rescale intercept"
                raise ReadError(path, f"{name} {value} is out of range")


def _rescale_sources(ds: Dataset):
    yield ds
    for keyword in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        for group in ds.get(keyword) or ():
            yield from group.get("PixelValueTransformationSequence") or ()


def _check_palette(path, ds: Dataset) -> None:
    if _photometric(ds) != "PALETTE COLOR":
        return
    missing = [k for k in _PALETTE_KEYS if k not in ds]
    missing += [pair[0] for pair in _PALETTE_DATA if not any(k in ds for k in pair)]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise ReadError(path, f"palette colour image without its palette ({missing[0]}{more} missing)")


def _photometric(ds: Dataset) -> str:
    return str(ds.get("PhotometricInterpretation", "")).strip().upper()


def _check_photometric(path, ds: Dataset, samples: int) -> None:
    photometric = _photometric(ds)
    grey = photometric in ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR")
    colour = photometric in ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT",
                             "YBR_PARTIAL_420", "YBR_PARTIAL_422")
    if not (grey or colour):
        raise ReadError(path, f"unsupported PhotometricInterpretation {photometric[:20]!r}")
    if (samples == 1) != grey:
        raise ReadError(path, f"PhotometricInterpretation {photometric} does not match "
                              f"SamplesPerPixel {samples}")


def _positive(path, ds: Dataset, keyword: str) -> int:
    value = _optional_int(ds, keyword)
    if value is None or value < 1:
        raise ReadError(path, f"invalid {keyword} {str(ds.get(keyword))[:20]!r}")
    return value


def _optional_int(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return -1
