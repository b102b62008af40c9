"""Colour display: palette colour lookup and RGB scaling to 8 bits.

Pure numpy; the grey pipeline lives in :mod:`medview.core.pixels`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut

_BIG_ENDIAN_SYNTAX = "1.2.840.10008.1.2.2"
_CHANNELS = ("Red", "Green", "Blue")


@dataclass(frozen=True, eq=False)
class Palette:
    """Palette Color Lookup Tables of a PALETTE COLOR image (PS3.3 C.7.6.3.1.5-6).

    Attributes
    ----------
    first_mapped : int
        Stored value mapped to the first entry; lower values take the first
        entry and values past the end take the last one.
    bits : int
        Bits per entry (8 or 16).
    table : numpy.ndarray
        (entries, 3) uint16 array of R, G, B entries, segmented tables expanded.
    """

    first_mapped: int
    bits: int
    table: np.ndarray

    def rgb8_table(self) -> np.ndarray:
        """The table scaled to 8 bits per channel, shape (entries, 3), uint8."""
        if self.bits > 8:
            # 16-bit entries hold 8-bit values as v*256 or v*257; a shift recovers both
            return (self.table >> (self.bits - 8)).astype(np.uint8)
        return self.table.astype(np.uint8)


def dataset_is_little_endian(ds: Dataset) -> bool:
    """Byte order the dataset was read with (for OW lookup-table data)."""
    encoding = getattr(ds, "original_encoding", (None, None))
    if encoding and encoding[1] is not None:
        return bool(encoding[1])
    meta = getattr(ds, "file_meta", None)
    syntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    return syntax != _BIG_ENDIAN_SYNTAX


def read_palette(ds: Dataset) -> Palette | None:
    """Read the palette of a PALETTE COLOR dataset.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        Header with the Palette Color Lookup Table attributes (PS3.3 C.7.6.3.1.5-6,
        segmented form C.7.9.2).

    Returns
    -------
    Palette or None
        None when the descriptors or data are missing or inconsistent.
    """
    desc = ds.get("RedPaletteColorLookupTableDescriptor")
    if desc is None or len(desc) < 3:
        return None
    entries = int(desc[0]) or 65536  # 0 means 2**16 entries
    first = int(desc[1])
    if first >= 32768 and int(ds.get("PixelRepresentation", 0) or 0) == 1:
        first -= 65536  # descriptor read as US but the stored values are signed
    bits = int(desc[2])
    if "RedPaletteColorLookupTableData" in ds:
        table = _plain_tables(ds, entries)
    elif "SegmentedRedPaletteColorLookupTableData" in ds:
        table = _segmented_tables(ds, entries, first)
    else:
        return None
    if table is None:
        return None
    if bits not in (8, 16) or (bits == 16 and int(table.max()) <= 255):
        # Some writers declare 16 bits but store 8-bit values (as dcmtk, trust the data)
        bits = 16 if int(table.max()) > 255 else 8
    table.setflags(write=False)
    return Palette(first, bits, table)


def _plain_tables(ds: Dataset, entries: int) -> np.ndarray | None:
    order = "<" if dataset_is_little_endian(ds) else ">"
    columns = []
    for name in _CHANNELS:
        raw = ds.get(f"{name}PaletteColorLookupTableData")
        if raw is None:
            return None
        raw = bytes(raw)
        if len(raw) == entries:  # 8-bit entries packed one per byte
            columns.append(np.frombuffer(raw, np.uint8).astype(np.uint16))
        elif len(raw) >= 2 * entries:
            # pydicom's apply_color_lut ignores byte order here, so read the words ourselves
            columns.append(np.frombuffer(raw[: 2 * entries], f"{order}u2").astype(np.uint16))
        else:
            return None
    return np.stack(columns, axis=1)


def _segmented_tables(ds: Dataset, entries: int, first: int) -> np.ndarray | None:
    # pydicom expands segmented tables (PS3.3 C.7.9.2) correctly for both byte orders;
    # look up every index once to get the expanded table.
    try:
        table = apply_color_lut(np.arange(first, first + entries), _palette_only(ds))
    except (ValueError, AttributeError, KeyError, TypeError):
        return None
    return np.ascontiguousarray(table[:, :3], dtype=np.uint16)


def _palette_only(ds: Dataset) -> Dataset:
    # apply_color_lut refuses datasets with Pixel Presentation COLOR/MIXED: pass just the LUTs
    small = Dataset()
    for elem in ds:
        if 0x00281100 <= elem.tag <= 0x00281224:
            small.add(elem)
    small.set_original_encoding(False, dataset_is_little_endian(ds))
    return small


def apply_palette(indices: np.ndarray, palette: Palette) -> np.ndarray:
    """Map stored palette indices to 8-bit RGB.

    Parameters
    ----------
    indices : numpy.ndarray
        Integer stored values, shape (rows, cols).
    palette : Palette
        The image's palette.

    Returns
    -------
    numpy.ndarray
        (rows, cols, 3) uint8; indices below the first mapped value take the
        first entry, past the end the last entry (PS3.3 C.7.6.3.1.5).
    """
    rgb = palette.rgb8_table()
    idx = np.clip(indices.astype(np.int64) - palette.first_mapped, 0, len(rgb) - 1)
    return np.take(rgb, idx, axis=0)


def rgb_to_8bit(stored: np.ndarray, bits_stored: int) -> np.ndarray:
    """Scale RGB stored values to 8 bits per channel.

    Parameters
    ----------
    stored : numpy.ndarray
        (rows, cols, 3) unsigned stored values (YBR already converted to RGB).
    bits_stored : int
        Bits Stored (0028,0101).

    Returns
    -------
    numpy.ndarray
        (rows, cols, 3) uint8, C-contiguous. More than 8 bits are shifted down,
        which keeps 8-bit data written as v*256 or v*257 exact.
    """
    if stored.dtype.kind == "f":
        top = float(np.nanmax(stored)) if stored.size else 1.0
        scale = 255.0 / top if top > 1.0 else 255.0
        return np.clip(np.rint(np.nan_to_num(stored) * scale), 0, 255).astype(np.uint8)
    if bits_stored > 8:
        return (stored >> (bits_stored - 8)).astype(np.uint8)
    if bits_stored < 8:
        return (stored.astype(np.uint16) * 255 // ((1 << bits_stored) - 1)).astype(np.uint8)
    return np.ascontiguousarray(stored, dtype=np.uint8)
