"""``medview [PATHS...]``: create the application and the main window, show, run.

The window is shown before any file is read (headers load in a pool thread)
and nothing heavy (torch, OpenCV) is imported on the way: those load on first
use, e.g. when the AI panel runs a model or a PNG is opened.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

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
    window = create_window(paths)
    smoke_ms = os.environ.get("MEDVIEW_SMOKE_QUIT_MS")  # smoke test: close N ms after 1st paint
    if smoke_ms:
        window.after_first_paint(lambda w=window: (print("medview: first paint", file=sys.stderr),
                                                   QTimer.singleShot(int(smoke_ms), w.close)))
    status = app.exec()
    del window  # kept alive until exec returns
    return status
