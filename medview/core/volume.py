"""A CT/MR series as a 3-D volume in patient space, for multiplanar reformatting.

:meth:`Volume.from_series` stacks the frames of one series along their shared slice
normal, with the real spacing and orientation from the headers (Image Position and
Orientation (Patient), Pixel Spacing; PS3.3 C.7.6.2), or refuses with a plain reason
(:class:`NotAVolume`) when the frames are not one block of parallel slices.

Two common departures from a perfect block are corrected, and said so in
:attr:`Volume.notes`:

* **Gantry tilt** (CT): the slices are parallel but each is shifted sideways from the
  previous one, because the table moved along z while the image plane was tilted. Each
  slice is shifted back in its own plane (linear resampling) so that the slices stack
  along their normal, as dcm2niix does; the patient geometry of every voxel is kept.
* **Uneven slice spacing** (a missing slice, a change of increment): the slices are
  resampled onto an even grid at the smallest gap, by linear interpolation along the
  normal, unless that would more than quadruple the slice count (refused with the
  figures).

Voxel ``(k, i, j)`` of :attr:`Volume.data` is slice ``k``, row ``i``, column ``j``;
its centre is at ``origin + k·Δk·normal + i·Δi·col_cosine + j·Δj·row_cosine`` in
patient coordinates (LPS, mm). Reslicing lives in :mod:`medview.core.mpr`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from medview.core import geometry, mpr, pixels
from medview.core.errors import MedviewError
from medview.core.imports import load

MIN_SLICES = 3
# Direction cosines differing by less are one orientation (3-decimal rounding in headers).
_ORIENTATION_TOLERANCE = 2e-3
# Slice gaps differing by less than this fraction of the smallest are even.
_EVEN_SPACING_TOLERANCE = 0.01
# A sideways shift below this fraction of a pixel is rounding, not gantry tilt.
_SHIFT_TOLERANCE_PX = 0.01
# Resampling uneven slices may add at most this factor of slices.
_MAX_RESAMPLE_GROWTH = 4


class NotAVolume(MedviewError):
    """A series that cannot be reformatted; ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        self.reason = " ".join(reason.split())
        super().__init__(self.reason)


