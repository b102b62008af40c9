"""Pixel spacing, patient-space geometry and measurements.

Everything here is pure: pydicom Datasets and numpy arrays in, plain values out.
Points are ``(row, col)`` in image pixel coordinates, with pixel centres at
integer positions (the convention of the PS3.3 C.7.6.2.1.1 equation, where Image
Position (Patient) is the centre of the first transmitted pixel).

Which spacing a measurement used matters clinically: Pixel Spacing is in the
patient, Imager Pixel Spacing is at the detector and overstates projection
radiograph sizes by the geometric magnification. Every measurement therefore
carries the name of its source so the viewer can label it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np
from pydicom.dataset import Dataset

PIXEL_SPACING = "PixelSpacing"
IMAGER_PIXEL_SPACING = "ImagerPixelSpacing"
MAGNIFICATION_CORRECTED = "ImagerPixelSpacing ÷ magnification"
NOMINAL_SCANNED_PIXEL_SPACING = "NominalScannedPixelSpacing"
#: A spacing the reader set by drawing a line of known length (:func:`user_spacing`).
USER_CALIBRATION = "user calibration"
UNCALIBRATED = "uncalibrated"

# Direction cosines this far from orthogonal are treated as corrupt, not as
# scanner rounding (which is ~1e-5).
_ORTHOGONALITY_TOLERANCE = 1e-2

Point = Sequence[float]


@dataclass(frozen=True)
class Spacing:
    """Physical size of one pixel step and where it came from.

    Attributes
    ----------
    row_mm : float or None
        Distance between the centres of adjacent rows (vertical spacing,
        first value of Pixel Spacing, PS3.3 10.7.1.3); None when uncalibrated.
    col_mm : float or None
        Distance between the centres of adjacent columns (horizontal spacing).
    source : str
        ``"PixelSpacing"``, ``"ImagerPixelSpacing"``,
        ``"ImagerPixelSpacing ÷ magnification"``, ``"NominalScannedPixelSpacing"``,
        ``"user calibration"`` or ``"uncalibrated"``.
    """

    row_mm: float | None
    col_mm: float | None
    source: str

    @property
    def calibrated(self) -> bool:
        """Whether both spacings are known, so measurements can be in mm."""
        return self.row_mm is not None and self.col_mm is not None

    @property
    def label(self) -> str:
        """Short text for overlays naming the spacing and its source."""
        if not self.calibrated:
            return "uncalibrated (px)"
        size = _format_pair(self.row_mm, self.col_mm)
        if self.source == IMAGER_PIXEL_SPACING:
            return f"Imager (detector) {size}"
        if self.source == MAGNIFICATION_CORRECTED:
            return f"Imager (detector) {size}, mag-corrected"
        if self.source == NOMINAL_SCANNED_PIXEL_SPACING:
            return f"Scanned film {size}"
        if self.source == USER_CALIBRATION:
            return f"Calibrated by user {size}"
        return f"{self.source} {size}"


@dataclass(frozen=True, eq=False)
class ImagePlane:
    """Position and orientation of one frame in the patient (PS3.3 C.7.6.2).

    Attributes
    ----------
    origin : numpy.ndarray
        Image Position (Patient): centre of the first pixel, in mm, shape (3,).
    row_cosine : numpy.ndarray
        Unit vector along a row, i.e. the direction of increasing column index
        (first three values of Image Orientation (Patient)).
    col_cosine : numpy.ndarray
        Unit vector along a column, i.e. the direction of increasing row index
        (last three values of Image Orientation (Patient)).
    spacing : Spacing
        The (calibrated) pixel spacing of this frame.
    """

    origin: np.ndarray
    row_cosine: np.ndarray
    col_cosine: np.ndarray
    spacing: Spacing

    @property
    def normal(self) -> np.ndarray:
        """Unit slice normal, ``row_cosine × col_cosine``."""
        n = np.cross(self.row_cosine, self.col_cosine)
        return n / np.linalg.norm(n)


@dataclass(frozen=True)
class Measurement:
    """A measured value with its unit and the spacing source it relied on.

    Attributes
    ----------
    value : float
    unit : str
        ``"mm"``, ``"px"``, ``"mm²"``, ``"px²"`` or ``"°"``.
    source : str
        The :attr:`Spacing.source` the value was computed with.
    """

    value: float
    unit: str
    source: str

    def __str__(self) -> str:
        sep = "" if self.unit == "°" else " "
        return f"{self.value:.1f}{sep}{self.unit} ({self.source})"


@dataclass(frozen=True)
class RoiStats:
    """Statistics of modality values inside a region of interest.

    Attributes
    ----------
    mean, sd, min, max : float
        Over the pixels in the mask; ``sd`` is the sample standard deviation
        (n - 1 denominator, as ImageJ and most workstations report; 0 for a
        single pixel).
    area : Measurement
        Pixel count times the area of one pixel (mm² when calibrated, else px²).
    n_pixels : int
    units : str
        Units of the values, e.g. ``"HU"``; empty when unknown.
    """

    mean: float
    sd: float
    min: float
    max: float
    area: Measurement
    n_pixels: int
    units: str

    def __str__(self) -> str:
        u = f" {self.units}" if self.units else ""
        return (f"mean {self.mean:.1f}{u}, SD {self.sd:.1f}, min {self.min:.1f}, "
                f"max {self.max:.1f}, area {self.area}, n={self.n_pixels}")


# --------------------------------------------------------------------------- spacing


def pixel_spacing(ds: Dataset, frame: int = 0) -> Spacing:
    """Find the spacing to measure with, in order of trust.

    1. Pixel Spacing from the frame's Pixel Measures functional group
       (per-frame, then shared; PS3.3 C.7.6.16.2.1), then top-level Pixel
       Spacing (PS3.3 10.7.1.1). When it merely repeats Imager Pixel Spacing
       without a Pixel Spacing Calibration Type, it is the detector spacing,
       not a calibrated one (PS3.3 10.7.1.1), and step 2 labels it so.
    2. Imager Pixel Spacing (front plane of the detector; CR, DX and XA
       modules of PS3.3 C.8), divided by Estimated Radiographic Magnification
       Factor (SID/SOD, e.g. PS3.3 C.8.7.6) when that is present, which moves
       it to the patient plane.
    3. Nominal Scanned Pixel Spacing of digitised film (Secondary Capture,
       PS3.3 10.7.1.1).
    4. Otherwise uncalibrated. Missing, malformed, zero or negative values
       count as absent (PS3.3 10.7.1.3 requires positive values).

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        A header (pixels need not be loaded).
    frame : int
        Zero-based frame index, used for per-frame functional groups.

    Returns
    -------
    Spacing

    Raises
    ------
    IndexError
        If ``frame`` is outside the Per-frame Functional Groups Sequence.
    """
    group = _functional_item(ds, frame, "PixelMeasuresSequence")
    if group is not None and (pair := _positive_pair(group.get("PixelSpacing"))):
        return Spacing(*pair, PIXEL_SPACING)
    top = _positive_pair(ds.get("PixelSpacing"))
    imager = _positive_pair(ds.get("ImagerPixelSpacing"))
    if top and not _repeats_detector_spacing(ds, top, imager):
        return Spacing(*top, PIXEL_SPACING)
    if imager:
        return _imager_spacing(ds, imager)
    if scanned := _positive_pair(ds.get("NominalScannedPixelSpacing")):
        return Spacing(*scanned, NOMINAL_SCANNED_PIXEL_SPACING)
    return Spacing(None, None, UNCALIBRATED)


def _repeats_detector_spacing(ds: Dataset, top: tuple[float, float],
                              imager: tuple[float, float] | None) -> bool:
    if imager is None or ds.get("PixelSpacingCalibrationType"):
        return False
    return all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(top, imager))


def _imager_spacing(ds: Dataset, imager: tuple[float, float]) -> Spacing:
    factor = _positive_float(ds.get("EstimatedRadiographicMagnificationFactor"))
    if factor is None:
        return Spacing(*imager, IMAGER_PIXEL_SPACING)
    return Spacing(imager[0] / factor, imager[1] / factor, MAGNIFICATION_CORRECTED)


# --------------------------------------------------------------------------- plane


def image_plane(ds: Dataset, frame: int = 0) -> ImagePlane | None:
    """The frame's plane in patient coordinates, or None when it has none.

    Reads Image Position/Orientation (Patient) from the Plane Position and
    Plane Orientation functional groups of enhanced multi-frame objects
    (per-frame, then shared; PS3.3 C.7.6.16.2.3 and C.7.6.16.2.4), else from
    the top level (Image Plane Module, PS3.3 C.7.6.2).

    Returns
    -------
    ImagePlane or None
        None when position or orientation is missing or malformed, the
        direction cosines are not orthogonal, or the spacing is uncalibrated
        (a plane without millimetres cannot map pixels to the patient).

    Raises
    ------
    IndexError
        If ``frame`` is outside the Per-frame Functional Groups Sequence.
    """
    spacing = pixel_spacing(ds, frame)
    position = _frame_value(ds, frame, "PlanePositionSequence", "ImagePositionPatient")
    origin = _float_vector(position, 3)
    cosines = image_orientation(ds, frame)
    if origin is None or cosines is None or not spacing.calibrated:
        return None
    return ImagePlane(_frozen(origin), cosines[0], cosines[1], spacing)


def image_orientation(ds: Dataset, frame: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
    """The frame's row and column direction cosines (Image Orientation (Patient), PS3.3
    C.7.6.2.1.1), from the Plane Orientation functional group of enhanced multi-frame
    objects (per-frame, then shared) or the top level.

    Returns
    -------
    tuple of numpy.ndarray or None
        Unit vectors (row direction, column direction), or None when the attribute is
        missing or malformed or the two are not orthogonal.

    Raises
    ------
    IndexError
        If ``frame`` is outside the Per-frame Functional Groups Sequence.
    """
    orientation = _frame_value(ds, frame, "PlaneOrientationSequence", "ImageOrientationPatient")
    cosines = _float_vector(orientation, 6)
    if cosines is None:
        return None
    row, col = _unit(cosines[:3]), _unit(cosines[3:])
    if row is None or col is None or abs(float(row @ col)) > _ORTHOGONALITY_TOLERANCE:
        return None
    return _frozen(row), _frozen(col)


def pixel_to_patient(plane: ImagePlane, row: float, col: float) -> np.ndarray:
    """Map a pixel position to patient coordinates in mm (PS3.3 C.7.6.2.1.1).

    ``P = S + X·Δi·i + Y·Δj·j`` where S is Image Position (Patient), X the row
    direction cosine, Y the column direction cosine, i the column index with
    column spacing Δi and j the row index with row spacing Δj.

    Parameters
    ----------
    plane : ImagePlane
    row, col : float
        Pixel position; fractions are allowed (pixel centres are integers).

    Returns
    -------
    numpy.ndarray
        Shape (3,), patient x, y, z in mm.
    """
    sp = plane.spacing
    return (plane.origin + plane.row_cosine * (sp.col_mm * col)
            + plane.col_cosine * (sp.row_mm * row))


def slice_location(plane: ImagePlane) -> float:
    """Position of the plane along its normal, ``IPP · normal``, in mm.

    Sorting a series by this value orders slices along the slice normal even
    for oblique stacks, where Slice Location (0020,1041) and the z of Image
    Position (Patient) are unreliable.
    """
    return float(plane.origin @ plane.normal)


# --------------------------------------------------------------------------- measurements


def distance(spacing: Spacing, p0: Point, p1: Point) -> Measurement:
    """Length between two ``(row, col)`` points.

    Row and column offsets are scaled by their own spacing first, so
    anisotropic pixels measure correctly; uncalibrated images measure in px.
    """
    v = _physical_vector(spacing, p0, p1)
    return Measurement(float(np.hypot(*v)), _unit_of(spacing), spacing.source)


def angle(spacing: Spacing, a: Point, vertex: Point, b: Point) -> Measurement:
    """Angle at ``vertex`` between the arms to ``a`` and ``b``, in degrees [0, 180].

    Computed in physical space when calibrated (on anisotropic pixels the
    on-screen pixel angle is wrong); uncalibrated images assume square pixels.

    Raises
    ------
    ValueError
        If an arm has zero length.
    """
    u = _physical_vector(spacing, vertex, a)
    v = _physical_vector(spacing, vertex, b)
    if not np.any(u) or not np.any(v):
        raise ValueError("an angle arm has zero length")
    cross = u[0] * v[1] - u[1] * v[0]
    degrees = math.degrees(math.atan2(abs(cross), float(u @ v)))
    return Measurement(degrees, "°", spacing.source)


def user_spacing(native: Spacing, p0: Point, p1: Point, known_mm: float) -> Spacing:
    """The spacing that makes the line ``p0``–``p1`` measure ``known_mm``.

    A reader calibrates a radiograph on an object of known size (a calibration ball,
    a ruler) when the header's spacing is at the detector or absent. A calibrated
    ``native`` spacing is scaled by known ÷ measured, which keeps its pixel aspect
    ratio; uncalibrated pixels are taken as square.

    Raises
    ------
    ValueError
        If ``known_mm`` is not a positive number or the line has zero length.
    """
    known = _positive_float(known_mm)
    if known is None:
        raise ValueError(f"the known length must be a positive number of mm, not {known_mm!r}")
    measured = distance(native, p0, p1).value
    if measured <= 0:
        raise ValueError("the calibration line has zero length")
    factor = known / measured
    if native.calibrated:
        return Spacing(native.row_mm * factor, native.col_mm * factor, USER_CALIBRATION)
    return Spacing(factor, factor, USER_CALIBRATION)


def roi_stats(values: np.ndarray, mask: np.ndarray, spacing: Spacing,
              units: str = "") -> RoiStats:
    """Mean, SD, min, max and area of ``values`` where ``mask`` is True.

    Parameters
    ----------
    values : numpy.ndarray
        Modality values (e.g. HU after the modality LUT), shape (rows, cols).
    mask : numpy.ndarray
        Boolean mask of the same shape, e.g. from :func:`rect_mask`.
    spacing : Spacing
    units : str
        Units of ``values`` to carry into the result.

    Raises
    ------
    ValueError
        If the shapes differ or the mask selects no pixel.
    """
    values, mask = np.asarray(values), np.asarray(mask, dtype=bool)
    if values.shape != mask.shape:
        raise ValueError(f"values {values.shape} and mask {mask.shape} differ in shape")
    inside = values[mask].astype(np.float64)
    if inside.size == 0:
        raise ValueError("the region of interest contains no pixels")
    sd = float(inside.std(ddof=1)) if inside.size > 1 else 0.0
    return RoiStats(float(inside.mean()), sd, float(inside.min()), float(inside.max()),
                    _area(spacing, inside.size), int(inside.size), units)


def rect_mask(shape: tuple[int, int], p0: Point, p1: Point) -> np.ndarray:
    """Pixels whose centres lie in the rectangle with corners ``p0``, ``p1``.

    Corners are ``(row, col)``, in any order, and may lie outside the image
    (the mask is clipped). Edges are inclusive, so a rectangle from (0, 0) to
    (9, 9) selects 10 × 10 pixels.
    """
    rows, cols = _centre_grid(shape)
    (r0, r1), (c0, c1) = sorted((p0[0], p1[0])), sorted((p0[1], p1[1]))
    return (rows >= r0) & (rows <= r1) & (cols >= c0) & (cols <= c1)


def ellipse_mask(shape: tuple[int, int], p0: Point, p1: Point) -> np.ndarray:
    """Pixels whose centres lie in the ellipse inscribed in the box ``p0``–``p1``.

    Semi-axes are half the box's height and width, so the pixel count tends
    to ``π·a·b``. A box of zero height or width selects nothing.
    """
    a, b = abs(p1[0] - p0[0]) / 2, abs(p1[1] - p0[1]) / 2
    if a == 0 or b == 0:
        return np.zeros(shape, dtype=bool)
    rows, cols = _centre_grid(shape)
    rc, cc = (p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2
    return ((rows - rc) / a) ** 2 + ((cols - cc) / b) ** 2 <= 1.0


# --------------------------------------------------------------------------- helpers


def _functional_item(ds: Dataset, frame: int, keyword: str) -> Dataset | None:
    """The first item of a functional group macro for ``frame``, per-frame first."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame:
        if not 0 <= frame < len(per_frame):
            raise IndexError(f"frame {frame} out of range ({len(per_frame)} frames)")
        item = _first_item(per_frame[frame], keyword)
        if item is not None:
            return item
    shared = ds.get("SharedFunctionalGroupsSequence")
    return _first_item(shared[0], keyword) if shared else None


