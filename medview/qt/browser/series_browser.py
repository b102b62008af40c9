"""Patient → study → series tree with thumbnails, image counts and decode progress.

Double-click (or Enter) opens a series in the active viewport; dragging a
series onto a viewport opens it there.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QLabel, QStyledItemDelegate,
                               QStyleOptionViewItem, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from medview.qt import theme
from medview.qt.viewer.viewport import SERIES_MIME

SERIES_ID_ROLE = Qt.ItemDataRole.UserRole + 1
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 2   # (decoded, total) or None
KIND_ROLE = Qt.ItemDataRole.UserRole + 3       # "patient" | "study" | "series"
THUMB = 64


class _ProgressDelegate(QStyledItemDelegate):
    """Draws a thin decode-progress bar under a series row until it is complete."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().paint(painter, option, index)
        progress = index.data(PROGRESS_ROLE)
        if not progress:
            return
        done, total = progress
        if total <= 0 or done >= total:
            return
        r: QRect = option.rect
        bar = QRect(r.left() + THUMB + 12, r.bottom() - 4, max(10, r.width() - THUMB - 20), 3)
        painter.save()
        painter.fillRect(bar, QColor(theme.BORDER))
        filled = QRect(bar)
        filled.setWidth(max(1, round(bar.width() * done / total)))
        painter.fillRect(filled, QColor(theme.ACCENT))
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        if index.data(KIND_ROLE) == "series":
            size.setHeight(max(size.height(), THUMB + 8))
        return size


class _Tree(QTreeWidget):
    def mimeTypes(self) -> list[str]:
        return [SERIES_MIME]

    def mimeData(self, items) -> QMimeData:
        md = QMimeData()
        for item in items:
            sid = item.data(0, SERIES_ID_ROLE)
            if sid is not None:
                md.setData(SERIES_MIME, str(sid).encode())
                break
        return md


