"""Make ``docs/screenshot_labelling.png`` (the Labels panel on a demo radiograph after three
images were labelled by keys, a three-class project over the demo classification images),
``docs/screenshot_mask_painting.png`` (a brush stroke and a disc painted on pydicom's
CT_small slice in a two-segment project), and at 1366×768 ``docs/screenshot_mask_tools.png``
(bone filled by a HU range, a hole filled, an island removed, a lasso polygon being
clicked) and ``docs/screenshot_mask_interpolated.png`` (a slice interpolated between two
labelled slices of a five-slice series; the panel scrolled to its slice tools and the
segments' visibility and opacity) and ``docs/screenshot_mask_ai.png`` (the tests'
random-weight segmenter's mask accepted as the label and corrected with the eraser; its
output means nothing). Run::

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.qt.labels.screenshot_labelling [DIR]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from tests.helpers.paths import ROOT


def _wait(app, cond, timeout: float = 120.0) -> None:
    end = time.time() + timeout
    while not cond():
        if time.time() > end:
            raise TimeoutError("gave up waiting")
        app.processEvents()
        time.sleep(0.01)


def classification(app, out: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from medview.demo.demo_data import write_demo_data
    from medview.labels.project import Project
    from medview.qt.main_window import MainWindow
    from medview.qt.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_demo_data(tmp / "demo", n=6, size=256, seed=2)
        project = Project.create(tmp / "chest.mvlabels.json", "classification",
                                 ["normal", "lesion", "unsure"], [tmp / "demo" / "classification"],
                                 tmp / "labels")
        win = MainWindow(settings=Settings(tmp / "medview.ini"))
        win.resize(1400, 850)
        win.show()
        win.labelling.open_project(project.path)
        model = win.labelling.model
        _wait(app, lambda: model.current is not None and not win.is_loading)
        for key in (Qt.Key.Key_2, Qt.Key.Key_1, Qt.Key.Key_1):
            QTest.keyClick(win.grid.active, key)
            _wait(app, lambda: not win.workers.busy)
        _wait(app, lambda: win.grid.active.model.frame is not None
              and win.grid.active.model.frame.is_decoded)
        QTest.qWait(1000)
        win.grab().save(str(out))
        win.close()
        win.workers.pool.waitForDone(5000)


def painting(app, out: Path) -> None:
    import shutil

    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from medview.labels.project import Project
    from medview.qt.main_window import MainWindow
    from medview.qt.settings import Settings
    from tests.helpers.datafiles import find

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "ct").mkdir()
        shutil.copy(find("CT_small.dcm"), tmp / "ct" / "ct.dcm")
        project = Project.create(tmp / "seg.mvlabels.json", "segmentation", ["lesion", "vessel"],
                                 [tmp / "ct"], tmp / "labels")
        win = MainWindow(settings=Settings(tmp / "medview.ini"))
        win.resize(1400, 850)
        win.show()
        win.labelling.open_project(project.path)
        vp = win.grid.active
        _wait(app, lambda: win.labelling.model.edit is not None and vp.model.frame.is_decoded)
        QTest.keyClick(vp, Qt.Key.Key_B, Qt.KeyboardModifier.ShiftModifier)
        win.labelling.panel.radius.setValue(6)
        centre = vp.model.rc_to_widget((60.0, 50.0))
        at = QPoint(round(centre[0]), round(centre[1]))
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, pos=at)
        for k in range(1, 20):
            QTest.mouseMove(vp, at + QPoint(8 * k, 3 * k))
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=at + QPoint(160, 60))
        QTest.keyClick(vp, Qt.Key.Key_2)
        QTest.mouseClick(vp, Qt.MouseButton.LeftButton, pos=at + QPoint(-150, 200))
        QTest.qWait(800)
        win.grab().save(str(out))
        win.close()
        win.workers.pool.waitForDone(5000)


def _segmentation_window(app, tmp: Path, slices: int = 1, names=("bone", "lesion")):
    """A 1366×768 window with a two-segment project over CT_small (or a series of it)."""
    import shutil

    from medview.labels.project import Project
    from medview.qt.main_window import MainWindow
    from medview.qt.settings import Settings
    from tests.helpers.datafiles import find
    from tests.helpers.qt import make_ct_series

    if slices == 1:
        (tmp / "ct").mkdir()
        shutil.copy(find("CT_small.dcm"), tmp / "ct" / "ct.dcm")
    else:
        make_ct_series(tmp / "ct", slices, find("CT_small.dcm"))
    project = Project.create(tmp / "seg.mvlabels.json", "segmentation", list(names),
                             [tmp / "ct"], tmp / "labels")
    win = MainWindow(settings=Settings(tmp / "medview.ini"))
    win.hanging_action.setChecked(False)
    win.resize(1366, 768)
    win.show()
    win.labelling.open_project(project.path)
    vp = win.grid.active
    _wait(app, lambda: win.labelling.model.edit is not None and vp.model.frame.is_decoded)
    return win, vp


def _point(vp, rc):
    from PySide6.QtCore import QPoint

    p = vp.model.rc_to_widget(rc)
    return QPoint(round(p[0]), round(p[1]))


def mask_tools(app, out: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    shift = Qt.KeyboardModifier.ShiftModifier
    left = Qt.MouseButton.LeftButton
    with tempfile.TemporaryDirectory() as tmp:
        win, vp = _segmentation_window(app, Path(tmp))
        box = win.labelling.panel.tools
        box.low.setValue(150.0)
        box.high.setValue(1500.0)
        QTest.keyClick(vp, Qt.Key.Key_T, shift)           # bone by its HU range
        QTest.keyClick(vp, Qt.Key.Key_H, shift)           # its holes filled
        QTest.keyClick(vp, Qt.Key.Key_2)
        QTest.keyClick(vp, Qt.Key.Key_L, shift)
        for rc in ((40, 30), (36, 62), (58, 78), (80, 58), (72, 34)):  # a polygon, clicked
            QTest.mouseClick(vp, left, pos=_point(vp, rc))
        QTest.qWait(800)
        win.grab().save(str(out))
        win.close()
        win.workers.pool.waitForDone(5000)


def mask_interpolated(app, out: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    shift = Qt.KeyboardModifier.ShiftModifier
    with tempfile.TemporaryDirectory() as tmp:
        win, vp = _segmentation_window(app, Path(tmp), slices=5)
        QTest.keyClick(vp, Qt.Key.Key_2)
        QTest.keyClick(vp, Qt.Key.Key_L, shift)
        for rc in ((50, 50), (50, 70), (70, 70)):        # a small triangle on the first slice
            QTest.mouseClick(vp, Qt.MouseButton.LeftButton, pos=_point(vp, rc))
        QTest.keyClick(vp, Qt.Key.Key_Return)
        QTest.keyClick(vp, Qt.Key.Key_End)
        _wait(app, lambda: vp.model.frame.is_decoded)
        QTest.keyClick(vp, Qt.Key.Key_B, shift)
        win.labelling.panel.radius.setValue(22)
        QTest.mouseClick(vp, Qt.MouseButton.LeftButton, pos=_point(vp, (64, 64)))
        QTest.keyClick(vp, Qt.Key.Key_F, shift)           # interpolate slices 2-4
        vp.model.set_index(2)
        _wait(app, lambda: vp.model.frame.is_decoded)
        bar = win.labelling.dock.widget().verticalScrollBar()  # the panel's lower half
        bar.setValue(bar.maximum())
        QTest.qWait(800)
        win.grab().save(str(out))
        win.close()
        win.workers.pool.waitForDone(5000)


def mask_ai(app, out: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from tests.helpers.builders import SEGMENTER, write_model

    shift = Qt.KeyboardModifier.ShiftModifier
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["MEDVIEW_USER_DIR"] = str(tmp / "user")
        os.environ["MEDVIEW_MODELS_DIR"] = str(tmp / "shipped")
        os.environ.setdefault("XDG_CACHE_HOME", str(tmp / "cache"))
        write_model(tmp / "shipped" / "prostate-demo", SEGMENTER)
        win, vp = _segmentation_window(app, tmp, names=("prostate", "lesion"))
        panel = win.analysis
        if not panel.picker.select("prostate-demo"):
            panel.refresh_models()
            panel.picker.select("prostate-demo")
        QTest.mouseClick(panel.analyze_button, Qt.MouseButton.LeftButton)
        _wait(app, lambda: panel.result_for(vp.model.frame) is not None)
        QTest.keyClick(vp, Qt.Key.Key_A, shift)             # accept the AI mask
        panel.overlay_check.setChecked(False)               # the label alone
        win.labelling.dock.raise_()
        QTest.keyClick(vp, Qt.Key.Key_E, shift)             # correct: erase a band across it
        win.labelling.panel.radius.setValue(6)
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, pos=_point(vp, (30, 2)))
        for c in range(10, 80, 10):
            QTest.mouseMove(vp, _point(vp, (30, c)))
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=_point(vp, (30, 80)))
        QTest.qWait(800)
        win.grab().save(str(out))
        win.close()
        win.analysis.service.pool.waitForDone(10000)
        win.workers.pool.waitForDone(5000)


if __name__ == "__main__":  # the decoder pool's processes re-import this module
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    qapp = QApplication.instance() or QApplication([])
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs"
    classification(qapp, folder / "screenshot_labelling.png")
    painting(qapp, folder / "screenshot_mask_painting.png")
    mask_tools(qapp, folder / "screenshot_mask_tools.png")
    mask_interpolated(qapp, folder / "screenshot_mask_interpolated.png")
    mask_ai(qapp, folder / "screenshot_mask_ai.png")
