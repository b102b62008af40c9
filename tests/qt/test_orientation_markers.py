"""The viewport draws the orientation letters its model computes, and redraws them after a flip."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from medview.view.corners import view_corner_text
from medview.view.orientation import Markers
from tests.helpers.datafiles import PYDICOM_DATA_DIR
from tests.helpers.qt import grab_array, wait_loaded, wait_shown

EDGES = ("left", "right", "top", "bottom")


def _edge_patch(a: np.ndarray, edge: str) -> np.ndarray:
    """The middle of one edge of a grab, where its orientation letter goes."""
    h, w = a.shape[:2]
    band_x, band_y = slice(w // 2 - 30, w // 2 + 30), slice(h // 2 - 30, h // 2 + 30)
    return {"left": a[band_y, 2:60], "right": a[band_y, w - 60:w - 2],
            "top": a[2:50, band_x], "bottom": a[h - 50:h - 2, band_x]}[edge].astype(int)


def _letters(window, vp) -> dict[str, np.ndarray]:
    """Per edge, the pixels the markers change (overlays on vs off, same image)."""
    vp.repaint()
    shown = grab_array(vp)
    window.viewer_actions.overlays.setChecked(False)
    vp.repaint()
    hidden = grab_array(vp)
    window.viewer_actions.overlays.setChecked(True)
    return {e: np.abs(_edge_patch(shown, e) - _edge_patch(hidden, e)).max(axis=2) > 60
            for e in EDGES}


def test_a_radiograph_shows_its_sides_and_they_follow_a_flip(qtbot, window, tmp_path):
    if PYDICOM_DATA_DIR is None:
        pytest.skip("pydicom-data is not installed")
    # a CR with Patient Orientation R\F and Image Laterality R
    shutil.copy(PYDICOM_DATA_DIR / "RG3_UNCR.dcm", tmp_path / "cr.dcm")
    window.open_paths([str(tmp_path / "cr.dcm")])
    wait_loaded(qtbot, window)
    vp = window.grid.active
    wait_shown(qtbot, vp)
    m = vp.model
    assert m.orientation_markers() == Markers(left="L", right="R", top="H", bottom="F")
    assert "Laterality R (right)" in view_corner_text(m).top_right

    before = _letters(window, vp)
    assert all(before[e].sum() > 15 for e in EDGES), {e: int(before[e].sum()) for e in EDGES}
    vp.grab().save(str(tmp_path / "orient.png"))  # to look at when this test fails

    window.viewer_actions.flip_h.trigger()
    assert m.orientation_markers() == Markers(left="R", right="L", top="H", bottom="F")
    after = _letters(window, vp)
    vp.grab().save(str(tmp_path / "orient_flipped.png"))
    # the right edge now says L where it said R; top and bottom are unchanged
    assert after["right"].sum() > 15 and not np.array_equal(after["right"], before["right"])
    assert after["left"].sum() > 15 and not np.array_equal(after["left"], before["left"])
    assert np.array_equal(after["top"], before["top"])
    assert np.array_equal(after["bottom"], before["bottom"])


def test_an_image_without_orientation_draws_no_letters(qtbot, window, mr_file):
    window.open_paths([str(mr_file)])  # neither Image nor Patient Orientation
    wait_loaded(qtbot, window)
    vp = window.grid.active
    wait_shown(qtbot, vp)
    assert vp.model.orientation_markers() is None
    letters = _letters(window, vp)
    assert letters["right"].sum() == 0 and letters["left"].sum() == 0
