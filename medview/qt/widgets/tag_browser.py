"""Every DICOM element of a dataset as a filterable, copyable tree.

The dataset is turned once into a tree of plain Python :class:`TagNode` rows
with one pre-computed lower-case search string each (tag in both spellings,
keyword, name, value); :class:`TagModel` serves them to the view and filters
them in place. Building costs no Qt call per row and filtering is one pass of
substring tests, so enhanced multi-frame headers with tens of thousands of
elements stay responsive.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.datadict import dictionary_VR
from pydicom.tag import BaseTag
from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QGuiApplication, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QMenu,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from medview.core.tags import (display_text, element_name, tag_text, uid_name, unreadable_text,
                               value_text)

COL_TAG, COL_NAME, COL_VR, COL_VALUE = range(4)
HEADERS = ("Tag", "Name", "VR", "Value")

#: Role holding the lower-case text the filter searches.
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 1
#: Value-column role holding the untruncated value text (what "Copy" puts out).
FULL_VALUE_ROLE = Qt.ItemDataRole.UserRole + 2

MIN_VALUE_CHARS = 24  # the Value column keeps room for this many characters when the dock is narrow
DEBOUNCE_ABOVE = 5000  # elements; above this the filter waits for a pause in typing

_TAG_QUERY = re.compile(r"^\(?\s*([0-9a-f]{4})\s*[,\s]?\s*([0-9a-f]{4})\s*\)?$", re.IGNORECASE)


def _plural(n: int, word: str, plural: str = "") -> str:
    return f"{n} {word}" if n == 1 else f"{n} {plural or word + 's'}"


def _elements(ds: Dataset) -> Iterator[tuple[BaseTag, DataElement | None, str, str]]:
    """(tag, element, VR, problem) for every element, without reading deferred values.

    ``element`` is None when the value was deferred (read with ``defer_size``)
    or could not be converted; ``problem`` then says which.
    """
    for tag in list(ds.keys()):
        vr = ""
        try:
            raw = ds.get_item(tag, keep_deferred=True)
            vr = str(raw.VR or _dictionary_vr(tag))
            if isinstance(raw, RawDataElement) and raw.value is None and raw.length:
                yield tag, None, vr, f"<{vr}, {raw.length} bytes, not loaded>"
                continue
            yield tag, ds[tag], vr, ""
        except Exception as exc:  # a corrupt element must not hide the others
            yield tag, None, vr, unreadable_text(exc)


def _dictionary_vr(tag: BaseTag) -> str:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


class TagNode:
    """One row of the tree: an element, or an item of a sequence."""

    __slots__ = ("cells", "full", "search", "private", "keyword", "level", "structural",
                 "parent", "children", "visible", "vrow")

    def __init__(self, cells: tuple[str, str, str, str], *, full: str | None = None,
                 search: str = "", private: bool = False, keyword: str = "",
                 level: int = 0, parent: TagNode | None = None,
                 structural: bool = False) -> None:
        self.cells = cells
        self.full = full  # None when the shown value is the whole value
        self.search = search  # lower-case; "" for rows that never match themselves
        self.private = private
        self.keyword = keyword
        self.level = level  # sequence nesting depth of the element (items count as their sequence)
        self.structural = structural  # a sequence or an item: its "value" is a count
        self.parent = parent
        self.children: list[TagNode] = []
        self.visible: list[TagNode] = self.children  # children that pass the filter
        self.vrow = 0  # row among the parent's visible children

    @property
    def value(self) -> str:
        """The whole value text (the copy of a summarised binary value is its summary)."""
        return self.cells[COL_VALUE] if self.full is None else self.full


def _element_node(parent: TagNode, tag: BaseTag, name: str, vr: str, full: str,
                  keyword: str = "", private: bool = False, *,
                  search_value: bool = True, note: str = "") -> TagNode:
    tag_str = tag_text(tag)
    shown = display_text(full) + (f" ({note})" if note else "")
    search = f"{tag_str} {tag.group:04x}{tag.element:04x} {keyword} {name}"
    if search_value:
        search += f" {full[:4096]} {note}"
    return TagNode((tag_str, name, vr, shown), full=None if shown == full else full,
                   search=search.lower(), private=private, keyword=keyword,
                   level=parent.level + (parent.parent is not None), parent=parent)


def _add_dataset(parent: TagNode, ds: Dataset) -> int:
    """Append nodes for every element of ``ds`` under ``parent``; return how many elements."""
    count = 0
    for tag, elem, vr, problem in _elements(ds):
        count += 1
        if elem is None:
            parent.children.append(_element_node(parent, tag, _fallback_name(tag), vr, problem))
            continue
        keyword = elem.keyword or ""
        vr = str(elem.VR)  # after conversion: ambiguous VRs ("US or SS") resolved
        if vr == "SQ":
            items = elem.value or []
            node = _element_node(parent, tag, element_name(elem), vr,
                                 _plural(len(items), "item"), keyword, search_value=False)
            node.structural = True
            for i, item in enumerate(items, start=1):
                item_node = TagNode((f"Item {i}", "", "", ""), level=node.level, parent=node,
                                    structural=True)
                count += _add_dataset(item_node, item)
                n = len(item_node.children)
                item_node.cells = (f"Item {i}", "", "", _plural(n, "element"))
                node.children.append(item_node)
        else:
            node = _element_node(parent, tag, element_name(elem), vr, value_text(elem),
                                 keyword, private=tag.is_private, note=uid_name(elem))
        parent.children.append(node)
    return count


def _fallback_name(tag: BaseTag) -> str:
    try:
        return DataElement(tag, "UN", None).name
    except Exception:
        return ""


def build_tree(ds: Dataset | None) -> tuple[TagNode, int]:
    """The root node of ``ds`` and its file meta, and the number of elements (nested included)."""
    root = TagNode(("", "", "", ""))
    if ds is None:
        return root, 0
    count = 0
    meta = getattr(ds, "file_meta", None)
    if isinstance(meta, Dataset) and len(meta):
        count += _add_dataset(root, meta)
    count += _add_dataset(root, ds)
    return root, count


def normalise_query(text: str) -> list[str]:
    """Lower-case search terms; a tag typed as ``(0010 0010)`` or ``0010,0010`` becomes one term.

    Every term must occur in a row for it to match (``patient name`` finds
    *Patient's Name*). ``00100010`` needs no rewriting: each row's search text
    holds the tag in that spelling too.
    """
    text = text.strip().lower()
    m = _TAG_QUERY.match(text)
    if m and not text.isalnum():
        return [f"{m.group(1)},{m.group(2)}"]
    return text.split()


def _filter(node: TagNode, terms: list[str], shown_by_ancestor: bool) -> int:
    """Set ``visible`` of ``node``'s subtree; return how many rows match themselves."""
    matches = 0
    visible = []
    for child in node.children:
        hit = bool(terms) and bool(child.search) and all(t in child.search for t in terms)
        matches += hit
        if child.children:
            matches += _filter(child, terms, shown_by_ancestor or hit)
        if shown_by_ancestor or hit or child.visible:
            child.vrow = len(visible)
            visible.append(child)
    node.visible = visible
    return matches


def _dim_text_colour() -> QColor:
    """Text colour two thirds of the way from the base colour: for counts, not values."""
    pal = QGuiApplication.palette()
    text, base = pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.Base)
    mix = [(2 * a + b) / 3 for a, b in zip(text.getRgbF()[:3], base.getRgbF()[:3])]
    return QColor.fromRgbF(*mix)


