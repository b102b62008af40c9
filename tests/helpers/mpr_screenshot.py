"""A screenshot of the 2 × 2 MPR layout with reference lines, the 3-D cursor and the
orientation markers, to look at (``tests/qt/test_mpr_layout.py`` runs it too).

Run it again with::

    QT_QPA_PLATFORM=offscreen python -m tests.helpers.mpr_screenshot /tmp/mpr_layout.png

It writes a synthetic CT (``tests/helpers/volumes.py``) to a temporary folder, opens it in the
main window, presses MPR, clicks a point of the bright sphere with the cross-hair tool,
gives the axial view a 10 mm MIP slab and grabs the viewer grid.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tests.helpers.volumes import SPHERE_CENTRE, write_ct

#: the point clicked: in the sphere, off its centre so the planes are not all central
CLICK_POINT = SPHERE_CENTRE + np.array([2.0, 1.0, -1.0])


def wait_until(condition, timeout_s: float = 30.0) -> None:
    """Run the event loop until ``condition()`` (a standalone qtbot.waitUntil)."""
    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the viewer did not get there in time")
        QApplication.processEvents()
        time.sleep(0.01)


def click(viewport, pos) -> None:
    """A real left click at widget point ``pos``."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(round(pos[0]), round(pos[1])))


def show_mpr(window, folder: Path) -> None:
    """Open the CT under ``folder`` in ``window`` and enter MPR with the cursor placed."""
    window.hanging_action.setChecked(False)  # the MPR action's 2 × 2, not the protocol's 1 × 3
    window.open_paths([str(folder)])
    wait_until(lambda: not window.is_loading and window.library.series())
    wait_until(lambda: window.mpr.mpr_action.isEnabled())
    window.mpr.mpr_action.trigger()
    wait_until(lambda: window.mpr.showing and not window.mpr.building)
    window.viewer_actions.tools["crosshair"].trigger()
    axial = window.grid.viewports[0]
    axial.model.set_index(axial.model.planes.index_through(CLICK_POINT))
    where, _ = axial.model.patient_to_widget(CLICK_POINT)
    click(axial, where)
    window.grid.set_active(axial)
    window.mpr.slab.setValue(10.0)


def grab(window, out: Path) -> Path:
    """Save what the viewer grid shows to ``out``."""
    for vp in window.grid.viewports:
        vp.repaint()
    window.grid.grab().save(str(out))
    return out


def main(argv: list[str]) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from medview.qt.main_window import MainWindow
    from medview.qt.settings import Settings

    out = Path(argv[0] if argv else "/tmp/mpr_layout.png")
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(settings=Settings(Path(tmp) / "medview.ini"))
        window.resize(1400, 1000)
        window.show()
        write_ct(Path(tmp) / "ct")
        show_mpr(window, Path(tmp) / "ct")
        grab(window, out)
        window.close()
        window.workers.pool.waitForDone(5000)
        window.loader.cancel_all()
        window.loader.wait(5000)
    print(out)
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
