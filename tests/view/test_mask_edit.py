"""Painting a mask without Qt: discs and dragged strokes, eraser, undo and redo."""

from __future__ import annotations

import numpy as np

from medview.view.mask_edit import MAX_UNDO, MaskEdit


def _within(rc, radius, shape=(64, 64)) -> np.ndarray:
    rows, cols = np.mgrid[:shape[0], :shape[1]]
    return (rows - rc[0]) ** 2 + (cols - rc[1]) ** 2 <= radius ** 2


def test_a_click_paints_the_pixels_whose_centres_lie_within_the_radius():
    edit = MaskEdit(np.zeros((64, 64), np.uint8), segment=3, radius=4.5)
    edit.press((20.2, 30.7))
    assert edit.release()
    assert np.array_equal(edit.labels == 3, _within((20.2, 30.7), 4.5))


def test_a_dragged_stroke_is_a_capsule_and_the_eraser_clears_it():
    edit = MaskEdit(np.zeros((64, 64), np.uint8), radius=2.0)
    edit.press((10, 5))
    edit.drag((10, 40))
    edit.release()
    rows, cols = np.nonzero(edit.labels)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (8, 12, 3, 42)
    edit.press((10, 20), erase=True)
    edit.drag((10, 60))
    edit.release()
    assert edit.labels[:, 20:].sum() == 0 and edit.labels[9:12, 5:18].all()


def test_undo_and_redo_step_through_strokes_and_a_new_stroke_drops_the_redo():
    edit = MaskEdit(np.zeros((32, 32), np.uint8), radius=3)
    for rc in ((5, 5), (20, 20)):
        edit.press(rc)
        edit.release()
    both = edit.labels.copy()
    assert edit.undo() and edit.labels[20, 20] == 0 and edit.labels[5, 5] == 1
    assert edit.redo() and np.array_equal(edit.labels, both)
    assert edit.undo() and edit.undo() and not edit.labels.any() and not edit.undo()
    edit.press((10, 10))
    edit.release()
    assert not edit.can_redo
    edit.press((10, 10))  # paints nothing new: no undo step
    assert not edit.release()


def test_only_the_last_undo_steps_are_kept():
    edit = MaskEdit(np.zeros((8, 8 * (MAX_UNDO + 5)), np.uint8), radius=0.5)
    for i in range(MAX_UNDO + 5):
        edit.press((4, 8 * i + 4))
        edit.release()
    steps = 0
    while edit.undo():
        steps += 1
    assert steps == MAX_UNDO and edit.labels.sum() == 5
