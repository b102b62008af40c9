"""ShortcutsDialog lists a window's actions and gestures, and filters them as one types."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow

from medview.qt.widgets.shortcuts_dialog import ShortcutEntry, ShortcutsDialog, clean_text

NATIVE = QKeySequence.SequenceFormat.NativeText


def native(keys: str) -> str:
    return QKeySequence(keys).toString(NATIVE)


@pytest.fixture
def window(qtbot):
    w = QMainWindow()
    qtbot.addWidget(w)
    file_menu = w.menuBar().addMenu("&File")
    file_menu.addAction("&Open…").setShortcut(QKeySequence("Ctrl+O"))
    file_menu.addAction("Open &folder…").setShortcut(QKeySequence("Ctrl+Shift+O"))
    file_menu.addSeparator()
    file_menu.addMenu("Recent").addAction("/data/study1")  # submenu: its holder is skipped
    file_menu.addAction("&Quit").setShortcut(QKeySequence("Ctrl+Q"))
    view_menu = w.menuBar().addMenu("&View")
    zoom = view_menu.addAction("Zoom &in")
    zoom.setShortcuts([QKeySequence("Ctrl++"), QKeySequence("Ctrl+=")])
    view_menu.addAction("Reset view")  # no shortcut
    invert = QAction("Invert", w)
    invert.setShortcut(QKeySequence("I"))
    invert.setProperty("shortcutArea", "Viewer")
    w.addAction(invert)
    return w


def all_actions(w: QMainWindow) -> list[QAction]:
    acts = []
    for menu_action in w.menuBar().actions():
        acts += menu_action.menu().actions()
    return acts + w.actions()


def test_lists_every_action_with_native_shortcuts_grouped_by_menu(qtbot, window):
    gestures = [("Window/level", "Right-drag"), ("Zoom", "Wheel")]
    dlg = ShortcutsDialog(all_actions(window), window, extra=gestures)
    qtbot.addWidget(dlg)
    dlg.show()
    assert dlg.entries == [
        ShortcutEntry("File", "Open", native("Ctrl+O")),
        ShortcutEntry("File", "Open folder", native("Ctrl+Shift+O")),
        ShortcutEntry("File", "Quit", native("Ctrl+Q")),
        ShortcutEntry("View", "Reset view", ""),
        ShortcutEntry("View", "Zoom in", f"{native('Ctrl++')}, {native('Ctrl+=')}"),
        ShortcutEntry("Viewer", "Invert", "I"),
        ShortcutEntry("Mouse", "Window/level", "Right-drag"),
        ShortcutEntry("Mouse", "Zoom", "Wheel"),
    ]
    assert dlg.visible_entries() == dlg.entries
    assert dlg.table.model().headerData(2, Qt.Orientation.Horizontal) == "Shortcut"


def test_typing_filters_by_action_keys_or_area(qtbot, window):
    dlg = ShortcutsDialog(all_actions(window), extra=[("Window/level", "Right-drag")])
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.keyClicks(dlg.filter_edit, "zoom")
    assert [e.description for e in dlg.visible_entries()] == ["Zoom in"]
    dlg.filter_edit.clear()
    qtbot.keyClicks(dlg.filter_edit, native("Ctrl+Q").lower())
    assert [e.description for e in dlg.visible_entries()] == ["Quit"]
    dlg.filter_edit.clear()
    qtbot.keyClicks(dlg.filter_edit, "drag")
    assert dlg.visible_entries() == [ShortcutEntry("Mouse", "Window/level", "Right-drag")]
    dlg.filter_edit.clear()
    qtbot.keyClicks(dlg.filter_edit, "xyzzy")
    assert dlg.visible_entries() == []
    assert dlg.empty_label.isVisible()
    dlg.filter_edit.clear()
    assert len(dlg.visible_entries()) == len(dlg.entries)
    assert not dlg.empty_label.isVisible()


def test_plain_pairs_and_triples(qtbot):
    dlg = ShortcutsDialog(
        [("Next image", "Page Down"), ("Cine", "Play/pause", "Space")],
        include_unassigned=False,
    )
    qtbot.addWidget(dlg)
    assert dlg.entries == [
        ShortcutEntry("Mouse", "Next image", "Page Down"),
        ShortcutEntry("Cine", "Play/pause", "Space"),
    ]


def test_unassigned_actions_can_be_left_out(qtbot, window):
    dlg = ShortcutsDialog(all_actions(window), include_unassigned=False)
    qtbot.addWidget(dlg)
    assert "Reset view" not in [e.description for e in dlg.entries]


def test_escape_closes(qtbot, window):
    dlg = ShortcutsDialog(all_actions(window), window)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    qtbot.keyClick(dlg.filter_edit, Qt.Key.Key_Escape)
    assert not dlg.isVisible()


def test_clean_text():
    assert clean_text("&Open…") == "Open"
    assert clean_text("Save && e&xit...") == "Save & exit"
    assert clean_text("Copy\tCtrl+C") == "Copy"
