"""Decode the pixels of one sample: an image as modality values, a mask as class numbers.

Used both while discovering a data set (masks are read to learn their classes) and while
training (each batch loads its images here). Decoding is medview's core readers'; nothing
is re-implemented, so an image trains exactly as the viewer shows it is stored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medview.core.errors import ReadError
from medview.core.io.folder import load_paths
from medview.core.study import Frame

__all__ = ["MASK_SUFFIXES", "load_image", "load_mask", "mask_labels"]

#: File types a mask may have; lossy formats (JPEG) would corrupt class numbers.
MASK_SUFFIXES = (".png", ".dcm")


def load_image(path: str | Path, frame: int = 0) -> np.ndarray:
    """Decode one image to modality values (e.g. HU for CT; raw values for PNG/JPEG).

    Parameters
    ----------
    path : str or Path
        DICOM or plain image file.
    frame : int
        Frame of a multi-frame DICOM file, 0-based.

    Returns
    -------
    numpy.ndarray
        float64, ``(rows, cols)`` or ``(rows, cols, 3)`` for colour.

    Raises
    ------
    ReadError
        If the file cannot be read or decoded, or has no such frame.
    """
    return _frame(path, frame).modality_values()


def load_mask(path: str | Path) -> np.ndarray:
    """Decode a mask file to a label map (see :func:`mask_labels`).

    Parameters
    ----------
    path : str or Path
        PNG or DICOM mask.

    Returns
    -------
    numpy.ndarray
        uint8 ``(rows, cols)`` class numbers.

    Raises
    ------
    ReadError
        If the file is unreadable or its values are not a valid mask.
    """
    path = Path(path)
    if path.suffix.lower() not in MASK_SUFFIXES:
        raise ReadError(path, f"masks must be {' or '.join(MASK_SUFFIXES)} (lossy formats alter class numbers)")
    stored = np.asarray(_frame(path, 0).stored())
    if stored.ndim == 3:
        if not np.all(stored == stored[..., :1]):
            raise ReadError(path, "mask is colour; expected one channel of class numbers")
        stored = stored[..., 0]
    try:
        return mask_labels(stored)
    except ValueError as exc:
        raise ReadError(path, str(exc)) from None


def mask_labels(values: np.ndarray) -> np.ndarray:
    """Class numbers from stored mask values.

    Parameters
    ----------
    values : numpy.ndarray
        2-D non-negative integers.

    Returns
    -------
    numpy.ndarray
        uint8 label map: a mask holding only 0 and 255 (a binary mask drawn to be
        visible) becomes 0/1; otherwise values are class numbers as they are.

    Raises
    ------
    ValueError
        If values are negative, not integers, or 255 (or more) appears together with
        values other than 0.
    """
    a = np.asarray(values)
    if not np.issubdtype(a.dtype, np.integer) or (a.size and a.min() < 0):
        raise ValueError("mask values must be non-negative integers")
    present = np.unique(a)
    if set(present.tolist()) <= {0, 255}:
        return (a == 255).astype(np.uint8)
    if present[-1] >= 255:
        raise ValueError(f"mask value {int(present[-1])} is not a class number; use 0/255 for a binary "
                         "mask or 0, 1, 2, … for classes")
    return a.astype(np.uint8)


def _frame(path: str | Path, index: int) -> Frame:
    path = Path(path)
    library = load_paths([path])
    if library.skipped:
        raise ReadError(*library.skipped[0])
    frames = [f for f in library.frames() if f.index == index]
    if not frames:
        raise ReadError(path, f"no frame {index + 1} in this file")
    return frames[0]
