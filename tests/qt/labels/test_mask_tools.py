"""The mask tools in the viewer, driven by real mouse and key events on real CT slices
(pydicom's CT_small.dcm): lasso fill and erase, a HU range, islands and holes, segment
visibility and opacity, copying to the next slice and interpolating between slices, and an
AI segmentation accepted as the label, corrected and read back from its DICOM SEG; no two
actions share a key while a project is open."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction

from medview.labels.project import Project
from medview.labels.seg import read_seg
from medview.labels.store import LabelStore
from medview.view import mask_tools as mt
from medview.view.mask_edit import LASSO, LASSO_ERASER
from tests.helpers.datafiles import find
from tests.helpers.qt import grab_array, main_window, make_ct_series, wait_shown
from tests.helpers.qt_analysis import analyze, image_point, select_model
from tests.qt.labels.test_labelling import _open

SHIFT, CTRL, ALT = (Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.ControlModifier,
                    Qt.KeyboardModifier.AltModifier)
LEFT = Qt.MouseButton.LeftButton


def _project(tmp_path, slices: int = 1, names=("lesion", "vessel")) -> Project:
    """A segmentation project over CT_small (``slices`` > 1: a series of copies of it)."""
    studies = tmp_path / "ct"
    if slices == 1:
        studies.mkdir()
        shutil.copy(find("CT_small.dcm"), studies / "ct.dcm")
    else:
        make_ct_series(studies, slices, find("CT_small.dcm"))
    return Project.create(tmp_path / "seg.mvlabels.json", "segmentation", list(names),
                          [studies], tmp_path / "labels")


def _saved(project: Project, name: str | None = None) -> np.ndarray:
    """The saved mask (of the image file ``name`` when the project has several)."""
    (label,) = [lab for lab in LabelStore(project.label_dir).labels.values()
                if name is None or Path(lab.path).name == name]
    return read_seg(project.label_dir / label.mask).labels


def _at(vp, rc) -> QPoint:
    p = vp.model.rc_to_widget(rc)
    return QPoint(round(p[0]), round(p[1]))


def _click(qtbot, vp, rc) -> tuple[float, float]:
    """A left click at image point ``rc``; returns where it really landed."""
    at = _at(vp, rc)
    qtbot.mouseClick(vp, LEFT, pos=at)
    return vp.model.widget_to_rc((at.x(), at.y()))


def _trace(qtbot, vp, points) -> list[tuple[float, float]]:
    """Press at the first image point, drag through the others, release at the last;
    returns where the pointer really was."""
    at = [_at(vp, rc) for rc in points]
    qtbot.mousePress(vp, LEFT, pos=at[0])
    for p in at[1:]:
        qtbot.mouseMove(vp, p)
    qtbot.mouseRelease(vp, LEFT, pos=at[-1])
    return [vp.model.widget_to_rc((p.x(), p.y())) for p in at]


def _ring(centre, radius, n=24):
    return [(centre[0] + radius * np.sin(a), centre[1] + radius * np.cos(a))
            for a in np.linspace(0, 2 * np.pi, n, endpoint=False)]


def test_lasso_traced_and_clicked_fills_and_erases_with_undo(qtbot, settings, tmp_path):
    project = _project(tmp_path)
    with main_window(qtbot, settings) as win:
        ctl = _open(qtbot, win, project)
        vp = win.grid.active
        owners: dict[str, set] = {}
        for act in win.findChildren(QAction):
            for key in act.shortcuts():
                owners.setdefault(key.toString(), set()).add(act)
        clashes = {k: [a.text() for a in acts] for k, acts in owners.items() if len(acts) > 1}
        assert not clashes  # every key of the open project does one thing
        assert {"Shift+L", "Shift+K", "Shift+I", "Shift+G", "Shift+R", "Shift+H", "Shift+T",
                "Alt+Down", "Alt+Up", "Shift+F", "Shift+A"} <= owners.keys()
        qtbot.keyClick(vp, Qt.Key.Key_L, SHIFT)
        assert vp.model.tool == LASSO
        traced = _trace(qtbot, vp, _ring((64, 64), 30) + [(64 + 30 * np.sin(0.1), 94)])
        expected = mt.polygon((128, 128), traced)
        assert 2600 < expected.sum() < 2900  # about π 30²
        assert np.array_equal(_saved(project) == 1, expected)

        # clicked corners of a triangle, erasing, closed with Enter
        qtbot.keyClick(vp, Qt.Key.Key_K, SHIFT)
        assert vp.model.tool == LASSO_ERASER
        corners = [_click(qtbot, vp, rc) for rc in ((40, 40), (40, 90), (90, 40))]
        assert ctl.model.edit.lasso == corners and np.array_equal(_saved(project) == 1, expected)
        assert vp.model.layers_shown()  # the outline being clicked is drawn
        qtbot.keyClick(vp, Qt.Key.Key_Return)
        erased = expected & ~mt.polygon((128, 128), corners)
        assert np.array_equal(_saved(project) == 1, erased)

        # a double click closes a clicked polygon too; Escape drops one
        qtbot.keyClick(vp, Qt.Key.Key_2)  # the segment "vessel"
        qtbot.keyClick(vp, Qt.Key.Key_L, SHIFT)
        corners = [_click(qtbot, vp, rc) for rc in ((10, 10), (10, 30), (30, 30))]
        # a real double click: its first click placed the last corner (QTest sends the
        # double-click event alone)
        qtbot.mouseDClick(vp, LEFT, pos=_at(vp, (30, 30)))
        assert ctl.model.edit.lasso is None
        assert np.array_equal(_saved(project) == 2, mt.polygon((128, 128), corners))
        _click(qtbot, vp, (100, 100))
        _click(qtbot, vp, (100, 120))
        qtbot.keyClick(vp, Qt.Key.Key_Escape)
        assert ctl.model.edit.lasso is None

        qtbot.keyClick(vp, Qt.Key.Key_Z, CTRL)  # each closed lasso is one undo step
        assert np.array_equal(_saved(project), erased.astype(np.uint8))
        qtbot.keyClick(vp, Qt.Key.Key_Z, CTRL)
        assert np.array_equal(_saved(project) == 1, expected)


def test_a_hu_range_fills_the_image_or_limits_the_brush(qtbot, settings, tmp_path):
    project = _project(tmp_path)
    with main_window(qtbot, settings) as win:
        ctl = _open(qtbot, win, project)
        vp = win.grid.active
        box = ctl.panel.tools
        assert box.low.suffix() == " HU" and "HU" in box.range_box.title()
        hu = vp.model.frame.modality_values()
        box.low.setValue(100.0)
        box.high.setValue(1200.0)
        qtbot.keyClick(vp, Qt.Key.Key_T, SHIFT)  # Fill Value Range
        bone = (hu >= 100) & (hu <= 1200)
        assert 0 < bone.sum() < hu.size // 2
        assert np.array_equal(_saved(project) == 1, bone)
        assert f"{int(bone.sum())} pixels within 100–1200 HU" in ctl.panel.message.text()

        # segment 2 with the brush kept to soft tissue (-100..300 HU)
        qtbot.keyClick(vp, Qt.Key.Key_2)
        box.low.setValue(-100.0)
        box.high.setValue(300.0)
        qtbot.mouseClick(box.limit, LEFT)
        assert ctl.model.limit_to_range
        qtbot.keyClick(vp, Qt.Key.Key_B, SHIFT)
        ctl.panel.radius.setValue(20.0)
        rc = _click(qtbot, vp, (64, 64))
        rows, cols = np.mgrid[:128, :128]
        disc = (rows - rc[0]) ** 2 + (cols - rc[1]) ** 2 <= 400
        soft = (hu >= -100) & (hu <= 300)
        saved = _saved(project)
        assert np.array_equal(saved == 2, disc & soft) and (disc & ~soft).any()
        assert np.array_equal(saved == 1, bone & ~(disc & soft))


def test_islands_holes_and_segment_display(qtbot, settings, tmp_path):
    project = _project(tmp_path)
    with main_window(qtbot, settings) as win:
        ctl = _open(qtbot, win, project)
        vp = win.grid.active
        qtbot.keyClick(vp, Qt.Key.Key_B, SHIFT)
        ctl.panel.radius.setValue(20.0)
        big = _click(qtbot, vp, (60, 60))
        ctl.panel.radius.setValue(3.0)
        small = _click(qtbot, vp, (110, 110))
        tiny = _click(qtbot, vp, (10, 110))
        qtbot.keyClick(vp, Qt.Key.Key_E, SHIFT)
        ctl.panel.radius.setValue(4.0)
        _click(qtbot, vp, big)  # a hole in the big disc
        before = _saved(project) == 1

        qtbot.keyClick(vp, Qt.Key.Key_H, SHIFT)  # fill holes
        filled = _saved(project) == 1
        assert np.array_equal(filled, before | mt.holes(before)) and filled.sum() > before.sum()

        qtbot.keyClick(vp, Qt.Key.Key_I, SHIFT)  # remove the island clicked
        _click(qtbot, vp, tiny)
        assert np.array_equal(_saved(project) == 1, filled & ~mt.island_at(filled, tiny))

        ctl.panel.tools.min_island.setValue(30)
        qtbot.mouseClick(next(b for b in ctl.panel.tools.findChildren(type(ctl.panel.next_button))
                              if b.text() == "Remove smaller than"), LEFT)
        left = _saved(project) == 1
        assert not mt.island_at(left, small).any() and left[round(big[0]), round(big[1])]
        assert np.array_equal(left, mt.largest_island(filled))

        # a second segment: keep largest keeps only its own largest island
        qtbot.keyClick(vp, Qt.Key.Key_2)
        qtbot.keyClick(vp, Qt.Key.Key_B, SHIFT)
        ctl.panel.radius.setValue(5.0)
        _click(qtbot, vp, (110, 20))
        ctl.panel.radius.setValue(2.0)
        _click(qtbot, vp, (110, 60))
        qtbot.keyClick(vp, Qt.Key.Key_G, SHIFT)
        saved = _saved(project)
        assert mt.islands(saved == 2)[1].size == 2 and np.array_equal(saved == 1, left)
        qtbot.keyClick(vp, Qt.Key.Key_Z, CTRL)
        assert mt.islands(_saved(project) == 2)[1].size == 3

        # display: segment 1 hidden, then fully opaque (the saved mask does not change)
        vp.repaint()
        x, y = image_point(vp, (round(big[0]), round(big[1])))
        shown = grab_array(vp)[y, x].astype(int)
        box = ctl.panel.tools
        qtbot.mouseClick(box.visible[0], LEFT, pos=QPoint(5, box.visible[0].height() // 2))
        assert 1 in ctl.model.hidden
        vp.repaint()
        hidden = grab_array(vp)[y, x].astype(int)
        assert np.abs(hidden - shown).sum() > 30
        qtbot.mouseClick(box.visible[0], LEFT, pos=QPoint(5, box.visible[0].height() // 2))
        box.opacity[0].setValue(100)
        vp.repaint()
        opaque = grab_array(vp)[y, x].astype(int)
        colour = np.array([int(project.segments[0].colour[i:i + 2], 16) for i in (1, 3, 5)])
        assert np.abs(opaque - colour).max() <= 3
        assert np.abs(shown - colour).max() > 20  # half opaque before
        assert np.array_equal(_saved(project) == 1, left)


def test_copy_to_the_next_slice_and_interpolate_between_slices(qtbot, settings, tmp_path):
    project = _project(tmp_path, slices=5)
    with main_window(qtbot, settings) as win:
        win.hanging_action.setChecked(False)  # the five slices as one stack, not MPR
        ctl = _open(qtbot, win, project)
        vp = win.grid.active
        assert vp.model.count == 5 and vp.model.index == 0
        names = [Path(f.path).name for f in vp.model.frames]  # in the order shown
        qtbot.keyClick(vp, Qt.Key.Key_B, SHIFT)
        ctl.panel.radius.setValue(8.0)
        _click(qtbot, vp, (64, 64))
        first = _saved(project)
        qtbot.keyClick(vp, Qt.Key.Key_Down, ALT)  # copy to the next slice, which is shown
        assert vp.model.index == 1
        assert np.array_equal(_saved(project, names[1]), first)

        qtbot.keyClick(vp, Qt.Key.Key_End)
        wait_shown(qtbot, vp)
        assert vp.model.index == 4
        ctl.panel.radius.setValue(20.0)
        _click(qtbot, vp, (64, 64))
        last = _saved(project, names[4])
        qtbot.keyClick(vp, Qt.Key.Key_F, SHIFT)  # interpolate
        for i, t in ((2, 1 / 3), (3, 2 / 3)):
            between = _saved(project, names[i])
            assert np.array_equal(between, mt.interpolate(first, last, t))
        areas = [int((_saved(project, names[i]) > 0).sum()) for i in range(1, 5)]
        assert areas == sorted(areas) and areas[0] < areas[1] < areas[2] < areas[3]

        # the interpolated slice's own undo takes it back
        vp.model.set_index(2)
        wait_shown(qtbot, vp)
        qtbot.keyClick(vp, Qt.Key.Key_Z, CTRL)
        assert not _saved(project, names[2]).any()


@pytest.mark.usefixtures("installed")
def test_an_ai_mask_accepted_corrected_and_read_back_from_seg(qtbot, settings, tmp_path):
    project = _project(tmp_path, names=("prostate", "other"))
    with main_window(qtbot, settings) as win:
        ctl = _open(qtbot, win, project)
        vp = win.grid.active
        qtbot.keyClick(vp, Qt.Key.Key_A, SHIFT)  # nothing analysed yet: it says so
        assert "No AI segmentation" in ctl.panel.message.text()
        panel = win.analysis
        select_model(panel, "prostate-demo")
        _, analysis = analyze(qtbot, panel)
        ai = analysis.result.mask
        assert ai.shape == (128, 128) and 0 < ai.sum() < ai.size
        qtbot.keyClick(vp, Qt.Key.Key_A, SHIFT)
        assert np.array_equal(_saved(project), ai)  # "prostate" is segment 1 of the project
        assert "prostate → prostate" in ctl.panel.message.text()

        # correct it: erase a band across the middle, then add a disc of segment 2
        qtbot.keyClick(vp, Qt.Key.Key_E, SHIFT)
        ctl.panel.radius.setValue(4.0)
        _trace(qtbot, vp, [(64, 0), (64, 127)])
        qtbot.keyClick(vp, Qt.Key.Key_2)
        qtbot.keyClick(vp, Qt.Key.Key_B, SHIFT)
        _click(qtbot, vp, (20, 20))
        edited = ctl.model.edit.labels.copy()
        assert (edited != ai).any() and (edited == 2).any()
        assert np.array_equal(_saved(project), edited)
        qtbot.keyClick(vp, Qt.Key.Key_Z, CTRL)
        qtbot.keyClick(vp, Qt.Key.Key_Z, CTRL)
        qtbot.keyClick(vp, Qt.Key.Key_Z, CTRL)
        assert np.array_equal(_saved(project), np.zeros_like(ai))  # accept was one step too