class Volume:
    """Voxels of one series on a regular grid in patient space.

    Parameters
    ----------
    data : numpy.ndarray
        Shape (slices, rows, columns); stored values rendered with ``params``.
    params : DisplayParams
        How ``data`` becomes modality values and display pixels (rescale, windows,
        photometric); the first slice's, with the rescale removed when the slices
        had different ones (``data`` then holds modality values).
    origin : array_like
        Patient position (mm) of the centre of voxel (0, 0, 0).
    axes : array_like
        Shape (3, 3): unit vectors in patient space along the array axes k (slice
        normal), i (down a column: the column cosine) and j (along a row: the row
        cosine).
    spacing : array_like
        Voxel size (mm) along k, i and j.
    notes : sequence of str
        What was corrected while building (gantry tilt, uneven spacing).
    modality : str
        The series' Modality, for window presets.

    Notes
    -----
    ``data`` is not copied and must not be modified.
    """

    def __init__(self, data: np.ndarray, params: pixels.DisplayParams, origin, axes, spacing,
                 notes: Sequence[str] = (), modality: str = "") -> None:
        self.data = data
        self.params = params
        self.origin = _frozen(origin)
        self.axes = _frozen(axes)
        self.spacing = _frozen(spacing)
        # header cosines are rounded, so not exactly orthogonal: invert, not transpose
        self._to_voxel = np.linalg.inv(self.axes * self.spacing[:, None])
        self.notes = tuple(notes)
        self.modality = modality
        # value outside the scanned block (oblique planes): the darkest stored value
        self.fill = data.min().item() if data.size else 0

    @classmethod
    def from_series(cls, series) -> Volume:
        """Build the volume of a series of parallel slices.

        Parameters
        ----------
        series : medview.core.study.Series
            Its frames, in any order (they are sorted along the normal here).

        Returns
        -------
        Volume

        Raises
        ------
        NotAVolume
            When the frames are too few, colour, lack a plane in the patient, differ
            in orientation, size or pixel spacing, share a position (several phases
            or echoes in one series), or are spaced too unevenly to resample.
        ReadError
            When a frame's pixels cannot be decoded (names the file).
        """
        frames, planes, distances, step = _sorted_slices(series)
        shifts = _sideways_shifts(planes)
        # Kept as they are (neither shifted nor resampled), the volume's slices stand in
        # for the decoded frames in the pixel cache: one copy of the pixels, not two.
        data, params = _stack(frames, share=shifts is None and step is None)
        first = planes[0]
        notes = []
        if shifts is not None:
            origin, tilt = _unshear(data, first, shifts, distances)
            notes.append(f"gantry tilt {tilt:.1f}°: slices shifted into line (resampled)")
        else:
            origin = first.origin
        if step is None:
            step = float(distances[-1]) / (len(distances) - 1)
        else:
            gaps = np.diff(distances)
            data = _resample_slices(data, distances, step)
            notes.append(f"uneven slice spacing {gaps.min():.2f}–{gaps.max():.2f} mm: "
                         f"resampled to {step:.2f} mm")
        axes = _orthonormal(first.row_cosine, first.col_cosine)
        spacing = (step, first.spacing.row_mm, first.spacing.col_mm)
        return cls(data, params, origin, axes, spacing, notes,
                   str(frames[0].get("Modality", "") or ""))

    # -- geometry -------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.data.shape

    @property
    def centre(self) -> np.ndarray:
        """Patient position (mm) of the centre of the block."""
        return self.voxel_to_patient((np.array(self.shape) - 1) / 2.0)

    def voxel_to_patient(self, kij) -> np.ndarray:
        """Patient position (mm) of voxel coordinates ``(k, i, j)`` (fractions allowed;
        the last axis of ``kij`` holds the three coordinates)."""
        kij = np.asarray(kij, dtype=np.float64)
        return self.origin + (kij * self.spacing) @ self.axes

    def patient_to_voxel(self, point) -> np.ndarray:
        """Voxel coordinates ``(k, i, j)`` (fractional) of a patient position (mm)."""
        return (np.asarray(point, dtype=np.float64) - self.origin) @ self._to_voxel

    def corners(self) -> np.ndarray:
        """Patient positions of the 8 corner voxel centres, shape (8, 3)."""
        ends = [(0, n - 1) for n in self.shape]
        kij = np.array([(k, i, j) for k in ends[0] for i in ends[1] for j in ends[2]], float)
        return self.voxel_to_patient(kij)

    # -- planes (see medview.core.mpr) -----------------------------------------

    def positions(self, kind: str, rotation=None) -> np.ndarray:
        """Positions (mm along the plane normal) at which ``kind`` planes can be cut,
        ascending; see :func:`medview.core.mpr.positions`."""
        return mpr.positions(self, kind, rotation)

    def position_of(self, kind: str, point, rotation=None) -> float:
        """Position (mm along the normal) of the ``kind`` plane through a patient point."""
        return mpr.position_of(self, kind, point, rotation)

    def plane(self, kind: str, position_mm: float | None = None, *, slab_mm: float = 0.0,
              mode: str = "mip", rotation=None) -> mpr.PlaneImage:
        """Cut a plane; see :func:`medview.core.mpr.plane`."""
        return mpr.plane(self, kind, position_mm, slab_mm=slab_mm, mode=mode,
                         rotation=rotation)


def refusal(series) -> str | None:
    """Why ``series`` cannot be reformatted, from its headers alone (no pixels are
    decoded: cheap enough to enable or explain an MPR control), or None when it can.
    The reason is the one :meth:`Volume.from_series` raises."""
    try:
        _sorted_slices(series)
    except NotAVolume as err:
        return err.reason
    return None


# ----------------------------------------------------------------------------- checks


def _sorted_slices(series) -> tuple[list, list, np.ndarray, float | None]:
    """The frames and their planes sorted along the normal, each slice's distance from
    the first (mm), and the step to resample to (None when evenly spaced)."""
    frames = list(series.frames)
    planes = _check_frames(frames)
    distances = np.array([float((p.origin - planes[0].origin) @ planes[0].normal)
                          for p in planes])
    order = np.argsort(distances, kind="stable")
    distances = distances[order] - distances[order[0]]
    step = _even_step(distances)
    return [frames[k] for k in order], [planes[k] for k in order], distances, step


