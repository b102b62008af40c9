"""SkippedNotice: non-blocking, lists each skipped file and why, copies the lot."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMainWindow

from medview.qt.widgets.notice import SkippedNotice, reasons_text, show_skipped

SKIPPED = [
    (Path("/data/incoming/README.txt"), "not a DICOM or image file"),
    (Path("/data/incoming/IM0007"), "truncated: pixel data ends early"),
    (Path("/data/incoming/notes.docx"), "not a DICOM or image file"),
]


def test_nothing_skipped_gives_no_notice(qtbot):
    assert show_skipped(None, [], 12) is None
    w = QMainWindow()
    qtbot.addWidget(w)
    assert show_skipped(w, [], 3) is None
    assert w.findChildren(SkippedNotice) == []


def test_notice_summarises_lists_and_copies(qtbot, clipboard):
    w = QMainWindow()
    qtbot.addWidget(w)
    w.show()
    notice = show_skipped(w, SKIPPED, 12)
    assert isinstance(notice, SkippedNotice)
    qtbot.waitExposed(notice)  # shown and returned at once: not exec()
    assert notice.isVisible() and not notice.isModal()
    assert QApplication.activeModalWidget() is None
    assert notice.summary_label.text() == "Opened 12 images; skipped 3 files."
    assert notice.reasons_label.text() == (
        "2 × not a DICOM or image file, 1 × truncated: pixel data ends early"
    )

    assert not notice.list_widget.isVisible()
    qtbot.mouseClick(notice.details_button, Qt.MouseButton.LeftButton)
    assert notice.list_widget.isVisible()
    items = [notice.list_widget.item(i) for i in range(notice.list_widget.count())]
    assert [i.text() for i in items] == [
        "README.txt — not a DICOM or image file",
        "IM0007 — truncated: pixel data ends early",
        "notes.docx — not a DICOM or image file",
    ]
    assert items[1].toolTip() == str(Path("/data/incoming/IM0007"))

    qtbot.mouseClick(notice.copy_button, Qt.MouseButton.LeftButton)
    assert clipboard.text().splitlines() == [
        "Opened 12 images; skipped 3 files.",
        f"{Path('/data/incoming/README.txt')}\tnot a DICOM or image file",
        f"{Path('/data/incoming/IM0007')}\ttruncated: pixel data ends early",
        f"{Path('/data/incoming/notes.docx')}\tnot a DICOM or image file",
    ]
    assert notice.copy_button.text() == "Copied"

    qtbot.mouseClick(notice.details_button, Qt.MouseButton.LeftButton)
    assert not notice.list_widget.isVisible()
    with qtbot.waitSignal(notice.finished):
        qtbot.mouseClick(notice.close_button, Qt.MouseButton.LeftButton)
    assert not notice.isVisible()


def test_nothing_opened_and_single_file_wording(qtbot):
    notice = show_skipped(None, [("/x/a.bin", "unreadable")], 0)
    qtbot.addWidget(notice)
    assert notice.summary_label.text() == "No image could be opened; skipped 1 file."
    notice.close()


def test_a_new_notice_replaces_the_old_one(qtbot):
    w = QMainWindow()
    qtbot.addWidget(w)
    w.show()
    first = show_skipped(w, SKIPPED, 1)
    with qtbot.waitSignal(first.finished):
        second = show_skipped(w, SKIPPED[:1], 5)
    assert second.isVisible()
    assert second.summary_label.text() == "Opened 5 images; skipped 1 file."


def test_class_level_entry_point(qtbot):
    assert SkippedNotice.show_skipped(None, [], 1) is None
    notice = SkippedNotice.show_skipped(None, SKIPPED, 1)
    qtbot.addWidget(notice)
    assert notice.isVisible()
    notice.close()


def test_reasons_text_caps_the_list():
    reasons = ["a", "a", "b", "c", "d", "e"]
    assert reasons_text(reasons) == "2 × a, 1 × b, 1 × c, 2 other"
