"""Files dropped from a file manager: the drag check and the URLs → local paths step.

Shared by every widget that takes dropped files (the main window, a viewport, the
batch-analysis dialog). Only local files count: other URLs (``http:``, …) are ignored.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QDragEnterEvent, QDropEvent


def accept_url_drag(event: QDragEnterEvent) -> bool:
    """Accept a drag (enter or move) that carries URLs, ignore any other; returns which."""
    if event.mimeData().hasUrls():
        event.acceptProposedAction()
        return True
    event.ignore()
    return False


def local_paths(mime: QMimeData) -> list[str]:
    """The local file paths among ``mime``'s URLs, in order; non-local URLs are skipped."""
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]


def take_dropped_paths(event: QDropEvent) -> list[str]:
    """The local paths a drop carries: the drop is accepted when there are any, else ignored."""
    paths = local_paths(event.mimeData())
    if paths:
        event.acceptProposedAction()
    else:
        event.ignore()
    return paths
