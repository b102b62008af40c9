"""Mask operations without Qt: polygon fill, value ranges, islands, holes, signed distances,
shape-based interpolation; the lasso and whole-mask edits of MaskEdit as undo steps; a
lasso click's jitter is not a traced outline."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from medview.view import mask_tools as mt
from medview.view.gestures import LEFT, Gestures
from medview.view.mask_edit import LASSO, MaskEdit
from medview.view.model import ViewModel
from tests.helpers.series import load_series, write_series


def _disc(rc, radius, shape=(64, 64)) -> np.ndarray:
    rows, cols = np.mgrid[:shape[0], :shape[1]]
    return (rows - rc[0]) ** 2 + (cols - rc[1]) ** 2 <= radius ** 2


def test_a_polygon_holds_the_pixels_whose_centres_lie_inside():
    square = mt.polygon((32, 32), [(4.5, 4.5), (4.5, 14.5), (14.5, 14.5), (14.5, 4.5)])
    rows, cols = np.nonzero(square)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (5, 14, 5, 14)
    assert square.sum() == 100
    triangle = mt.polygon((64, 64), [(0.5, 0.5), (0.5, 40.5), (40.5, 0.5)])
    assert abs(int(triangle.sum()) - 800) <= 45  # half of 40 × 40, give or take the diagonal
    assert not mt.polygon((8, 8), [(1, 1), (5, 5)]).any()


def test_value_range_islands_and_holes():
    values = np.arange(16, dtype=float).reshape(4, 4)
    assert mt.in_range(values, 10, 5).sum() == 6  # the ends in either order, both included
    mask = _disc((20, 20), 8) | _disc((50, 50), 3)
    mask[50, 10] = True
    assert np.array_equal(mt.largest_island(mask), _disc((20, 20), 8))
    assert np.array_equal(mt.island_at(mask, (49.6, 50.4)), _disc((50, 50), 3))
    assert not mt.island_at(mask, (0, 0)).any()
    assert np.array_equal(mt.small_islands(mask, 30), mask & ~_disc((20, 20), 8))
    ring = _disc((30, 30), 10) & ~_disc((30, 30), 4)
    ring[0, :] = True  # a line along the edge encloses nothing
    assert np.array_equal(mt.holes(ring), _disc((30, 30), 4))
    assert not mt.largest_island(np.zeros((4, 4), bool)).any()


def test_signed_distance_is_negative_inside_and_grows_outside():
    d = mt.signed_distance(_disc((32, 32), 10))
    assert d[32, 32] == pytest.approx(-np.hypot(1, 10), abs=0.01)  # nearest outside: (33, 42)
    assert d[32, 52] == pytest.approx(10, abs=0.01)  # 10 px right of the edge pixel at col 42
    assert (mt.signed_distance(np.zeros((5, 5), bool)) > 0).all()


def test_interpolating_two_discs_gives_the_disc_between():
    small, big = _disc((32, 32), 6), _disc((32, 32), 14)
    half = mt.interpolate(small.astype(np.uint8), big.astype(np.uint8), 0.5)
    expected = _disc((32, 32), 10)
    assert (half.astype(bool) ^ expected).sum() <= 0.05 * expected.sum()
    moved = mt.interpolate(_disc((32, 24), 8).astype(np.uint8),
                           _disc((32, 40), 8).astype(np.uint8), 0.5)  # overlapping discs
    rows, cols = np.nonzero(moved)
    assert abs(cols.mean() - 32) < 0.5 and abs(rows.mean() - 32) < 0.5
    a, b = small.astype(np.uint8), big.astype(np.uint8) * 2
    assert np.array_equal(mt.interpolate(a, a, 0.3), a)  # a shape between itself and itself
    b[_disc((10, 10), 5)] = 1  # segment 1 only at b's corner, segment 2 only in b
    two = mt.interpolate(a + b, b, 0.5)  # 2 on both sides, 1 at b's corner on both sides
    assert np.array_equal(two == 2, b == 2) and np.array_equal(two == 1, _disc((10, 10), 5))
    assert not (mt.interpolate(a, b, 0.5) == 2).any()  # 2 on one side only is not carried


def test_a_traced_lasso_fills_on_release_and_a_clicked_one_on_close():
    edit = MaskEdit(np.zeros((32, 32), np.uint8), segment=2)
    edit.lasso_press((5, 5))
    for rc in ((5, 20), (20, 20), (20, 5)):
        edit.lasso_drag(rc)
    assert edit.lasso_release() and edit.lasso is None
    assert (edit.labels == 2).sum() == 15 * 16  # rows 5–19 (half-open), columns 5–20
    edit.segment = 1
    for rc in ((10, 10), (10, 30), (30, 30)):
        edit.lasso_press(rc, erase=False)
        assert not edit.lasso_release()  # clicks: the polygon waits for more corners
    assert not edit.undo()  # no undo while a lasso is drawn
    assert edit.close_lasso() and (edit.labels == 1).any()
    assert edit.undo() and not (edit.labels == 1).any()
    edit.lasso_press((0, 0), erase=True)
    for rc in ((0, 31), (31, 31), (31, 0)):
        edit.lasso_drag(rc)
    assert edit.lasso_release() and not edit.labels.any()


def test_the_limit_keeps_brush_and_fill_inside_and_apply_is_one_undo_step():
    limit = np.zeros((16, 16), bool)
    limit[:, :8] = True
    edit = MaskEdit(np.zeros((16, 16), np.uint8), radius=20)
    edit.limit = limit
    edit.press((8, 8))
    edit.release()
    assert np.array_equal(edit.labels == 1, limit)
    full = np.full((16, 16), 3, np.uint8)
    assert edit.apply(full) and not edit.apply(full)
    assert edit.undo() and np.array_equal(edit.labels == 1, limit)
    with pytest.raises(ValueError):
        edit.apply(np.zeros((4, 4), np.uint8))


def test_a_click_with_the_lasso_adds_a_corner_even_if_the_pointer_jitters(tmp_path):
    write_series(tmp_path / "ct", n=1, size=32, spacing=0.5)
    calls = []
    painter = SimpleNamespace(press=lambda frame, rc, tool: calls.append(("press", tool)),
                              drag=lambda rc: calls.append(("drag",)),
                              release=lambda: calls.append(("release",)))
    model = ViewModel()
    model.set_canvas(200, 100)
    model.set_series(load_series(tmp_path / "ct"))
    model.painter, model.tool = painter, LASSO
    g = Gestures(model)
    g.press(LEFT, (100, 100))
    g.move((102, 101))  # jitter within the drag threshold: no traced point
    g.release((102, 101))
    assert calls == [("press", LASSO), ("release",)]
    g.press(LEFT, (100, 100))
    g.move((130, 100))  # a real drag traces
    assert calls[-1] == ("drag",)