def _first_item(group: Dataset, keyword: str) -> Dataset | None:
    seq = group.get(keyword)
    return seq[0] if seq else None


def _frame_value(ds: Dataset, frame: int, macro: str, keyword: str):
    item = _functional_item(ds, frame, macro)
    if item is not None and keyword in item:
        return item[keyword].value
    return ds.get(keyword)


def _float_vector(value, n: int) -> np.ndarray | None:
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        v = np.array([float(x) for x in value], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return v if v.shape == (n,) and np.all(np.isfinite(v)) else None


def _positive_pair(value) -> tuple[float, float] | None:
    v = _float_vector(value, 2)
    return (float(v[0]), float(v[1])) if v is not None and np.all(v > 0) else None


def _positive_float(value) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and f > 0 else None


def _unit(v: np.ndarray) -> np.ndarray | None:
    norm = np.linalg.norm(v)
    return v / norm if norm > 1e-6 else None


def _frozen(v: np.ndarray) -> np.ndarray:
    v = np.array(v, dtype=np.float64)
    v.flags.writeable = False  # the dataclass is frozen; keep its arrays so too
    return v


def _physical_vector(spacing: Spacing, p0: Point, p1: Point) -> np.ndarray:
    dr, dc = float(p1[0]) - float(p0[0]), float(p1[1]) - float(p0[1])
    if spacing.calibrated:
        dr, dc = dr * spacing.row_mm, dc * spacing.col_mm
    return np.array([dr, dc])


def _unit_of(spacing: Spacing) -> str:
    return "mm" if spacing.calibrated else "px"


def _area(spacing: Spacing, n_pixels: int) -> Measurement:
    if spacing.calibrated:
        return Measurement(n_pixels * spacing.row_mm * spacing.col_mm, "mm²", spacing.source)
    return Measurement(float(n_pixels), "px²", spacing.source)


def _centre_grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = int(shape[0]), int(shape[1])
    return np.arange(rows)[:, None], np.arange(cols)[None, :]


def _format_pair(row_mm: float, col_mm: float) -> str:
    if math.isclose(row_mm, col_mm, rel_tol=1e-3):
        return f"{_format_mm(row_mm)} mm"
    return f"{_format_mm(row_mm)} × {_format_mm(col_mm)} mm"


def _format_mm(v: float) -> str:
    # two decimals hide detector pitches like 0.043 mm; keep three there
    return f"{v:.2f}" if v >= 0.095 else f"{v:.3f}"