def _check_frames(frames: list) -> list[geometry.ImagePlane]:
    """Each frame's plane, once the frames are known to form one stack."""
    if len(frames) < MIN_SLICES:
        raise NotAVolume(f"not a volume: {len(frames)} image(s); MPR needs at least "
                         f"{MIN_SLICES} parallel slices")
    planes = []
    for n, frame in enumerate(frames, 1):
        if frame.header is None:
            raise NotAVolume("not a volume: plain images have no position in the patient")
        if frame.params.is_colour:
            raise NotAVolume(f"not a volume: image {n} ({frame.label}) is in colour")
        plane = frame.plane
        if plane is None:
            raise NotAVolume(f"not a volume: image {n} ({frame.label}) has no position in "
                             "the patient (Image Position/Orientation (Patient), Pixel Spacing)")
        planes.append(plane)
    first, ref = frames[0], planes[0]
    for n, (frame, plane) in enumerate(zip(frames, planes), 1):
        if frame.shape != first.shape:
            raise NotAVolume(f"not a volume: images of different sizes "
                             f"({_size(first.shape)} and {_size(frame.shape)}, image {n})")
        if (np.abs(plane.row_cosine - ref.row_cosine).max() > _ORIENTATION_TOLERANCE
                or np.abs(plane.col_cosine - ref.col_cosine).max() > _ORIENTATION_TOLERANCE):
            raise NotAVolume(f"not a volume: the images have different orientations (image "
                             f"{n}, {frame.label}); a localiser or several stacks in one series?")
        if not (math.isclose(plane.spacing.row_mm, ref.spacing.row_mm, rel_tol=1e-3)
                and math.isclose(plane.spacing.col_mm, ref.spacing.col_mm, rel_tol=1e-3)):
            raise NotAVolume(f"not a volume: different pixel spacings ({ref.spacing.label} "
                             f"and {plane.spacing.label}, image {n})")
    return planes


def _even_step(distances: np.ndarray) -> float | None:
    """None when the sorted slice distances are evenly spaced, else the step to
    resample to (the smallest gap)."""
    gaps = np.diff(distances)
    smallest, largest = float(gaps.min()), float(gaps.max())
    if smallest <= 1e-3:
        same = int(np.sum(gaps <= 1e-3)) + 1
        raise NotAVolume(f"not a volume: {same} images at the same position (several "
                         "phases, echoes or stacks in one series?)")
    if largest - smallest <= _EVEN_SPACING_TOLERANCE * smallest:
        return None
    if distances[-1] / smallest + 1 > _MAX_RESAMPLE_GROWTH * len(distances):
        raise NotAVolume(f"not a volume: slice spacing varies from {smallest:.2f} to "
                         f"{largest:.2f} mm")
    return smallest


def _size(shape: tuple[int, int]) -> str:
    return f"{shape[1]}×{shape[0]}"


# ----------------------------------------------------------------------------- stacking


def _stack(frames: list, share: bool = False) -> tuple[np.ndarray, pixels.DisplayParams]:
    """The slices' stored values in one array, and the parameters that display them.

    When the slices' modality transforms differ (per-slice Rescale Intercept/Slope, as
    some PET and CT series have), every slice is converted to modality values, kept as
    integers when they are, and the returned parameters carry no rescale. ``share``
    (stored values only, the array left as it is): each slice, once copied, replaces its
    frame's array in the pixel cache, so a decoded series costs its memory once, also
    while it is being stacked.
    """
    params = [f.params for f in frames]
    uniform = all(_modality_key(p) == _modality_key(params[0]) for p in params)
    first = frames[0].stored() if uniform else frames[0].modality_values()
    data = np.empty((len(frames),) + first.shape, first.dtype)
    for k, frame in enumerate(frames):
        values = frame.stored() if uniform else frame.modality_values()
        if values.dtype != data.dtype:
            data = data.astype(np.result_type(data.dtype, values.dtype))
        data[k] = values
        if share and uniform:
            frame.cache.adopt(frame.key, data[k])
    if uniform:
        return data, params[0]
    if np.array_equal(data, np.round(data)) and data.min() >= -32768 and data.max() <= 32767:
        data = data.astype(np.int16)
    elif data.dtype != np.float32:
        data = data.astype(np.float32)
    return data, replace(params[0], slope=1.0, intercept=0.0, modality_lut=None, padding=None)


