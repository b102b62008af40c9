"""Mask operations without Qt: polygon fill, value ranges, islands, holes, interpolation.

Pure array → array functions on boolean masks and label maps (0 background, k segment
k), in image coordinates (row, col; pixel centres on integers). :class:`MaskEdit
<medview.view.mask_edit.MaskEdit>` applies their results as undo steps; the labelling
model decides what they are applied to.

Islands are 8-connected (a diagonal touch joins two regions); a hole is a 4-connected
region outside the segment that does not reach the image's edge, the usual pairing that
keeps a one-pixel diagonal gap from being both an island border and a hole.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medview.core.imports import load

__all__ = ["polygon", "in_range", "islands", "largest_island", "island_at", "small_islands",
           "holes", "signed_distance", "interpolate"]

def polygon(shape: tuple[int, int], points: Sequence[tuple[float, float]]) -> np.ndarray:
    """Pixels inside the closed polygon through ``points`` (row, col), as a bool mask.

    A pixel belongs when its centre lies inside (even-odd rule, so a lasso that crosses
    itself leaves the overlap out; a centre exactly on the outline counts on the left and
    right edges, and on rows from the first vertex's up to, not including, the last's);
    fewer than three points give an empty mask. Each pixel row is scanned once: the outline's crossings with it, paired.
    """
    out = np.zeros(shape, bool)
    p = np.asarray(points, np.float64).reshape(-1, 2)
    if len(p) < 3:
        return out
    r0, c0 = p[:, 0], p[:, 1]
    r1, c1 = np.roll(r0, -1), np.roll(c0, -1)
    first = max(0, int(np.ceil(r0.min())))
    last = min(shape[0] - 1, int(np.floor(r0.max())))
    for y in range(first, last + 1):
        crosses = (r0 <= y) != (r1 <= y)  # half-open: a vertex on the row counts once
        x = np.sort(c0[crosses] + (y - r0[crosses]) * (c1[crosses] - c0[crosses])
                    / (r1[crosses] - r0[crosses]))
        for a, b in zip(x[::2], x[1::2]):
            out[y, max(0, int(np.ceil(a))):max(0, min(shape[1], int(np.floor(b)) + 1))] = True
    return out


def in_range(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Pixels whose value (modality units, e.g. HU) lies in ``[lo, hi]``."""
    lo, hi = min(lo, hi), max(lo, hi)
    return (values >= lo) & (values <= hi)


def islands(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected regions of ``mask``: a map (0 outside, 1..n each region) and each
    region's pixel count (index 0 is the background's)."""
    cv2 = load("cv2")
    n, regions, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    return regions, stats[:, cv2.CC_STAT_AREA]


def largest_island(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected region of ``mask`` (empty for an empty mask)."""
    regions, areas = islands(mask)
    if len(areas) < 2:
        return np.zeros(mask.shape, bool)
    return regions == 1 + int(np.argmax(areas[1:]))


def island_at(mask: np.ndarray, rc: tuple[float, float]) -> np.ndarray:
    """The region of ``mask`` holding pixel ``rc`` (empty when ``rc`` is outside it)."""
    r, c = int(round(rc[0])), int(round(rc[1]))
    if not (0 <= r < mask.shape[0] and 0 <= c < mask.shape[1]) or not mask[r, c]:
        return np.zeros(mask.shape, bool)
    regions, _ = islands(mask)
    return regions == regions[r, c]


def small_islands(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    """The regions of ``mask`` with fewer than ``min_pixels`` pixels."""
    regions, areas = islands(mask)
    small = areas < min_pixels
    small[0] = False
    return small[regions]


def holes(mask: np.ndarray) -> np.ndarray:
    """Pixels outside ``mask`` that are enclosed by it (their 4-connected region does not
    reach the image's edge)."""
    cv2 = load("cv2")
    outside = (~mask.astype(bool)).astype(np.uint8)
    _, regions = cv2.connectedComponents(outside, connectivity=4, ltype=cv2.CV_32S)
    edge = np.unique(np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]]))
    return (regions > 0) & ~np.isin(regions, edge)


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance to the mask's border: positive outside, negative inside.

    Outside pixels count their distance to the nearest inside pixel, inside pixels minus
    their distance to the nearest outside one (so the zero level lies half a pixel out of
    the border on each side). An empty mask is everywhere as far as the image's diagonal,
    a full one everywhere as far inside.
    """
    cv2 = load("cv2")
    inside = mask.astype(bool)
    far = float(np.hypot(*mask.shape))
    if not inside.any():
        return np.full(mask.shape, far, np.float32)
    if inside.all():
        return np.full(mask.shape, -far, np.float32)
    # distanceTransform measures to the nearest zero pixel
    to_inside = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    to_outside = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return to_inside - to_outside


def interpolate(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Shape-based interpolation of two label maps at ``t`` (0: ``a``, 1: ``b``).

    Per segment, the signed distances of its mask in ``a`` and in ``b`` are blended
    linearly and the pixels below zero belong to it (Raya & Udupa 1990; 3D Slicer's
    "fill between slices" does the same per segment). A pixel claimed by two segments
    goes to the one it lies deepest inside. A segment in only one of the two maps is
    not carried between them (its empty side counts as far outside everywhere).
    """
    if a.shape != b.shape:
        raise ValueError(f"label maps of different sizes: {a.shape} and {b.shape}")
    out = np.zeros(a.shape, np.uint8)
    best = np.zeros(a.shape, np.float32)
    for k in sorted((set(np.unique(a)) | set(np.unique(b))) - {0}):
        d = (1.0 - t) * signed_distance(a == k) + t * signed_distance(b == k)
        take = d < best
        out[take] = k
        best[take] = d[take]
    return out
