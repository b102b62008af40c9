"""Make ``docs/screenshot_labelling.png``: the Labels panel on a demo radiograph after three
images were labelled by keys (a three-class project over the demo classification images).
Run::

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.qt_labels.screenshot_labelling [OUT.png]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _wait(app, cond, timeout: float = 120.0) -> None:
    end = time.time() + timeout
    while not cond():
        if time.time() > end:
            raise TimeoutError("gave up waiting")
        app.processEvents()
        time.sleep(0.01)


def main(out: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from medview.demo.demo_data import write_demo_data
    from medview.labels.project import Project
    from medview.qt.main_window import MainWindow
    from medview.qt.settings import Settings

    app = QApplication.instance() or QApplication([])
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


if __name__ == "__main__":  # the decoder pool's processes re-import this module
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot_labelling.png")
