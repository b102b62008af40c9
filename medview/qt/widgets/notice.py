"""A non-blocking notice that says which files were skipped while opening, and why."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

_keep_alive: set[SkippedNotice] = set()  # parentless notices live until closed


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary_text(skipped_count: int, loaded: int, already: int = 0) -> str:
    """``Opened 12 images; skipped 3 files.`` (or that nothing could be opened).

    ``already`` counts images that were read again but were open before: they are
    not "opened" (nothing new appears), and the text says so.
    """
    skipped = f"skipped {_plural(skipped_count, 'file')}."
    if loaded:
        again = f" ({already} already open)" if already else ""
        return f"Opened {_plural(loaded, 'image')}{again}; {skipped}"
    if already:
        return f"{already_open_text(already)}; {skipped}"
    return f"No image could be opened; {skipped}"


def already_open_text(n: int) -> str:
    """``3 images already open; nothing new``."""
    return f"{_plural(n, 'image')} already open; nothing new"


def reasons_text(reasons: Sequence[str], most: int = 3) -> str:
    """The most common reasons with counts, e.g. ``2 × not a DICOM file, 1 × truncated``."""
    counts = Counter(r.strip() or "unknown reason" for r in reasons)
    top = counts.most_common(most)
    text = ", ".join(f"{n} × {reason}" for reason, n in top)
    rest = sum(counts.values()) - sum(n for _, n in top)
    return text + (f", {rest} other" if rest else "")


class SkippedNotice(QDialog):
    """Non-modal notice listing the files that could not be opened.

    Shows a one-line summary (``Opened 12 images; skipped 3 files.``), the most
    common reasons, and an expandable list of ``name — reason`` lines with the
    full path as tooltip; *Copy all* puts the summary and ``path<TAB>reason``
    lines on the clipboard. It never blocks: create it with
    :func:`show_skipped`, which calls ``show()``.

    Parameters
    ----------
    skipped : sequence of (path, reason)
        The files that were not opened and why.
    loaded : int
        How many images were opened.
    parent : QWidget, optional
        The main window; the notice stays on top of it.
    already : int
        How many of the images read were already open (not counted in ``loaded``).
    summary : str, optional
        The first line, for callers that did not open images (an export): replaces
        ``Opened 12 images; skipped 3 files.``

    Attributes
    ----------
    summary_label, reasons_label : QLabel
    details_button : QToolButton
        Shows or hides :attr:`list_widget`.
    list_widget : QListWidget
        One row per skipped file.
    copy_button, close_button : QPushButton
    """

    def __init__(
        self,
        skipped: Sequence[tuple[Path | str, str]],
        loaded: int,
        parent: QWidget | None = None,
        already: int = 0,
        summary: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("SkippedNotice")
        self.setWindowTitle("Some files were skipped")
        self.setModal(False)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.skipped = [(Path(p), str(reason)) for p, reason in skipped]
        self.loaded = loaded
        self.already = already
        self.summary = summary or summary_text(len(self.skipped), loaded, already)

        icon = QLabel(self)
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_MessageBoxIconSize)
        icon.setPixmap(
            self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(size)
        )
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.summary_label = QLabel(self.summary, self)
        font = self.summary_label.font()
        font.setBold(True)
        self.summary_label.setFont(font)
        self.reasons_label = QLabel(reasons_text([r for _, r in self.skipped]), self)
        self.reasons_label.setWordWrap(True)

        self.details_button = QToolButton(self)
        self.details_button.setText("Show files")
        self.details_button.setCheckable(True)
        self.details_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.setArrowType(Qt.ArrowType.RightArrow)
        self.details_button.setAutoRaise(True)

        self.list_widget = QListWidget(self)
        self.list_widget.setUniformItemSizes(True)
        self.list_widget.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        for path, reason in self.skipped:
            item = QListWidgetItem(f"{path.name or path} — {reason}")
            item.setToolTip(os.fspath(path))
            self.list_widget.addItem(item)
        self.list_widget.hide()

        self.copy_button = QPushButton("Copy all", self)
        self.copy_button.setToolTip("Copy the summary and every path with its reason")
        self.close_button = QPushButton("Close", self)
        self.close_button.setDefault(True)

        text_box = QVBoxLayout()
        text_box.addWidget(self.summary_label)
        text_box.addWidget(self.reasons_label)
        top = QHBoxLayout()
        top.addWidget(icon)
        top.addLayout(text_box, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.details_button)
        buttons.addStretch(1)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.list_widget, 1)
        layout.addLayout(buttons)

        self.details_button.toggled.connect(self.set_details_visible)
        self.copy_button.clicked.connect(self.copy_all)
        self.close_button.clicked.connect(self.close)
        self.setMinimumWidth(420)

    @staticmethod
    def show_skipped(
        parent: QWidget | None, skipped: Sequence[tuple[Path | str, str]], loaded: int
    ) -> SkippedNotice | None:
        """Same as the module function :func:`show_skipped`."""
        return show_skipped(parent, skipped, loaded)

    def set_details_visible(self, visible: bool) -> None:
        """Show or hide the per-file list."""
        self.details_button.setChecked(visible)
        self.details_button.setArrowType(
            Qt.ArrowType.DownArrow if visible else Qt.ArrowType.RightArrow
        )
        self.details_button.setText("Hide files" if visible else "Show files")
        self.list_widget.setVisible(visible)
        self.adjustSize()
        if visible:
            self.resize(max(self.width(), 560), max(self.height(), 360))

    def report_text(self) -> str:
        """The summary and one ``path<TAB>reason`` line per skipped file."""
        lines = [self.summary]
        lines += [f"{os.fspath(p)}\t{reason}" for p, reason in self.skipped]
        return "\n".join(lines)

    def copy_all(self) -> None:
        """Put :meth:`report_text` on the clipboard."""
        QGuiApplication.clipboard().setText(self.report_text())
        self.copy_button.setText("Copied")
        QTimer.singleShot(1500, self, lambda: self.copy_button.setText("Copy all"))


def show_skipped(
    parent: QWidget | None,
    skipped: Sequence[tuple[Path | str, str]],
    loaded: int,
    already: int = 0,
    summary: str | None = None,
) -> SkippedNotice | None:
    """Show a :class:`SkippedNotice` (without blocking); None when nothing was skipped.

    A notice already open on the same parent is closed first, so opening
    several folders in a row leaves one notice, for the latest.
    """
    if parent is not None:
        for old in parent.findChildren(SkippedNotice):
            old.close()
    if not skipped:
        return None
    notice = SkippedNotice(skipped, loaded, parent, already, summary)
    if parent is None:
        _keep_alive.add(notice)
        notice.finished.connect(lambda _=0, n=notice: _keep_alive.discard(n))
    notice.show()
    notice.raise_()
    return notice
