"""Orientation markers: which side of the patient lies toward each edge of the view. No Qt.

A frame's orientation is the patient direction of its rows (increasing column, image
``+x``) and of its columns (increasing row, image ``+y``): Image Orientation (Patient)
for cross-sectional images (PS3.3 C.7.6.2.1.1, patient coordinates LPS: ``+x`` toward the
patient's left, ``+y`` posterior, ``+z`` head), else Patient Orientation for projection
radiographs (PS3.3 C.7.6.1.1.1: two values such as ``L\\F``, the direction of the rows
then of the columns), or for a reformatted plane (MPR) the direction vectors of its
plane. The letter at each edge of the screen is the patient direction
that the screen direction toward that edge shows, through the view's flips and
rotation, so the markers turn and swap with the image.

Letters: R/L (right/left), A/P (anterior/posterior), H/F (head/feet). An oblique
direction gets the letters of each axis it leans along by more than :data:`OBLIQUE`,
the strongest first (e.g. ``LA``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medview.core.imports import load
from medview.view.camera import Affine

#: (negative, positive) letter of each patient axis (DICOM LPS)
AXIS_LETTERS = (("R", "L"), ("A", "P"), ("F", "H"))
LETTER_VECTORS = {"L": (1, 0, 0), "R": (-1, 0, 0), "P": (0, 1, 0), "A": (0, -1, 0),
                  "H": (0, 0, 1), "F": (0, 0, -1)}
#: a secondary axis contributes its letter above this share of the unit direction
#: (about 15° off the main axis)
OBLIQUE = 0.25
#: Projection radiography: laterality is shown in the corner text for these modalities.
RADIOGRAPHIC = frozenset({"CR", "DX", "MG", "RF", "XA", "IO", "PX", "RG"})
LATERALITY_NAMES = {"R": "right", "L": "left", "B": "both", "U": "unpaired"}


@dataclass(frozen=True)
class Orientation:
    """Patient directions (unit LPS vectors) of a frame's rows and columns."""

    row: np.ndarray
    col: np.ndarray
    source: str   # "ImageOrientationPatient", "PatientOrientation" or "plane"


@dataclass(frozen=True)
class Markers:
    """The letters at the middle of each edge of the view."""

    left: str
    right: str
    top: str
    bottom: str


def direction_letters(v) -> str:
    """``"L"``, ``"PF"``, ... for a direction in patient coordinates ("" for none)."""
    v = np.asarray(v, dtype=np.float64)
    norm = float(np.linalg.norm(v))
    if norm < 1e-9:
        return ""
    v = v / norm
    out = ""
    for i, axis in enumerate(np.argsort(-np.abs(v), kind="stable")):
        c = float(v[axis])
        if i and abs(c) <= OBLIQUE:
            break
        out += AXIS_LETTERS[axis][c > 0]
    return out


def letters_direction(text: str) -> np.ndarray | None:
    """A Patient Orientation value (``"L"``, ``"AF"``) as a direction: each letter's axis,
    each weighted less than the one before, so :func:`direction_letters` gives the
    letters back in their order; None if the value holds anything else."""
    letters = str(text).strip().upper()
    if not letters or any(c not in LETTER_VECTORS for c in letters):
        return None
    v = sum(np.asarray(LETTER_VECTORS[c], np.float64) * 0.6 ** i for i, c in enumerate(letters))
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 1e-9 else None


def frame_orientation(frame) -> Orientation | None:
    """The orientation of ``frame`` (a core Frame, or a plane of a volume that has no
    header: :class:`~medview.view.planes.PlaneFrame`), or None when it gives none."""
    header = getattr(frame, "header", None)
    if header is None:
        plane = getattr(frame, "plane", None)
        return None if plane is None else plane_orientation(plane)
    try:
        cosines = load("medview.core.geometry").image_orientation(header, frame.index)
    except Exception:  # noqa: BLE001 - a damaged functional group: try Patient Orientation
        cosines = None
    if cosines is not None:
        return Orientation(cosines[0], cosines[1], "ImageOrientationPatient")
    value = header.get("PatientOrientation")
    values = list(value) if value is not None and not isinstance(value, str) else []
    if len(values) != 2:
        return None
    row, col = letters_direction(values[0]), letters_direction(values[1])
    if row is None or col is None:
        return None
    return Orientation(row, col, "PatientOrientation")


def plane_orientation(plane) -> Orientation:
    """The orientation of an image plane (``row_cosine``, ``col_cosine``: unit LPS
    direction vectors, as :class:`~medview.core.geometry.ImagePlane` holds them)."""
    return Orientation(np.asarray(plane.row_cosine, np.float64),
                       np.asarray(plane.col_cosine, np.float64), "plane")


def markers(orientation: Orientation, view: Affine) -> Markers:
    """The letters at each edge of the screen for an image shown through ``view`` (the
    image → screen map; only its rotation and flips matter)."""
    inv = view.inverted()
    if inv is None:
        return Markers("", "", "", "")

    def toward(screen_dx: float, screen_dy: float) -> str:
        x, y = inv.map_vector((screen_dx, screen_dy))
        return direction_letters(x * orientation.row + y * orientation.col)

    return Markers(left=toward(-1, 0), right=toward(1, 0), top=toward(0, -1),
                   bottom=toward(0, 1))


def laterality(frame, modality: str) -> str:
    """``"Laterality R (right)"`` for a projection radiograph whose header says which
    side it shows (Image Laterality, else Laterality); "" otherwise."""
    if frame is None or (modality or "").upper() not in RADIOGRAPHIC:
        return ""
    value = str(frame.get("ImageLaterality") or frame.get("Laterality") or "").strip().upper()
    if value not in LATERALITY_NAMES:
        return ""
    return f"Laterality {value} ({LATERALITY_NAMES[value]})"
