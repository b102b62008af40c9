"""Multiplanar reformatting: planes cut through a :class:`~medview.core.volume.Volume`.

A plane is one of three kinds, each shown the way radiologists read it (radiological
convention): **axial** seen from the feet (patient's right on the left of the screen,
anterior at the top), **coronal** seen from the front (right on the left, head at the
top), **sagittal** seen from the patient's left (anterior on the left, head at the top).
Each kind is cut perpendicular to the volume's array axis nearest its patient axis, so
for a straight CT the axial plane is the acquired slice and the others are pure array
reslices; for an oblique acquisition they follow the acquired block. ``rotation`` turns
a kind's plane about the volume centre (oblique MPR).

Every plane image has square pixels at the volume's true spacing: the finer spacing of
the two array axes it spans (the other axis is linearly interpolated), or for oblique
planes the finest voxel spacing. Its :class:`~medview.core.geometry.ImagePlane` (origin,
row and column cosines, spacing) places every pixel in patient space, which is what
cross-reference lines, orientation markers and a 3-D cursor need.

Thick slabs combine the samples within ±slab/2 mm of the plane along its normal by
maximum (MIP), minimum (MinIP) or mean.

Speed (``bench/viewer.py``, 512×512×300 int16): orthogonal planes are numpy views of
the volume with one reduction and one 1-D interpolation, a few ms; oblique planes are
sampled trilinearly by OpenCV ``remap`` over runs of slices seen as one 2-D image, a
few calls a plane (see :func:`_sample`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from medview.core import geometry, pixels
from medview.core.imports import load

if TYPE_CHECKING:
    from medview.core.volume import Volume

KINDS = ("axial", "coronal", "sagittal")
MODES = ("mip", "minip", "avg")

# Screen right and screen down of each kind in patient space (LPS: x to the patient's
# left, y posterior, z head).
_SCREEN = {
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
}
_REMAP_LIMIT = 32767  # OpenCV remap: images and maps smaller than SHRT_MAX a side
_REMAP_CHUNK = 32000
_REMAP_TYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)


@dataclass(frozen=True, eq=False)
class PlaneImage:
    """One reformatted plane: pixels and where they are in the patient.

    Attributes
    ----------
    pixels : numpy.ndarray
        (rows, cols) in the volume's stored units and dtype; render them with
        :meth:`renderer` (the volume's display parameters).
    plane : geometry.ImagePlane
        Patient position of pixel (0, 0) (``origin``), the unit vectors along a row
        (``row_cosine``, screen right) and down a column (``col_cosine``, screen down),
        and the square pixel spacing.
    params : pixels.DisplayParams
        The volume's display parameters.
    kind : str
        ``"axial"``, ``"coronal"`` or ``"sagittal"``.
    position_mm : float
        Position of the plane (the slab centre) along :attr:`normal`, patient mm; for
        orthogonal planes the nearest slice to the one asked for.
    slab_mm : float
        Slab thickness asked for; 0 for a thin plane.
    mode : str
        How the slab was combined: ``"mip"``, ``"minip"`` or ``"avg"``.
    rotation : numpy.ndarray or None
        The rotation (3×3, patient space) of an oblique plane; None for orthogonal.
    """

    pixels: np.ndarray
    plane: geometry.ImagePlane
    params: pixels.DisplayParams
    kind: str
    position_mm: float
    slab_mm: float = 0.0
    mode: str = "mip"
    rotation: np.ndarray | None = None

    @property
    def spacing_mm(self) -> float:
        """Size of a (square) pixel in mm."""
        return float(self.plane.spacing.row_mm)

    @property
    def normal(self) -> np.ndarray:
        """Unit normal, ``row_cosine × col_cosine``: the direction positions increase."""
        return self.plane.normal

    def to_patient(self, row: float, col: float) -> np.ndarray:
        """Patient position (mm, shape (3,)) of a pixel position (fractions allowed)."""
        return geometry.pixel_to_patient(self.plane, row, col)

    def from_patient(self, point) -> tuple[float, float, float]:
        """Pixel position of a patient point projected onto the plane.

        Returns
        -------
        row, col : float
            Fractional pixel position (pixel centres are integers).
        distance : float
            Signed distance (mm) of the point from the plane along :attr:`normal`.
        """
        offset = np.asarray(point, dtype=np.float64) - self.plane.origin
        s = self.spacing_mm
        return (float(offset @ self.plane.col_cosine) / s,
                float(offset @ self.plane.row_cosine) / s, float(offset @ self.normal))

    def renderer(self) -> pixels.FrameRenderer:
        """The display pipeline for these pixels, as for any frame of the series."""
        return pixels.FrameRenderer(self.pixels, self.params)


def rotation_about(axis, degrees: float) -> np.ndarray:
    """Rotation matrix (3×3) turning by ``degrees`` about ``axis`` (right-hand rule).

    Compose rotations by matrix product; e.g. ``rotation_about(view.normal, 30)``
    turns a plane about the normal of the view it is drawn in.
    """
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    t = math.radians(degrees)
    cross = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(t) * cross + (1 - math.cos(t)) * (cross @ cross)


def positions(volume: Volume, kind: str, rotation=None) -> np.ndarray:
    """Positions (mm along the plane normal) where ``kind`` planes can be cut, ascending.

    Orthogonal planes: one per voxel layer (``--slice N`` of ``medview export`` is the
    N-th). Oblique planes: every finest-spacing step through the block, one of them
    through its centre.
    """
    if rotation is None:
        lay = _layout(volume, kind)
        a = lay.normal_axis
        base = float(volume.origin @ lay.normal)
        along = float(volume.axes[a] @ lay.normal) * volume.spacing[a]
        return np.sort(base + np.arange(volume.shape[a]) * along)
    _, _, normal = _oblique_axes(volume, kind, rotation)
    step = float(volume.spacing.min())
    ends = volume.corners() @ normal
    centre = float(volume.centre @ normal)
    first = math.ceil((ends.min() - centre) / step - 1e-6)
    last = math.floor((ends.max() - centre) / step + 1e-6)
    return centre + np.arange(first, last + 1) * step


def position_of(volume: Volume, kind: str, point, rotation=None) -> float:
    """Position (mm along the normal) of the ``kind`` plane through a patient point."""
    if rotation is None:
        normal = _layout(volume, kind).normal
    else:
        normal = _oblique_axes(volume, kind, rotation)[2]
    return float(np.asarray(point, dtype=np.float64) @ normal)


def plane(volume: Volume, kind: str, position_mm: float | None = None, *,
          slab_mm: float = 0.0, mode: str = "mip", rotation=None) -> PlaneImage:
    """Cut one plane (or thick slab) through the volume.

    Parameters
    ----------
    volume : Volume
    kind : {"axial", "coronal", "sagittal"}
        The plane, before ``rotation``.
    position_mm : float, optional
        Where along the plane normal (patient mm, see :func:`positions`); None cuts
        through the middle. Orthogonal planes take the nearest voxel layer (clamped to
        the block); oblique ones the exact position.
    slab_mm : float
        Slab thickness in mm; 0 for a thin plane. Samples within ±slab/2 of the plane
        (voxel layers, or finest-spacing steps for oblique planes) are combined.
    mode : {"mip", "minip", "avg"}
        Maximum, minimum or mean over the slab.
    rotation : array_like, optional
        3×3 rotation in patient space (e.g. from :func:`rotation_about`) turning the
        plane about the volume centre; None for the orthogonal plane.

    Returns
    -------
    PlaneImage

    Raises
    ------
    ValueError
        For an unknown kind or mode, a negative slab, a matrix that is not a rotation,
        or an oblique plane through slices of 16,384 rows or more (OpenCV's limit).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown plane '{kind}' (choose from {', '.join(KINDS)})")
    if mode not in MODES:
        raise ValueError(f"unknown slab mode '{mode}' (choose from {', '.join(MODES)})")
    if not slab_mm >= 0:
        raise ValueError(f"slab thickness must be 0 mm or more (got {slab_mm})")
    if rotation is None:
        return _orthogonal(volume, kind, position_mm, float(slab_mm), mode)
    return _oblique(volume, kind, position_mm, float(slab_mm), mode, _rotation(rotation))


# ----------------------------------------------------------------------------- orthogonal


@dataclass(frozen=True)
class _Layout:
    """How a kind's plane lies in the volume array."""

    normal_axis: int     # array axis across the plane
    row_axis: int        # array axis running down the screen
    col_axis: int        # array axis running across the screen
    flip_rows: bool      # the array axis runs up the screen
    flip_cols: bool
    row_cosine: np.ndarray
    col_cosine: np.ndarray

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.row_cosine, self.col_cosine)


def _layout(volume: Volume, kind: str) -> _Layout:
    if kind not in KINDS:
        raise ValueError(f"unknown plane '{kind}' (choose from {', '.join(KINDS)})")
    right, down = (np.array(v) for v in _SCREEN[kind])
    # array axis nearest each patient axis x, y, z: the best one-to-one assignment
    axis_of = max(itertools.permutations(range(3)),
                  key=lambda perm: sum(abs(volume.axes[perm[p], p]) for p in range(3)))
    col_axis = axis_of[int(np.argmax(np.abs(right)))]
    row_axis = axis_of[int(np.argmax(np.abs(down)))]
    normal_axis = 3 - col_axis - row_axis
    flip_cols = bool(volume.axes[col_axis] @ right < 0)
    flip_rows = bool(volume.axes[row_axis] @ down < 0)
    return _Layout(normal_axis, row_axis, col_axis, flip_rows, flip_cols,
                   volume.axes[col_axis] * (-1.0 if flip_cols else 1.0),
                   volume.axes[row_axis] * (-1.0 if flip_rows else 1.0))


def _orthogonal(volume: Volume, kind: str, position_mm: float | None, slab_mm: float,
                mode: str) -> PlaneImage:
    lay = _layout(volume, kind)
    a, count = lay.normal_axis, volume.shape[lay.normal_axis]
    normal = lay.normal
    base = float(volume.origin @ normal)
    along = float(volume.axes[a] @ normal) * volume.spacing[a]   # mm per layer, signed
    if position_mm is None:  # the middle of the ascending positions
        position_mm = base + along * (count // 2 if along > 0 else count - 1 - count // 2)
    layer = min(max(round((position_mm - base) / along), 0), count - 1)
    reach = int(math.floor(slab_mm / 2 / volume.spacing[a] + 1e-6))
    lo, hi = max(layer - reach, 0), min(layer + reach + 1, count)
    image = _reduce(volume.data, a, lo, hi, mode)
    if lay.row_axis > lay.col_axis:   # the two remaining axes are in array order
        image = image.T
    image = image[::-1 if lay.flip_rows else 1, ::-1 if lay.flip_cols else 1]
    step = float(min(volume.spacing[lay.row_axis], volume.spacing[lay.col_axis]))
    image = _resample(image, 0, volume.spacing[lay.row_axis], step)
    image = _resample(image, 1, volume.spacing[lay.col_axis], step)
    corner = _top_left(volume, lay)
    corner[a] = layer
    where = _image_plane(volume.voxel_to_patient(corner), lay.row_cosine, lay.col_cosine, step)
    return PlaneImage(np.ascontiguousarray(image), where, volume.params, kind,
                      base + layer * along, slab_mm, mode)


def _top_left(volume: Volume, lay: _Layout) -> np.ndarray:
    """Voxel coordinates (layer 0) shown at the top left of the plane."""
    corner = np.zeros(3)
    corner[lay.row_axis] = volume.shape[lay.row_axis] - 1 if lay.flip_rows else 0
    corner[lay.col_axis] = volume.shape[lay.col_axis] - 1 if lay.flip_cols else 0
    return corner


def _reduce(data: np.ndarray, axis: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """Layers ``lo:hi`` along ``axis`` combined by ``mode`` (a view for one layer)."""
    index = [slice(None)] * 3
    if hi - lo == 1:
        index[axis] = lo
        return data[tuple(index)]
    index[axis] = slice(lo, hi)
    block = data[tuple(index)]
    if mode == "mip":
        return block.max(axis=axis)
    if mode == "minip":
        return block.min(axis=axis)
    return _as(block.mean(axis=axis, dtype=np.float32), data.dtype)


def _resample(image: np.ndarray, axis: int, step_in: float, step_out: float) -> np.ndarray:
    """Linear interpolation along ``axis`` from samples ``step_in`` mm apart to samples
    ``step_out`` mm apart, starting at the first sample (centres kept aligned)."""
    n = image.shape[axis]
    if n < 2 or math.isclose(step_in, step_out, rel_tol=1e-6):
        return image
    count = int(math.floor((n - 1) * step_in / step_out + 1e-6)) + 1
    t = np.arange(count) * (step_out / step_in)
    lower = np.minimum(t.astype(np.intp), n - 2)
    weight = (t - lower).astype(np.float32)
    shape = [1, 1]
    shape[axis] = count
    weight = weight.reshape(shape)
    below = np.take(image, lower, axis=axis).astype(np.float32)
    above = np.take(image, lower + 1, axis=axis).astype(np.float32)
    return _as(below + (above - below) * weight, image.dtype)


# ----------------------------------------------------------------------------- oblique


def _oblique_axes(volume: Volume, kind: str, rotation) -> tuple[np.ndarray, ...]:
    """Row cosine, column cosine and normal of the ``kind`` plane turned by ``rotation``."""
    lay = _layout(volume, kind)
    matrix = _rotation(rotation)
    row, col = matrix @ lay.row_cosine, matrix @ lay.col_cosine
    return row, col, np.cross(row, col)


def _oblique(volume: Volume, kind: str, position_mm: float | None, slab_mm: float,
             mode: str, rotation: np.ndarray) -> PlaneImage:
    row, col, normal = _oblique_axes(volume, kind, rotation)
    step = float(volume.spacing.min())
    centre = volume.centre
    if position_mm is None:
        position_mm = float(centre @ normal)
    # The pixel grid is the orthogonal plane's grid turned about the centre (so no
    # rotation is the orthogonal plane), extended to cover the block's shadow.
    top_left = volume.voxel_to_patient(_top_left(volume, _layout(volume, kind)))
    anchor = centre + rotation @ (top_left - centre)
    through = anchor + (position_mm - float(anchor @ normal)) * normal
    rel = volume.corners() - through
    u, v = rel @ row / step, rel @ col / step
    q0, q1 = math.ceil(u.min() - 1e-6), math.floor(u.max() + 1e-6)
    m0, m1 = math.ceil(v.min() - 1e-6), math.floor(v.max() + 1e-6)
    origin = through + q0 * step * row + m0 * step * col
    shape = (m1 - m0 + 1, q1 - q0 + 1)
    start = volume.patient_to_voxel(origin)
    du = volume.patient_to_voxel(origin + step * row) - start      # voxels per pixel
    dv = volume.patient_to_voxel(origin + step * col) - start
    reach = int(math.floor(slab_mm / 2 / step + 1e-6))
    combined = None
    for n in range(-reach, reach + 1):
        start = volume.patient_to_voxel(origin + n * step * normal)
        layer = _sample(volume.data, start, du, dv, shape, volume.fill)
        combined = layer if combined is None else _combine(combined, layer, mode)
    if mode == "avg" and reach:
        combined /= 2 * reach + 1
    where = _image_plane(origin, row, col, step)
    return PlaneImage(_as(combined, volume.data.dtype), where, volume.params, kind,
                      position_mm, slab_mm, mode, rotation)


def _combine(acc: np.ndarray, layer: np.ndarray, mode: str) -> np.ndarray:
    if mode == "mip":
        return np.maximum(acc, layer, out=acc)
    if mode == "minip":
        return np.minimum(acc, layer, out=acc)
    return np.add(acc, layer, out=acc)


def _sample(data: np.ndarray, start: np.ndarray, du: np.ndarray, dv: np.ndarray,
            shape: tuple[int, int], fill) -> np.ndarray:
    """Trilinear samples (float32, ``shape``) of ``data`` at voxel coordinates
    ``start + col·du + row·dv``; ``fill`` outside the block.

    OpenCV ``remap`` samples 2-D images bilinearly (positions quantised to 1/32 pixel).
    A run of consecutive slices is one 2-D image of stacked rows (a view), so one call
    samples every pixel whose slice pair lies in the run in the lower slice, a second
    call in the upper one (``R`` rows further down), and the two are blended along k.
    The pixels of a run form one interval on each image row (the coordinates are
    affine), so they are found from the block's faces, without sorting.
    """
    cv2 = load("cv2")
    count, n_rows, n_cols = data.shape
    if 2 * n_rows >= _REMAP_LIMIT or n_cols >= _REMAP_LIMIT:
        raise ValueError(f"oblique planes need slices under {_REMAP_LIMIT // 2} pixels")
    source = data if data.dtype in _REMAP_TYPES else data.astype(np.float32)
    out = np.full(shape, fill, np.float32)
    pairs = _REMAP_LIMIT // n_rows - 1                  # slice pairs per stacked run
    for first in range(0, count - 1, pairs):
        last = min(first + pairs, count - 1)            # the run's slices: first..last
        rows, cols = _pixels_between(start, du, dv, shape, data.shape, first, last)
        if rows.size == 0:
            continue
        r32, c32 = rows.astype(np.float32), cols.astype(np.float32)
        k, i, j = ((np.float32(start[n]) + c32 * np.float32(du[n]) + r32 * np.float32(dv[n]))
                   for n in range(3))
        np.clip(i, 0, n_rows - 1, out=i)   # never blend into the neighbouring slice
        np.clip(j, 0, n_cols - 1, out=j)
        lower = np.clip(np.floor(k), first, last - 1)
        weight = np.clip(k - lower, 0, 1)
        y = (lower - first) * n_rows + i
        stacked = source[first:last + 1].reshape(-1, n_cols)   # a view
        below = np.empty(y.size, source.dtype)
        above = np.empty(y.size, source.dtype)
        for c0 in range(0, y.size, _REMAP_CHUNK):
            c1 = min(c0 + _REMAP_CHUNK, y.size)
            mx, my = j[None, c0:c1], y[None, c0:c1]
            below[c0:c1] = _remap(cv2, stacked, mx, my, fill)
            above[c0:c1] = _remap(cv2, stacked, mx, my + np.float32(n_rows), fill)
        below = below.astype(np.float32, copy=False)
        out[rows, cols] = below + (above - below) * weight
    return out


def _pixels_between(start, du, dv, shape: tuple[int, int], size: tuple[int, ...],
                    first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column numbers of the pixels whose voxel coordinates
    ``start + col·du + row·dv`` lie in the block with ``first <= k < last`` (``k <=
    last`` for the block's last slice; faces widened by 1e-3 voxel)."""
    n_r, n_c = shape
    rows = np.arange(n_r, dtype=np.float64)
    lo, hi = np.zeros(n_r), np.full(n_r, float(n_c - 1))
    top = last + 1e-3 if last == size[0] - 1 else last - 1e-9
    ranges = ((first - (1e-3 if first == 0 else 0.0), top),
              (-1e-3, size[1] - 1 + 1e-3), (-1e-3, size[2] - 1 + 1e-3))
    for n, (low, high) in enumerate(ranges):
        base = start[n] + rows * dv[n]          # coordinate n at column 0 of each row
        if abs(du[n]) < 1e-9:                   # constant along each row
            hi[(base < low) | (base > high)] = -1.0
            continue
        a, b = (low - base) / du[n], (high - base) / du[n]
        lo = np.maximum(lo, np.minimum(a, b))
        hi = np.minimum(hi, np.maximum(a, b))
    lo, hi = np.ceil(lo - 1e-9).astype(np.intp), np.floor(hi + 1e-9).astype(np.intp)
    length = np.maximum(hi - lo + 1, 0)
    row_of = np.repeat(np.arange(n_r), length)
    col_of = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length - lo, length)
    return row_of, col_of


def _remap(cv2, image: np.ndarray, mx: np.ndarray, my: np.ndarray, fill) -> np.ndarray:
    """Bilinear samples of ``image`` at (``my``, ``mx``), 1-D."""
    return cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=float(fill))[0]


# ----------------------------------------------------------------------------- helpers


def _rotation(rotation) -> np.ndarray:
    matrix = np.asarray(rotation, dtype=np.float64)
    if matrix.shape != (3, 3) or not np.allclose(matrix @ matrix.T, np.eye(3), atol=1e-6) \
            or np.linalg.det(matrix) < 0:
        raise ValueError("rotation must be a 3×3 rotation matrix")
    return matrix


def _image_plane(origin, row, col, step: float) -> geometry.ImagePlane:
    spacing = geometry.Spacing(step, step, geometry.PIXEL_SPACING)
    return geometry.ImagePlane(_frozen(origin), _frozen(row), _frozen(col), spacing)


def _as(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Interpolated values back in the volume's dtype (rounded for integers)."""
    if np.dtype(dtype).kind in "iu":
        return np.rint(values, out=values).astype(dtype)
    return values.astype(dtype, copy=False)


def _frozen(v) -> np.ndarray:
    v = np.array(v, dtype=np.float64)
    v.flags.writeable = False
    return v
