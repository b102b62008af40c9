"""Painting a mask in the viewer with real mouse events on a real CT slice: a brush disc of
known radius is saved as a DICOM SEG referencing the slice; undo and redo save again; the
eraser clears."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from PySide6.QtCore import QPoint, Qt

from medview.labels.project import Project
from medview.labels.seg import read_seg
from medview.labels.store import LabelStore
from medview.view.mask_edit import BRUSH
from tests.helpers.qt import main_window
from tests.helpers.datafiles import find
from tests.qt.labels.test_labelling import _open

RADIUS = 10.0


@pytest.fixture
def ct_project(tmp_path) -> Project:
    studies = tmp_path / "ct"
    studies.mkdir()
    shutil.copy(find("CT_small.dcm"), studies / "ct.dcm")
    return Project.create(tmp_path / "seg.mvlabels.json", "segmentation", ["lesion", "vessel"],
                          [studies], tmp_path / "labels")


def _disc(rc: tuple[float, float], shape=(128, 128)) -> np.ndarray:
    """Pixels whose centre lies within RADIUS of ``rc`` (row, col)."""
    rows, cols = np.mgrid[:shape[0], :shape[1]]
    return (rows - rc[0]) ** 2 + (cols - rc[1]) ** 2 <= RADIUS ** 2


def _saved(project: Project) -> np.ndarray:
    (label,) = LabelStore(project.label_dir).labels.values()
    return read_seg(project.label_dir / label.mask).labels


def test_a_brush_click_saves_a_disc_as_seg_and_undo_redo_and_eraser_save_again(
        qtbot, settings, ct_project):
    with main_window(qtbot, settings) as win:
        ctl = _open(qtbot, win, ct_project)
        vp = win.grid.active
        assert ctl.panel.paint_box.isVisible() and ctl.brush.isEnabled()
        qtbot.keyClick(vp, Qt.Key.Key_2)  # the brush paints segment 2, "vessel"
        qtbot.keyClick(vp, Qt.Key.Key_B, Qt.KeyboardModifier.ShiftModifier)
        assert vp.model.tool == BRUSH
        ctl.panel.radius.setValue(RADIUS)
        centre = vp.model.rc_to_widget((64.0, 40.0))
        at = QPoint(round(centre[0]), round(centre[1]))
        rc = vp.model.widget_to_rc((at.x(), at.y()))  # where the click really lands
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=at)
        disc = _disc(rc)
        assert 300 <= disc.sum() <= 330  # about π r² pixels
        saved = _saved(ct_project)
        assert np.array_equal(saved == 2, disc) and not (saved == 1).any()
        seg = pydicom.dcmread(ct_project.label_dir / next(iter(
            LabelStore(ct_project.label_dir).labels.values())).mask)
        source = pydicom.dcmread(find("CT_small.dcm"), stop_before_pixels=True)
        assert seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0] \
            .ReferencedSOPInstanceUID == source.SOPInstanceUID
        assert vp.model.layers_shown()  # the mask is drawn over the slice

        qtbot.keyClick(vp, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert not _saved(ct_project).any()
        qtbot.keyClick(vp, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
        assert np.array_equal(_saved(ct_project) == 2, disc)

        # a thin eraser stroke dragged across the disc's centre row
        qtbot.keyClick(vp, Qt.Key.Key_E, Qt.KeyboardModifier.ShiftModifier)
        ctl.panel.radius.setValue(3.0)
        qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=at - QPoint(60, 0))
        qtbot.mouseMove(vp, at + QPoint(60, 0))
        qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=at + QPoint(60, 0))
        left = _saved(ct_project) == 2
        band = np.abs(np.arange(128) - rc[0]) <= 3.0  # rows within the eraser's radius
        assert np.array_equal(left, disc & ~band[:, None])
        assert "1/1 labelled (lesion 0, vessel 1)" in ctl.panel.counts.text()
        ctl.close_project()
        assert vp.model.tool != BRUSH and vp.model.painter is None
