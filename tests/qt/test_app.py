"""Start-up, shortcuts, settings persistence, room for later panels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QLabel

ROOT = Path(__file__).resolve().parents[2]

_STARTUP = r"""
import json, os, sys, time
t0 = time.perf_counter()
from medview.qt.app import create_app, create_window
from medview.qt.settings import Settings
app = create_app()
win = create_window([sys.argv[1]], settings=Settings(sys.argv[2]))  # shows the window
shown = win.isVisible()
heavy = sorted(m for m in ("torch", "pydicom", "cv2", "pyqtgraph") if m in sys.modules)
elapsed = time.perf_counter() - t0
deadline = time.time() + 20
while (win.is_loading or not win.library.series()) and time.time() < deadline:
    app.processEvents(); time.sleep(0.01)
print(json.dumps({"shown": shown, "heavy": heavy, "elapsed": elapsed,
                  "series": len(win.library.series()), "torch_after": "torch" in sys.modules}))
win.close()
"""


def test_window_shows_before_heavy_imports(tmp_path, ct_folder):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", _STARTUP, str(ct_folder), str(tmp_path / "s.ini")],
                         capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["shown"]
    assert result["heavy"] == []      # not even pydicom before the window is up
    assert result["series"] == 1      # ... and the study opened after it
    assert not result["torch_after"]


def test_run_opens_samples_when_no_paths(monkeypatch, tmp_path):
    from medview.qt import app

    samples = tmp_path / "samples"
    (samples / "ct_chest").mkdir(parents=True)
    (samples / "chest_xray").mkdir()
    monkeypatch.setattr(app, "sample_dir", lambda: samples)
    assert app.sample_paths() == [str(samples / "chest_xray"), str(samples / "ct_chest")]


def test_shortcuts_are_unique_and_listed(qtbot, window):
    seen = {}
    for act in window.findChildren(type(window.open_files_action)):
        if not act.associatedObjects():
            continue
        for seq in act.shortcuts():
            key = seq.toString(QKeySequence.SequenceFormat.PortableText)
            if key:
                assert key not in seen, f"{key} bound to {seen.get(key)} and {act.text()}"
                seen[key] = act.text()
    window.show_shortcuts()
    dlg = window.shortcuts_dialog
    texts = {(e.description, e.keys) for e in dlg.entries}
    assert ("Length", "L") in texts
    assert any(d == "Next Image" and "Down" in k for d, k in texts)
    assert any("Window / level" in d and k == "Right-drag" for d, k in texts)
    assert any(d.startswith("Open Files") for d, _ in texts)
    dlg.close()


def test_settings_persist_layout_geometry_and_fps(qtbot, settings):
    from medview.qt.main_window import MainWindow

    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    win.show()
    win.viewer_actions.layouts["1x2"].trigger()
    win.viewer_actions.fps_spin.setValue(24)
    win.tags_dock.show()
    win.close()
    win2 = MainWindow(settings=settings)
    qtbot.addWidget(win2)
    win2.show()
    assert win2.grid.layout_name == "1x2"
    assert win2.viewer_actions.fps_spin.value() == 24
    assert win2.tags_dock.isVisible()
    win2.close()


def test_room_for_panels_and_tabs_without_placeholders(qtbot, window):
    assert window.tabs.count() == 1 and window.tabs.tabBar().isHidden()
    dock = window.add_panel(QLabel("AI"), "AI", "AiDock")
    assert dock.toggleViewAction() in window.panels_menu.actions()
    window.add_tab(QLabel("trainer"), "Trainer")
    assert window.tabs.count() == 2 and not window.tabs.tabBar().isHidden()


def test_tag_dock_shows_current_header(qtbot, window, ct_folder):
    from tests.helpers.qt import wait_loaded, wait_shown

    window.open_paths([str(ct_folder)])
    wait_loaded(qtbot, window)
    wait_shown(qtbot, window.grid.active)
    window.tags_dock.show()
    qtbot.waitUntil(lambda: window.tag_browser is not None, timeout=3000)
    qtbot.waitUntil(lambda: window.tag_browser.model.element_count > 10, timeout=3000)


def test_closing_waits_for_running_decodes_and_workers(qtbot, window):
    # A decode still emitting while Python tears Qt down at exit segfaulted the process
    # (main_window._QUIT_WAIT_MS): closing waits for both pools.
    import threading
    import time

    from PySide6.QtCore import QRunnable

    started = threading.Event()

    def busy():
        started.set()
        time.sleep(0.5)

    window.loader.pool.start(QRunnable.create(busy))
    assert started.wait(5)
    window.workers.start(time.sleep, 0.5)
    window.close()
    assert window.loader.pool.activeThreadCount() == 0
    assert window.workers.pool.activeThreadCount() == 0