class SeriesBrowser(QWidget):
    """The browser dock's content."""

    seriesActivated = Signal(object)   # Series
    selectionChanged = Signal(object)  # Series, Study or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = _Tree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setColumnCount(1)
        self.tree.setIconSize(QSize(THUMB, THUMB))
        self.tree.setUniformRowHeights(False)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setAcceptDrops(False)  # file drops fall through to the main window
        self.tree.setItemDelegate(_ProgressDelegate(self.tree))
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.itemActivated.connect(self._activated)
        self.tree.currentItemChanged.connect(self._current_changed)
        self.empty = QLabel("No studies open.\nDrop files or folders on the window,\n"
                            "or use File ▸ Open.", self)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet(f"color: {theme.TEXT_DIM};")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.tree)
        lay.addWidget(self.empty)
        self._items: dict[int, QTreeWidgetItem] = {}
        self._series: dict[int, object] = {}
        self._thumbs: dict[int, QIcon] = {}
        self._placeholder = self._blank_icon()
        self._shown = None  # which series to list (None: all); see set_filter
        self.tree.hide()

    # -- content

    def set_library(self, library) -> None:
        """Rebuild the tree from ``library`` (keeps thumbnails, progress, selection)."""
        current = self.current_series()
        progress = {sid: it.data(0, PROGRESS_ROLE) for sid, it in self._items.items()}
        self.tree.clear()
        self._items.clear()
        self._series.clear()
        for patient in library.patients:
            p_item = QTreeWidgetItem([patient.title])
            p_item.setData(0, KIND_ROLE, "patient")
            p_item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.tree.addTopLevelItem(p_item)
            for study in patient.studies:
                n_img = sum(len(s.frames) for s in study.series)
                mods = "/".join(study.modalities)
                st_item = QTreeWidgetItem([f"{study.title}\n{mods} · {len(study.series)} series · "
                                           f"{n_img} image{'s' if n_img != 1 else ''}"])
                st_item.setData(0, KIND_ROLE, "study")
                st_item.setToolTip(0, f"Study UID {study.uid}" +
                                   (f"\nAccession {study.accession}" if study.accession else ""))
                p_item.addChild(st_item)
                for series in study.series:
                    item = QTreeWidgetItem([self._series_text(series)])
                    item.setData(0, KIND_ROLE, "series")
                    item.setData(0, SERIES_ID_ROLE, series.id)
                    item.setData(0, PROGRESS_ROLE, progress.get(series.id))
                    item.setIcon(0, self._thumbs.get(series.id, self._placeholder))
                    item.setToolTip(0, f"{series.title}\n{len(series.frames)} images\n"
                                       f"Series UID {series.uid}\n"
                                       "Double-click or drag onto a viewport to open")
                    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                                  | Qt.ItemFlag.ItemIsDragEnabled)
                    st_item.addChild(item)
                    self._items[series.id] = item
                    self._series[series.id] = series
        self.tree.expandAll()
        self._apply_filter()
        has = bool(self._items)
        self.tree.setVisible(has)
        self.empty.setVisible(not has)
        if current is not None and current.id in self._items:
            self.tree.setCurrentItem(self._items[current.id])

    def set_filter(self, shown) -> None:
        """List only the series for which ``shown(series)`` is true (None: every series);
        a study or patient with none listed is hidden too. Kept when the tree is rebuilt."""
        self._shown = shown
        self._apply_filter()

    def _apply_filter(self) -> None:
        for sid, item in self._items.items():
            item.setHidden(self._shown is not None and not self._shown(self._series[sid]))
        for i in range(self.tree.topLevelItemCount()):
            patient = self.tree.topLevelItem(i)
            for study in (patient.child(j) for j in range(patient.childCount())):
                study.setHidden(all(study.child(k).isHidden() for k in range(study.childCount())))
            patient.setHidden(all(patient.child(j).isHidden()
                                  for j in range(patient.childCount())))

    @staticmethod
    def _series_text(series) -> str:
        n = len(series.frames)
        desc = series.description or "(no description)"
        number = f"#{series.number} " if series.number is not None else ""
        return f"{desc}\n{number}{series.modality or '?'} · {n} image{'s' if n != 1 else ''}"

    def series_ids(self) -> list[int]:
        return list(self._items)

    def item_for(self, series_id: int) -> QTreeWidgetItem | None:
        return self._items.get(series_id)

    def set_progress(self, series_id: int, done: int, total: int) -> None:
        item = self._items.get(series_id)
        if item is not None:
            item.setData(0, PROGRESS_ROLE, (done, total))
            tip = item.toolTip(0).split("\nDecoded")[0]
            item.setToolTip(0, f"{tip}\nDecoded {done}/{total}")

    def set_thumbnail(self, series_id: int, image: QImage) -> None:
        icon = QIcon(self._framed(QPixmap.fromImage(image)))
        self._thumbs[series_id] = icon
        item = self._items.get(series_id)
        if item is not None:
            item.setIcon(0, icon)

    def has_thumbnail(self, series_id: int) -> bool:
        return series_id in self._thumbs

    def forget(self, series_ids) -> None:
        for sid in series_ids:
            self._thumbs.pop(sid, None)

    # -- selection

    def current_series(self):
        item = self.tree.currentItem()
        if item is None:
            return None
        sid = item.data(0, SERIES_ID_ROLE)
        return self._series.get(sid) if sid is not None else None

    def current_study(self):
        """The study of the selected series (or the selected study row)."""
        item = self.tree.currentItem()
        if item is None:
            return None
        if item.data(0, KIND_ROLE) == "study" and item.childCount():
            sid = item.child(0).data(0, SERIES_ID_ROLE)
            return self._series[sid].study
        series = self.current_series()
        return series.study if series is not None else None

    def select_series(self, series_id: int) -> None:
        item = self._items.get(series_id)
        if item is not None:
            self.tree.setCurrentItem(item)

    def _activated(self, item: QTreeWidgetItem, column: int) -> None:
        sid = item.data(0, SERIES_ID_ROLE)
        if sid is not None:
            self.seriesActivated.emit(self._series[sid])

    def _current_changed(self, item, previous) -> None:
        self.selectionChanged.emit(self.current_series() or self.current_study())

    # -- icons

    @staticmethod
    def _blank_icon() -> QIcon:
        pm = QPixmap(THUMB, THUMB)
        pm.fill(QColor(theme.VIEWPORT_BG))
        p = QPainter(pm)
        p.setPen(QColor(theme.BORDER))
        p.drawRect(0, 0, THUMB - 1, THUMB - 1)
        p.end()
        return QIcon(pm)

    @staticmethod
    def _framed(pm: QPixmap) -> QPixmap:
        out = QPixmap(THUMB, THUMB)
        out.fill(QColor(theme.VIEWPORT_BG))
        p = QPainter(out)
        scaled = pm.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                           Qt.TransformationMode.SmoothTransformation)
        p.drawPixmap((THUMB - scaled.width()) // 2, (THUMB - scaled.height()) // 2, scaled)
        p.setPen(QColor(theme.BORDER))
        p.drawRect(0, 0, THUMB - 1, THUMB - 1)
        p.end()
        return out