def _modality_key(p: pixels.DisplayParams) -> tuple:
    lut = p.modality_lut
    return (p.slope, p.intercept, None if lut is None else (lut.first_mapped, lut.table.tobytes()))


def _sideways_shifts(planes: list[geometry.ImagePlane]) -> np.ndarray | None:
    """In-plane offset (mm along row and column cosine) of each slice's origin from the
    first's, shape (n, 2); None when the slices are stacked straight along the normal."""
    ref = planes[0]
    offsets = np.array([p.origin - ref.origin for p in planes])
    shifts = np.stack([offsets @ ref.row_cosine, offsets @ ref.col_cosine], axis=1)
    pixel = min(ref.spacing.row_mm, ref.spacing.col_mm)
    return shifts if np.abs(shifts).max() > _SHIFT_TOLERANCE_PX * pixel else None


def _unshear(data: np.ndarray, first: geometry.ImagePlane, shifts: np.ndarray,
             distances: np.ndarray) -> tuple[np.ndarray, float]:
    """Shift each slice in its plane (in place) so that all stack along the normal;
    the middle slice stays put, so a tilt loses the same margin at both ends.

    Returns the new origin and the tilt angle in degrees (from a straight-line fit of
    shift against distance along the normal).
    """
    cv2 = load("cv2")
    ref = shifts[len(shifts) // 2]
    sp = first.spacing
    fill = data.min().item()
    for k in range(len(data)):
        dx, dy = (shifts[k] - ref) / (sp.col_mm, sp.row_mm)  # in pixels
        if abs(dx) < _SHIFT_TOLERANCE_PX and abs(dy) < _SHIFT_TOLERANCE_PX:
            continue
        # output pixel (i, j) lies at input (i - dy, j - dx) of slice k
        matrix = np.array([[1.0, 0.0, -dx], [0.0, 1.0, -dy]])
        data[k] = _warp(cv2, data[k], matrix, fill)
    origin = first.origin + ref[0] * first.row_cosine + ref[1] * first.col_cosine
    slope = np.linalg.lstsq(np.stack([distances, np.ones_like(distances)], 1), shifts,
                            rcond=None)[0][0]
    return origin, math.degrees(math.atan(float(np.hypot(*slope))))


def _warp(cv2, image: np.ndarray, matrix: np.ndarray, fill) -> np.ndarray:
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    size = (image.shape[1], image.shape[0])
    if image.dtype in (np.uint8, np.uint16, np.int16, np.float32, np.float64):
        return cv2.warpAffine(image, matrix, size, flags=flags,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=float(fill))
    warped = cv2.warpAffine(image.astype(np.float64), matrix, size, flags=flags,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=float(fill))
    return np.rint(warped) if image.dtype.kind in "iu" else warped


def _resample_slices(data: np.ndarray, distances: np.ndarray, step: float) -> np.ndarray:
    """Linear interpolation along the normal onto slices ``step`` mm apart."""
    count = int(math.floor(distances[-1] / step + 1e-6)) + 1
    targets = np.arange(count) * step
    lower = np.clip(np.searchsorted(distances, targets, side="right") - 1, 0, len(data) - 2)
    weight = (targets - distances[lower]) / (distances[lower + 1] - distances[lower])
    out = np.empty((count,) + data.shape[1:], data.dtype)
    for m, (k, w) in enumerate(zip(lower.tolist(), weight.tolist())):
        mixed = data[k] * np.float32(1.0 - w) + data[k + 1] * np.float32(w)
        out[m] = np.rint(mixed) if data.dtype.kind in "iu" else mixed
    return out


def _orthonormal(row: np.ndarray, col: np.ndarray) -> np.ndarray:
    """Axes k, i, j from header cosines, made exactly orthonormal (headers round them;
    image_plane has refused any that are not orthogonal to 1e-2)."""
    row = row / np.linalg.norm(row)
    col = col - (col @ row) * row
    col = col / np.linalg.norm(col)
    return np.stack([np.cross(row, col), col, row])


def _frozen(v) -> np.ndarray:
    v = np.array(v, dtype=np.float64)
    v.flags.writeable = False
    return v
