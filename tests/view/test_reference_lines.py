"""Cross-reference line geometry: plane-plane intersections clipped to the images."""

from __future__ import annotations

import numpy as np
import pytest

from medview.core.geometry import PIXEL_SPACING, ImagePlane, Spacing
from medview.view.reference_lines import plane_intersection, reference_line


def plane(origin, row, col, mm: float = 1.0) -> ImagePlane:
    return ImagePlane(np.array(origin, float), np.array(row, float) / np.linalg.norm(row),
                      np.array(col, float) / np.linalg.norm(col), Spacing(mm, mm, PIXEL_SPACING))


AXIAL = plane((0, 0, 0), (1, 0, 0), (0, 1, 0))           # z = 0, 10 × 10 mm from the origin


def test_a_coronal_plane_cuts_an_axial_image_along_a_row():
    coronal = plane((-50, 4, 50), (1, 0, 0), (0, 0, -1))   # y = 4
    (r0, c0), (r1, c1) = reference_line(AXIAL, (10, 10), coronal)
    assert (r0, r1) == pytest.approx((4, 4))
    assert sorted((c0, c1)) == pytest.approx([-0.5, 9.5])  # edge to edge of the image


def test_a_sagittal_plane_cuts_along_a_column_in_pixels_of_the_image():
    fine = plane((0, 0, 0), (1, 0, 0), (0, 1, 0), mm=0.5)   # 0.5 mm pixels
    sagittal = plane((2, -50, 50), (0, 1, 0), (0, 0, -1))   # x = 2 mm: column 4
    (r0, c0), (r1, c1) = reference_line(fine, (20, 30), sagittal)
    assert (c0, c1) == pytest.approx((4, 4))
    assert sorted((r0, r1)) == pytest.approx([-0.5, 19.5])


def test_parallel_planes_and_planes_that_miss_the_image_draw_nothing():
    assert reference_line(AXIAL, (10, 10), plane((0, 0, 5), (1, 0, 0), (0, 1, 0))) is None
    assert plane_intersection(AXIAL, plane((3, 3, 3), (0, 1, 0), (1, 0, 0))) is None
    far = plane((-50, 40, 50), (1, 0, 0), (0, 0, -1))      # y = 40: beyond the 10 rows
    assert reference_line(AXIAL, (10, 10), far) is None


def test_the_line_keeps_to_the_other_image_when_it_is_bounded():
    # a coronal image at y = 4 covering x = 2 .. 5 mm only (4 columns) and z = +-2
    coronal = plane((2, 4, 2), (1, 0, 0), (0, 0, -1))
    (_, c0), (_, c1) = reference_line(AXIAL, (10, 10), coronal, other_shape=(5, 4))
    assert sorted((c0, c1)) == pytest.approx([1.5, 5.5])
    above = plane((2, 4, 20), (1, 0, 0), (0, 0, -1))       # z = 20 .. 16: misses z = 0
    assert reference_line(AXIAL, (10, 10), above, other_shape=(5, 4)) is None


def test_a_slab_face_is_the_plane_moved_along_its_normal():
    coronal = plane((-50, 4, 50), (1, 0, 0), (0, 0, -1))   # normal: row × col = +y
    assert np.allclose(coronal.normal, (0, 1, 0))
    (r0, _), (r1, _) = reference_line(AXIAL, (10, 10), coronal, offset_mm=2.5)
    assert (r0, r1) == pytest.approx((6.5, 6.5))


def test_oblique_planes_meet_on_a_line_that_lies_in_both():
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = plane(rng.uniform(-5, 5, 3), *_orthonormal(rng))
        b = plane(rng.uniform(-5, 5, 3), *_orthonormal(rng), mm=0.7)
        segment = reference_line(a, (40, 30), b)
        if segment is None:
            continue
        for r, c in segment:
            point = a.origin + c * a.row_cosine + r * a.col_cosine
            assert abs((point - b.origin) @ b.normal) < 1e-9     # on the other plane
            assert -0.5 - 1e-9 <= r <= 39.5 + 1e-9 and -0.5 - 1e-9 <= c <= 29.5 + 1e-9
        # each end lies on the border of the image
        for r, c in segment:
            assert min(abs(r + 0.5), abs(r - 39.5), abs(c + 0.5), abs(c - 29.5)) < 1e-9


def _orthonormal(rng) -> tuple[np.ndarray, np.ndarray]:
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q[:, 0], q[:, 1]
