"""Plain images: PNG, JPEG, TIFF, BMP; 8- and 16-bit; grey and RGB."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medview.core.errors import ReadError
from medview.core.imports import load

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})


@dataclass(frozen=True)
class ImageInfo:
    """What a plain image holds, read from its header only."""

    rows: int
    cols: int
    samples: int  # 1 grey, 3 RGB
    bits: int     # 8 or 16


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def probe_image(path: str | Path) -> ImageInfo:
    """Size and format of a plain image without decoding its pixels.

    Raises
    ------
    ReadError
        If the file is not a readable image.
    """
    Image = load("PIL.Image")
    UnidentifiedImageError = Image.UnidentifiedImageError
    path = Path(path)
    try:
        with Image.open(path) as im:
            cols, rows = im.size
            mode, im_format = im.mode, im.format
    except FileNotFoundError:
        raise ReadError(path, "file not found") from None
    except (UnidentifiedImageError, OSError, ValueError):
        # Pillow cannot open 16-bit RGB PNGs; OpenCV can, at the cost of a decode.
        arr = read_image(path)  # in a decoder process: a file Pillow refuses is suspect
        return ImageInfo(arr.shape[0], arr.shape[1], 1 if arr.ndim == 2 else 3,
                         arr.itemsize * 8)
    bits = 16 if mode in ("I;16", "I;16B", "I;16L", "I", "F") else _declared_bits(path, im_format)
    samples = 1 if mode in ("1", "L", "LA", "I;16", "I;16B", "I;16L", "I", "F") else 3
    return ImageInfo(rows, cols, samples, bits)


def _declared_bits(path: Path, im_format: str | None) -> int:
    """Bits per sample the file declares: Pillow reports 16-bit RGB as 8-bit "RGB"."""
    if im_format == "PNG":
        with open(path, "rb") as fh:
            ihdr = fh.read(26)
        return 16 if len(ihdr) == 26 and ihdr[24] == 16 else 8
    if im_format == "TIFF":
        with load("PIL.Image").open(path) as im:
            per_sample = im.tag_v2.get(258, (8,))
        per_sample = per_sample if isinstance(per_sample, tuple) else (per_sample,)
        return 16 if max(per_sample) > 8 else 8
    return 8


def read_image(path: str | Path) -> np.ndarray:
    """Decode a plain image to uint8/uint16, (rows, cols) grey or (rows, cols, 3) RGB.

    Alpha is dropped; palette images become RGB; greyscale stored as RGB stays
    RGB (what the file says). The codec runs in a decoder process
    (:mod:`medview.core.io.decode_pool`). Raises ReadError with the reason.
    """
    from medview.core.io import decode_pool

    decoder = Path(path).suffix.lstrip(".").upper() or "image"
    return decode_pool.decode("image", path, decoder=decoder)


def read_image_in_process(path: str | Path) -> np.ndarray:
    """:func:`read_image` with the codec in THIS process (the decoder worker runs this)."""
    path = Path(path)
    arr = _read_with_opencv(path, reason="not a readable image")
    if arr.ndim == 3:
        arr = arr[..., :3][..., ::-1]  # BGR(A) -> RGB
        if arr.shape[2] == 1:
            arr = arr[..., 0]
    if arr.dtype not in (np.uint8, np.uint16):
        arr = _to_uint16(arr)
    return np.ascontiguousarray(arr)


def _read_with_opencv(path: Path, reason: str) -> np.ndarray:
    cv2 = load("cv2")
    try:
        # imdecode from bytes: cv2.imread cannot open non-ASCII paths on Windows
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise ReadError(path, "file not found") from None
    except OSError as exc:
        raise ReadError(path, f"cannot read file ({exc.strerror or exc})") from None
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if arr is None:
        raise ReadError(path, reason)
    return arr


def _to_uint16(arr: np.ndarray) -> np.ndarray:
    """Float or 32-bit images (some TIFFs) scaled into uint16 for display."""
    arr = np.nan_to_num(arr.astype(np.float64))
    lo, hi = float(arr.min()), float(arr.max())
    scale = 65535.0 / (hi - lo) if hi > lo else 0.0
    return ((arr - lo) * scale).astype(np.uint16)
