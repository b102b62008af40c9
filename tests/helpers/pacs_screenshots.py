"""Screenshots of the PACS panel with a search result and of a retrieved study with its SEG
shown, at 1366 × 768, to look at.

Run it again with::

    QT_QPA_PLATFORM=offscreen python -m tests.helpers.pacs_screenshots /tmp/shots-pacs

It starts a real Orthanc on loopback ports (Debian package ``orthanc``) holding pydicom's
files and a generated study with a SEG written by medview's writer, searches it in the PACS
panel (``pacs_find.png``), retrieves the study, shows the frame the SEG marks with the
Segmentations panel in front (``pacs_seg.png``), and leaves the Nodes dialog open over the
window (``pacs_nodes.png``).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pydicom

from tests.helpers.datafiles import find
from tests.helpers.mpr_screenshot import wait_until
from tests.helpers.orthanc import Orthanc, free_port
from tests.helpers.pacs import MEDVIEW_AET, REAL_FILES, configure_nodes, make_study
from tests.helpers.seg_files import write_test_seg

SIZE = (1366, 768)


def shoot(out: Path) -> list[Path]:
    """Write the screenshots into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["MEDVIEW_USER_DIR"] = str(tmp / "user")
        server = Orthanc(tmp / "orthanc", MEDVIEW_AET, free_port()).start()
        try:
            images = make_study(tmp / "study", n=6)
            write_test_seg(images[2], tmp / "study" / "seg.dcm")
            server.upload([find(name) for name in REAL_FILES])
            server.upload([*images, tmp / "study" / "seg.dcm"])
            configure_nodes(server)
            return _shoot(out, tmp, pydicom.dcmread(images[2]).SOPInstanceUID)
        finally:
            server.stop()


def _shoot(out: Path, tmp: Path, seg_target: str) -> list[Path]:
    from PySide6.QtWidgets import QApplication

    from medview.qt.main_window import MainWindow
    from medview.qt.settings import Settings

    app = QApplication.instance() or QApplication([])
    win = MainWindow(settings=Settings(tmp / "s.ini"))
    win.resize(*SIZE)
    win.show()
    wait_until(win.isVisible)
    win.pacs_dock.show()
    win.pacs_dock.raise_()
    panel = win.pacs
    panel.reload_nodes()
    panel.nodes.setCurrentText("orthanc")
    panel.search_button.click()
    wait_until(lambda: panel.results.rowCount() > 1 and panel.search_button.isEnabled())
    row = next(r for r in range(panel.results.rowCount())
               if panel.results.item(r, 1).text() == "MV-PACS-1")
    panel.results.selectRow(row)
    app.processEvents()
    shots = [out / "pacs_find.png"]
    win.grab().save(str(shots[-1]))

    panel.retrieve_button.click()
    wait_until(lambda: panel.search_button.isEnabled() and not win.is_loading
               and len(win.library.frames()) == 6 and win.library.segmentations)
    vp = win.grid.active
    series = next(s for s in win.library.series()
                  if any(f.header.SOPInstanceUID == seg_target for f in s.frames))
    index = next(i for i, f in enumerate(series.frames)
                 if f.header.SOPInstanceUID == seg_target)
    win.grid.show_series(series, vp, index=index)
    win.segs_dock.raise_()
    wait_until(lambda: vp.model.is_current_decoded() and vp.model.layers_shown())
    vp.repaint()
    app.processEvents()
    shots.append(out / "pacs_seg.png")
    win.grab().save(str(shots[-1]))

    win.pacs_dock.raise_()
    dialog = panel.edit_nodes()
    wait_until(dialog.isVisible)
    app.processEvents()
    shots.append(out / "pacs_nodes.png")
    dialog.grab().save(str(shots[-1]))
    dialog.close()
    win.close()
    win.workers.pool.waitForDone(5000)
    return shots


if __name__ == "__main__":
    for path in shoot(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/shots-pacs")):
        print(path)
