"""A searchable list of every keyboard shortcut and mouse gesture of the application."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QAction, QKeySequence, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTableView,
    QVBoxLayout,
    QWidget,
)

#: QAction property that overrides the area an action is listed under.
AREA_PROPERTY = "shortcutArea"
DEFAULT_AREA = "General"
HEADERS = ("Area", "Action", "Shortcut")

_MNEMONIC = re.compile(r"&(?!&)")


def clean_text(text: str) -> str:
    """Menu text without mnemonics (``&Open…`` → ``Open``) or trailing ellipsis."""
    text = _MNEMONIC.sub("", text).replace("&&", "&")
    return text.split("\t", 1)[0].rstrip(".… ").strip()


@dataclass(frozen=True)
class ShortcutEntry:
    """One row: where the action lives, what it does, and its key(s) or gesture."""

    area: str
    description: str
    keys: str


def _action_area(action: QAction) -> str:
    explicit = action.property(AREA_PROPERTY)
    if explicit:
        return str(explicit)
    for obj in action.associatedObjects():
        if isinstance(obj, QMenu) and obj.title():
            return clean_text(obj.title())
    return DEFAULT_AREA


def _action_entry(action: QAction) -> ShortcutEntry | None:
    if action.isSeparator() or action.menu() is not None or not action.text().strip():
        return None
    keys = ", ".join(
        seq.toString(QKeySequence.SequenceFormat.NativeText)
        for seq in action.shortcuts()
        if not seq.isEmpty()
    )
    return ShortcutEntry(_action_area(action), clean_text(action.text()), keys)


def collect_entries(
    actions: Iterable[QAction | tuple[str, str] | tuple[str, str, str]],
    extra: Iterable[tuple[str, str] | tuple[str, str, str]] = (),
    extra_area: str = "Mouse",
    include_unassigned: bool = True,
) -> list[ShortcutEntry]:
    """Rows for ``actions`` and ``extra``, deduplicated, grouped by area.

    Areas keep the order in which they first appear (so menus passed in menu
    order stay in that order); rows within an area are sorted by description.
    A pair ``(description, keys)`` is listed under ``extra_area``; a triple is
    ``(area, description, keys)``.
    """
    entries: list[ShortcutEntry] = []
    for item in [*actions, *extra]:
        if isinstance(item, QAction):
            entry = _action_entry(item)
        elif len(item) == 3:
            entry = ShortcutEntry(*(str(x) for x in item))
        else:
            entry = ShortcutEntry(extra_area, str(item[0]), str(item[1]))
        if entry is not None and (include_unassigned or entry.keys):
            entries.append(entry)
    area_order: dict[str, int] = {}
    for e in entries:
        area_order.setdefault(e.area, len(area_order))
    unique = dict.fromkeys(entries)  # keeps first occurrence
    return sorted(unique, key=lambda e: (area_order[e.area], e.description.casefold()))


class ShortcutsDialog(QDialog):
    """Searchable table of every action's text and shortcut(s), grouped by menu.

    Parameters
    ----------
    actions : iterable of QAction, or of (description, keys) / (area, description, keys)
        Usually every action of the main window. An action is listed under the
        title of the first menu it was added to, or under its
        ``"shortcutArea"`` property when set; shortcuts are shown in the
        platform's native text (``Ctrl+O``, ``⌘O``).
    parent : QWidget, optional
        Owner window.
    extra : iterable of (description, keys) or (area, description, keys)
        Gestures that are no QAction, e.g. ``("Window/level", "Right-drag")``.
    extra_area : str
        Area of the pairs in ``actions`` and ``extra``.
    include_unassigned : bool
        Also list actions that have no shortcut (their key column is empty).

    Attributes
    ----------
    entries : list of ShortcutEntry
        The rows, in display order.
    filter_edit : QLineEdit
        Filters on area, description or keys, case-insensitively.
    """

    def __init__(
        self,
        actions: Iterable[QAction | tuple[str, str] | tuple[str, str, str]] = (),
        parent: QWidget | None = None,
        *,
        extra: Iterable[tuple[str, str] | tuple[str, str, str]] = (),
        extra_area: str = "Mouse",
        include_unassigned: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard and mouse shortcuts")
        self.setObjectName("ShortcutsDialog")
        self.entries = collect_entries(actions, extra, extra_area, include_unassigned)

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Search actions or keys")
        self.filter_edit.setClearButtonEnabled(True)

        self.model = QStandardItemModel(0, len(HEADERS), self)
        self.model.setHorizontalHeaderLabels(list(HEADERS))
        for e in self.entries:
            self.model.appendRow([QStandardItem(e.area), QStandardItem(e.description),
                                  QStandardItem(e.keys)])
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)

        self.empty_label = QLabel("No shortcut matches.", self)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.hide()

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label)
        layout.addWidget(buttons)

        self.filter_edit.textChanged.connect(self._filter)
        self.filter_edit.setFocus()
        self.resize(560, 460)

    def visible_entries(self) -> list[ShortcutEntry]:
        """The rows the filter currently shows."""
        rows = []
        for r in range(self.proxy.rowCount()):
            cells = [self.proxy.index(r, c).data() for c in range(len(HEADERS))]
            rows.append(ShortcutEntry(*cells))
        return rows

    def _filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        self.empty_label.setVisible(self.proxy.rowCount() == 0)
