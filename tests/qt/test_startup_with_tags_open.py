"""Issue 10, defect 1: with the DICOM Tags panel left open, every later start opens files.

The Tags panel imported pydicom on the GUI thread while the folder reader imported it
in a pool thread; one of them got a partially initialised pydicom and nothing opened
(16 starts out of 16 on a loaded 2-core PC; 3 out of 5 here before the fix). This
starts the real application (``python -m medview FOLDER``) repeatedly with a settings
file whose saved window state has the Tags dock open, and reads the one-line summary
the smoke mode prints (``MEDVIEW_SMOKE_QUIT_MS``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from medview.qt.main_window import MainWindow
from medview.qt.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
STARTS = 10


def _settings_with_tags_open(qtbot, config_home: Path) -> None:
    """The per-user INI a previous session left: Tags dock shown when it closed."""
    path = config_home / "medview" / "medview.ini"  # where QSettings' UserScope INI lives
    for show in (True, False):
        win = MainWindow(settings=Settings(path))
        qtbot.addWidget(win)
        win.show()
        if show:
            win.tags_dock.show()
            win.close()
        else:
            assert win.tags_dock.isVisible()  # the state restores it
            win.hide()


def _start(folder: Path, home: Path) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT),
               XDG_CONFIG_HOME=str(home / "config"), MEDVIEW_USER_DIR=str(home / "user"),
               MEDVIEW_SMOKE_QUIT_MS="100")
    out = subprocess.run([sys.executable, "-m", "medview", str(folder)], capture_output=True,
                         text=True, env=env, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("medview-smoke: ")]
    assert lines, out.stdout + out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    return json.loads(lines[-1].split(": ", 1)[1])


def test_every_start_opens_the_folder_with_the_tags_panel_open(qtbot, tmp_path, ct_folder):
    _settings_with_tags_open(qtbot, tmp_path / "config")
    results = [_start(ct_folder, tmp_path) for _ in range(STARTS)]
    failed = [r for r in results if r["images"] != 3 or r["skipped"]]
    assert not failed, f"{len(failed)} of {STARTS} starts did not open the folder: {failed[0]}"
    # ... and the restored Tags panel lists the shown image's header every time.
    assert all(r["tags"] and r["tags"] > 10 for r in results), results