def tree_depth(node: TagNode) -> int:
    """Deepest level of visible rows below ``node`` (its children are at depth 0)."""
    return max((1 + tree_depth(c) for c in node.visible if c.visible), default=0)


class TagModel(QAbstractItemModel):
    """Read-only tree model of :class:`TagNode`, filtered in place.

    Filtering marks the visible children of every node in one pass over
    pre-computed lower-case search strings; no proxy model is involved, so a
    dataset with tens of thousands of elements filters in milliseconds.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._root, self._count = build_tree(None)
        self._terms: list[str] = []
        self._matches = 0
        self._italic = QFont()
        self._italic.setItalic(True)

    @property
    def element_count(self) -> int:
        return self._count

    @property
    def filter_terms(self) -> list[str]:
        """The terms of the filter in force (empty: no filter)."""
        return list(self._terms)

    @property
    def match_count(self) -> int:
        """Rows matching the filter themselves (their parents and children not counted)."""
        return self._matches

    def set_dataset(self, ds: Dataset | None) -> None:
        self.beginResetModel()
        self._root, self._count = build_tree(ds)
        self._matches = _filter(self._root, self._terms, not self._terms)
        self.endResetModel()

    def set_filter(self, terms: list[str]) -> None:
        self.beginResetModel()
        self._terms = list(terms)
        self._matches = _filter(self._root, self._terms, not self._terms)
        self.endResetModel()

    def node(self, index: QModelIndex) -> TagNode:
        return index.internalPointer() if index.isValid() else self._root

    # --- QAbstractItemModel --------------------------------------------------
    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:
        visible = self.node(parent).visible
        if 0 <= row < len(visible) and 0 <= column < len(HEADERS):
            return self.createIndex(row, column, visible[row])
        return QModelIndex()

    def parent(self, index: QModelIndex | None = None):  # noqa: D102 (Qt API)
        if index is None:
            return super().parent()
        if not index.isValid():
            return QModelIndex()
        p = index.internalPointer().parent
        if p is None or p is self._root:
            return QModelIndex()
        return self.createIndex(p.vrow, 0, p)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        if parent.column() > 0:
            return 0
        return len(self.node(parent).visible)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return len(HEADERS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        node: TagNode = index.internalPointer()
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return node.cells[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_VALUE and node.full is not None:
                return node.full[:2000]
            if col == COL_NAME and node.keyword:
                return node.keyword
            return None
        if role == Qt.ItemDataRole.FontRole and col == COL_NAME and node.private:
            return self._italic
        if role == Qt.ItemDataRole.ForegroundRole and node.structural and (
            col == COL_VALUE or not node.keyword
        ):
            return _dim_text_colour()
        if role == FULL_VALUE_ROLE:
            return node.value
        if role == SEARCH_ROLE:
            return node.search
        return None


class _TagTree(QTreeView):
    """Tree that owns Ctrl+C even when the main window has a Copy shortcut."""

    copyRequested = Signal()

    def event(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.ShortcutOverride and e.matches(QKeySequence.StandardKey.Copy):
            e.accept()
            return True
        return super().event(e)

    def keyPressEvent(self, e) -> None:
        if e.matches(QKeySequence.StandardKey.Copy):
            self.copyRequested.emit()
            e.accept()
            return
        super().keyPressEvent(e)


class TagBrowser(QWidget):
    """All DICOM elements of one dataset: a tree with a filter and copy to clipboard.

    Sequences expand to their items and nested elements; binary and long values
    are summarised (``<OB, 524288 bytes>``); private elements show their private
    creator, in italics. The filter matches tag number (``0010,0010``,
    ``(0010,0010)``, ``00100010``), keyword, name or value, case-insensitively
    (every word typed must occur), keeps the parents of matching nested
    elements and expands them. Ctrl+C or the context menu copies the selected
    rows as tab-separated ``tag, name, VR, value`` lines; nested tags are
    prefixed with one ``>`` per sequence level, as in the standard's tables.

    Parameters
    ----------
    parent : QWidget, optional
        Owner widget (typically a dock).

    Attributes
    ----------
    filter_edit : QLineEdit
        The filter field.
    view : QTreeView
        The tree.
    model : TagModel
        Its model.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("TagBrowser")
        self._has_dataset = False
        self._title = ""
        self.title_label = QLabel(self)
        self.title_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setObjectName("tagFilter")
        self.filter_edit.setPlaceholderText("Filter: tag, keyword, name or value")
        self.filter_edit.setClearButtonEnabled(True)

        self.model = TagModel(self)
        self.view = _TagTree(self)
        self.view.setModel(self.model)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.setIndentation(max(12, self.fontMetrics().horizontalAdvance("0") * 2))
        self._size_columns()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.title_label)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.view, 1)

        # Filter as the user types; on a very large header wait for a pause in typing.
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(150)
        self._filter_timer.timeout.connect(self._apply_filter)
        self.filter_edit.textChanged.connect(self._filter_text_changed)
        self.filter_edit.returnPressed.connect(self._apply_filter)
        self.filter_edit.installEventFilter(self)
        self.view.copyRequested.connect(self.copy_selection)
        self.view.expanded.connect(self._row_expanded)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self._update_title()

    # --- public API ---------------------------------------------------------
    def set_dataset(self, ds: Dataset | None, title: str = "") -> None:
        """Show every element of ``ds`` (and its file meta); ``None`` empties the tree.

        Parameters
        ----------
        ds : pydicom.Dataset or None
            The header to show. Values deferred at read time (``defer_size``)
            are shown as ``<VR, N bytes, not loaded>`` and not read.
        title : str
            Shown above the filter, e.g. the file name.

        Notes
        -----
        The filter text is kept, so a filter such as ``SliceLocation`` stays
        applied while the user steps through a series.
        """
        self._has_dataset = ds is not None
        self._title = title
        self.model.set_dataset(ds)
        self._after_filter()

    @property
    def element_count(self) -> int:
        """Number of elements when unfiltered, nested ones included."""
        return self.model.element_count

    def copy_selection(self) -> str:
        """Copy the selected rows as tab-separated lines; return the copied text."""
        rows = self._selected_rows()
        text = "\n".join(self._row_text(ix) for ix in rows)
        if rows:
            QGuiApplication.clipboard().setText(text)
        return text

    def copy_values(self) -> str:
        """Copy only the whole values of the selected rows, one per line; return them."""
        rows = self._selected_rows()
        text = "\n".join(self.model.node(ix).value for ix in rows)
        if rows:
            QGuiApplication.clipboard().setText(text)
        return text

    # --- internals ----------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """In the filter field, Down moves into the tree and Escape clears the filter;
        a resized tree re-shares its width between Name and Value."""
        if obj is self.view.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_name_column()
            return False
        if obj is self.filter_edit and event.type() == QEvent.Type.KeyPress:
            if event.key() == Qt.Key.Key_Down and self.model.rowCount() > 0:
                selection = self.view.selectionModel()
                if not selection.hasSelection():
                    selection.setCurrentIndex(
                        self.model.index(0, 0),
                        QItemSelectionModel.SelectionFlag.ClearAndSelect
                        | QItemSelectionModel.SelectionFlag.Rows,
                    )
                self.view.setFocus(Qt.FocusReason.TabFocusReason)
                return True
            if event.key() == Qt.Key.Key_Escape and self.filter_edit.text():
                self.filter_edit.clear()
                return True
        return super().eventFilter(obj, event)

    def _size_columns(self) -> None:
        header = self.view.header()
        header.setStretchLastSection(True)  # Value takes what is left
        fm = self.view.fontMetrics()
        self._name_sized_by_user = False
        self._sizing = True
        self.view.setColumnWidth(COL_TAG, self._tag_width(0))  # widened as rows expand
        self.view.setColumnWidth(COL_VR, fm.horizontalAdvance("WW") + 18)
        self._sizing = False
        self._fit_name_column()
        header.sectionResized.connect(self._section_resized)
        self.view.viewport().installEventFilter(self)

    def _fit_name_column(self) -> None:
        """Name gets up to ~30 characters but always leaves Value room for ~24: in a
        narrow dock the Value column stays on screen (the user's own width is kept)."""
        if self._name_sized_by_user:
            return
        x = self.view.fontMetrics().horizontalAdvance("x")
        room = (self.view.viewport().width() - self.view.columnWidth(COL_TAG)
                - self.view.columnWidth(COL_VR) - x * MIN_VALUE_CHARS)
        self._sizing = True
        self.view.setColumnWidth(COL_NAME, max(x * 8, min(x * 30, room)))
        self._sizing = False

    def _section_resized(self, section: int, _old: int, _new: int) -> None:
        if section == COL_NAME and not self._sizing:
            self._name_sized_by_user = True

    def _tag_width(self, depth: int) -> int:
        """Width of the tag column that shows a tag at tree ``depth`` (0: top level) whole."""
        fm = self.view.fontMetrics()
        return fm.horizontalAdvance("(0000,0000)") + (depth + 1) * self.view.indentation() + 14

    def _fit_tag_column(self, depth: int) -> None:
        """Widen (never narrow) the tag column so rows at ``depth`` are not cut."""
        needed = self._tag_width(depth)
        if needed > self.view.columnWidth(COL_TAG):
            self.view.setColumnWidth(COL_TAG, needed)
            self._fit_name_column()

    def _row_expanded(self, index: QModelIndex) -> None:
        depth = 1
        while index.parent().isValid():
            index = index.parent()
            depth += 1
        self._fit_tag_column(depth)

    def _filter_text_changed(self) -> None:
        if self.element_count > DEBOUNCE_ABOVE:
            self._filter_timer.start()
        else:
            self._apply_filter()

    def _apply_filter(self) -> None:
        self._filter_timer.stop()
        terms = normalise_query(self.filter_edit.text())
        if terms != self.model.filter_terms:
            self.model.set_filter(terms)
            self._after_filter()

    def _after_filter(self) -> None:
        if self.model.filter_terms:
            self.view.expandAll()
            self._fit_tag_column(tree_depth(self.model.node(QModelIndex())))
        self._update_title()

    def _update_title(self) -> None:
        if not self._has_dataset:
            self.title_label.setText("No image selected")
            return
        parts = [self._title] if self._title else []
        parts.append(_plural(self.element_count, "element"))
        if self.model.filter_terms:
            n = self.model.match_count
            parts.append(_plural(n, "match", "matches") if n else "no match")
        self.title_label.setText(" · ".join(parts))

    def _selected_rows(self) -> list[QModelIndex]:
        rows = self.view.selectionModel().selectedRows(COL_TAG)
        return sorted(rows, key=self._tree_position)

    @staticmethod
    def _tree_position(ix: QModelIndex) -> tuple[int, ...]:
        path = []
        while ix.isValid():
            path.append(ix.row())
            ix = ix.parent()
        return tuple(reversed(path))

    def _row_text(self, ix: QModelIndex) -> str:
        node = self.model.node(ix)
        tag, name, vr, _ = node.cells
        return "\t".join((">" * node.level + tag, name, vr, display_text(node.value, limit=None)))

    def context_menu(self) -> QMenu:
        """The tree's context menu: Copy, Copy value, Expand all, Collapse all."""
        menu = QMenu(self)
        has_selection = self.view.selectionModel().hasSelection()
        copy = menu.addAction("Copy", self.copy_selection)
        copy.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        copy.setEnabled(has_selection)
        menu.addAction("Copy value", self.copy_values).setEnabled(has_selection)
        menu.addSeparator()
        menu.addAction("Expand all", self.view.expandAll)
        menu.addAction("Collapse all", self.view.collapseAll)
        return menu

    def _context_menu(self, pos) -> None:
        menu = self.context_menu()
        menu.exec(self.view.viewport().mapToGlobal(pos))
        menu.deleteLater()
