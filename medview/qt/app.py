"""``medview [PATHS...]``: create the application and the main window, show, run.

The window is shown before any file is read (headers load in a pool thread)
and nothing heavy (torch, OpenCV) is imported on the way: those load on first
use, e.g. when the AI panel runs a model or a PNG is opened.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from medview.app.internal_errors import install_log_file
from medview.qt.theme import apply_dark_theme, configure_high_dpi


def sample_dir() -> Path:
    """The bundled sample studies (next to the package, or inside a frozen build)."""
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[2]))
    return base / "resources" / "samples"


def sample_paths() -> list[str]:
    """Each sample study folder (CT series, radiograph), or [] when none is bundled."""
    root = sample_dir()
    if not root.is_dir():
        return []
    return [str(p) for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]


def create_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication with high-DPI policy and the dark theme (idempotent)."""
    app = QApplication.instance()
    if app is None:
        configure_high_dpi()
        app = QApplication(argv if argv is not None else sys.argv[:1])
        app.setApplicationName("medview")
        app.setOrganizationName("medview")
        app.setApplicationDisplayName("medview")
        apply_dark_theme(app)
    return app


def create_window(paths: list[str], settings=None):
    """Show the main window now and start reading ``paths`` (or the samples) next."""
    from medview.qt.main_window import MainWindow

    window = MainWindow(settings=settings)
    window.show()
    targets = [str(p) for p in paths] if paths else sample_paths()
    if targets:
        window.after_first_paint(lambda: window.open_paths(targets, remember=bool(paths)))
    elif not paths:
        window.statusBar().showMessage("No sample study bundled: drop files or use File ▸ Open", 8000)
    return window


def run(paths: list[str]) -> int:
    """Entry point of ``medview [PATHS...]``; returns the exit status."""
    app = create_app()
    install_log_file()
    window = create_window(paths)
    smoke_ms = os.environ.get("MEDVIEW_SMOKE_QUIT_MS")
    if smoke_ms:  # smoke test: close N ms after the first paint, once nothing is loading
        window.after_first_paint(lambda w=window: (print("medview: first paint", file=sys.stderr),
                                                   _close_when_idle(w, int(smoke_ms))))
    status = app.exec()
    del window  # kept alive until exec returns
    return status


def smoke_summary(window) -> dict:
    """What a smoke run opened: series, images, skipped files (name, reason), and the
    number of elements the DICOM Tags panel lists (None when it is not built)."""
    tags = window.tag_browser
    return {"series": len(window.library.series()), "images": len(window.library.frames()),
            "skipped": [[p.name, r] for p, r in window.last_skipped],
            "tags": tags.model.element_count if tags is not None else None}


def _close_when_idle(window, after_ms: int) -> None:
    """Print :func:`smoke_summary` as one ``medview-smoke: {json}`` line on stdout and
    close the window, ``after_ms`` from now at the earliest and once all loading is done."""
    def poll() -> None:
        if window.is_busy:
            QTimer.singleShot(50, poll)
            return
        print("medview-smoke: " + json.dumps(smoke_summary(window)), flush=True)
        window.close()

    QTimer.singleShot(after_ms, poll)
