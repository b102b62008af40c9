"""Make ``docs/screenshot_labelling.png`` (the Labels panel on a demo radiograph after three
images were labelled by keys, a three-class project over the demo classification images)
and ``docs/screenshot_mask_painting.png`` (a brush stroke and a disc painted on pydicom's
CT_small slice in a two-segment project). Run::

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


if __name__ == "__main__":  # the decoder pool's processes re-import this module
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    qapp = QApplication.instance() or QApplication([])
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs"
    classification(qapp, folder / "screenshot_labelling.png")
    painting(qapp, folder / "screenshot_mask_painting.png")
