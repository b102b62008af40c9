"""Batch analysis: the current series, its study or a dropped folder, a table and a CSV.

The batch runs in the :class:`~medview.qt.analysis.service.AnalysisService` pool (one image
after another, results cached, so the viewer shows them at once afterwards). The table
fills as rows arrive; *Export CSV* writes one row per image, atomically (a temporary
file in the same folder, then a rename), so an interrupted export never leaves half
a file behind.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QStandardPaths, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QComboBox, QDialog, QFileDialog, QHBoxLayout, QHeaderView,
                               QLabel, QProgressBar, QPushButton, QTableView, QVBoxLayout)

from medview.qt import theme
from medview.analysis.pool_jobs import DONE, BatchJob, BatchRow
from medview.analysis.measure import (VolumeEstimate, format_area, format_volume,
                                         series_volume)
from medview.qt.drop_paths import accept_url_drag, take_dropped_paths
from medview.qt.settings import value_or_default

SOURCES = ("series", "study", "folder")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --------------------------------------------------------------------------- CSV


def _text_cell(value) -> str:
    """Text as a spreadsheet shows it, never as a formula (CSV injection)."""
    s = "" if value is None else str(value)
    return "'" + s if s.startswith(_FORMULA_START) else s


def csv_header(task: str, classes: list[str]) -> list[str]:
    head = ["file", "frame", "sop_instance_uid", "model", "version", "engine", "device",
            "precision", "label"]
    if task == "classification":
        head += [f"p_{c}" for c in classes]
    else:
        head += [f"area_{c}" for c in classes] + ["area_unit"]
    return head + ["scope", "unlike_training", "ms", "error"]


def csv_rows(job: BatchJob, task: str, classes: list[str]) -> list[list]:
    """One list of cells per image of ``job``, in the order of :func:`csv_header`."""
    out = []
    for row in job.rows:
        p = row.provenance
        cells = [_text_cell(row.file), row.frame,
                 _text_cell(p.get("sop_instance_uid") or ""),
                 _text_cell(p.get("model", job.model.name)),
                 _text_cell(p.get("version", job.model.version)),
                 p.get("engine", ""), p.get("device", ""), p.get("precision", ""),
                 _text_cell(row.label or "")]
        if task == "classification":
            cells += [("" if c not in row.probabilities else f"{row.probabilities[c]:.6f}")
                      for c in classes]
        else:
            cells += [("" if c not in row.areas else f"{row.areas[c].value:.3f}")
                      for c in classes]
            unit = next(iter(row.areas.values())).unit if row.areas else ""
            cells.append({"mm²": "mm2", "px²": "px2"}.get(unit, unit))
        cells += [p.get("scope", ""), p.get("unlike_training", ""),
                  "" if row.error else f"{row.ms:.1f}", _text_cell(row.error)]
        out.append(cells)
    return out


def write_csv_atomic(path: str | Path, header: list[str], rows: list[list]) -> Path:
    """Write a CSV (UTF-8 with BOM, which spreadsheet programs read as UTF-8) atomically.

    Raises
    ------
    OSError
        If the folder cannot be written; the target is then left as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


# --------------------------------------------------------------------------- table


class BatchTableModel(QAbstractTableModel):
    """Rows of a batch: file/frame, label, per-class probability or area, ms."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[BatchRow] = []
        self.task = "classification"
        self.classes: list[str] = []

    def reset(self, task: str, classes: list[str]) -> None:
        self.beginResetModel()
        self.rows, self.task, self.classes = [], task, list(classes)
        self.endResetModel()

    def add(self, row: BatchRow) -> None:
        n = len(self.rows)
        self.beginInsertRows(QModelIndex(), n, n)
        self.rows.append(row)
        self.endInsertRows()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else 4 + len(self.classes)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role != Qt.ItemDataRole.DisplayRole or orientation != Qt.Orientation.Horizontal:
            return None
        names = ["File", "Frame", "Label"] + [
            (f"P({c})" if self.task == "classification" else f"Area {c}") for c in self.classes
        ] + ["ms"]
        return names[section] if 0 <= section < len(names) else None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        col = index.column()
        last = 3 + len(self.classes)
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return Path(row.file).name
            if col == 1:
                return row.frame
            if col == 2:
                return f"error: {row.error}" if row.error else (row.label or "—")
            if col == last:
                return "" if row.error else f"{row.ms:.0f}"
            name = self.classes[col - 3]
            if self.task == "classification":
                p = row.probabilities.get(name)
                return "" if p is None else f"{p * 100:.1f} %"
            m = row.areas.get(name)
            return "" if m is None else format_area(m)
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.error or row.file
        if role == Qt.ItemDataRole.ForegroundRole and col == 2 and row.error:
            return QColor(theme.ERROR)
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


# --------------------------------------------------------------------------- dialog


class BatchDialog(QDialog):
    """Non-modal batch window of the AI panel (``panel`` gives the model and the series).

    Attributes
    ----------
    job : BatchJob or None
        The batch shown (the last one started).
    table_model : BatchTableModel
    """

    batchDone = Signal(object)   # BatchJob

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.panel = panel
        self.service = panel.service
        self.job: BatchJob | None = None
        self._manifest = None
        self._series = None
        self._described = False
        self.setWindowTitle("Batch analysis")
        self.setObjectName("AiBatchDialog")
        self.setAcceptDrops(True)
        self.resize(760, 520)

        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.source_combo = QComboBox(self)
        self.source_combo.addItem("Current series", "series")
        self.source_combo.addItem("Current study", "study")
        self.source_combo.addItem("Folder…", "folder")
        self.start_button = QPushButton("Start", self)
        self.cancel_button = QPushButton("Cancel", self)
        self.export_button = QPushButton("Export CSV…", self)
        top.addWidget(QLabel("Analyse:", self))
        top.addWidget(self.source_combo)
        top.addStretch(1)
        for b in (self.start_button, self.cancel_button, self.export_button):
            top.addWidget(b)
        lay.addLayout(top)
        self.hint_label = QLabel("…or drop a folder or files here.", self)
        self.hint_label.setStyleSheet(f"color: {theme.TEXT_DIM};")
        lay.addWidget(self.hint_label)
        self.model_label = QLabel(self)
        lay.addWidget(self.model_label)
        prow = QHBoxLayout()
        self.progress = QProgressBar(self)
        self.progress.setTextVisible(True)
        self.status_label = QLabel(self)
        prow.addWidget(self.progress, 2)
        prow.addWidget(self.status_label, 3)
        lay.addLayout(prow)
        self.table_model = BatchTableModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.table_model)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.doubleClicked.connect(self._row_activated)
        lay.addWidget(self.table, 1)
        self.summary_label = QLabel(self)
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.summary_label)

        self.start_button.clicked.connect(lambda: self.start())
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button.clicked.connect(lambda: self.export_csv())
        self.service.batchRow.connect(self._on_row)
        self.service.batchStatus.connect(self._on_status)
        self.service.batchFinished.connect(self._on_finished)
        self.service.modelStatus.connect(self._on_model_status)
        self._update_buttons()

    # ------------------------------------------------------------------ running

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.is_open

    def start(self, source: str | None = None, paths: list[str] | None = None) -> BatchJob | None:
        """Start a batch over ``source`` (``"series"``, ``"study"``, ``"folder"``) or ``paths``."""
        entry = self.panel.picker.current()
        if entry is None:
            self._status("No model is installed: import one in the AI panel first.", error=True)
            return None
        if self.running:
            self.cancel()
        source = source or self.source_combo.currentData()
        self._series = None
        frames, title = None, ""
        if paths is None and source == "folder":
            folder = QFileDialog.getExistingDirectory(self, "Analyse a folder", self._start_dir())
            if not folder:
                return None
            paths = [folder]
        if paths is not None:
            title = ", ".join(Path(p).name for p in paths[:3]) + ("…" if len(paths) > 3 else "")
        else:
            series = self.panel.current_series()
            if series is None:
                self._status("Open a series first (or drop a folder here).", error=True)
                return None
            if source == "study" and series.study is not None:
                frames = [f for s in series.study.series for f in s.frames]
                title = f"study {series.study.title}"
            else:
                frames = list(series.frames)
                title = f"series {series.title}"
                self._series = series
        m = entry.manifest
        self._manifest = m
        self.table_model.reset(m.task, list(m.classes) if m.task == "classification" else
                               [n for _, n in sorted(self._mask_values(m).items())])
        self._described = False
        self.job = self.service.run_batch(
            entry, frames=frames, paths=paths, title=title,
            accept_unknown_body_part=self.panel.accepts_unknown_body_part(entry))
        self.model_label.setText(f"{title} — model {m.name} {m.version}")
        self.progress.setRange(0, max(1, self.job.total) if frames is not None else 0)
        self.progress.setValue(0)
        self.summary_label.clear()
        self._status("Waiting for the model…" if self.job.state == "waiting" else "Starting…")
        self._update_buttons()
        self.show()
        self.raise_()
        return self.job

    @staticmethod
    def _mask_values(manifest) -> dict[int, str]:
        if manifest.activation == "softmax":
            return {i: c for i, c in enumerate(manifest.classes) if i > 0}
        return {i + 1: c for i, c in enumerate(manifest.classes)}

    def cancel(self) -> None:
        if self.job is not None:
            self.service.cancel_batch(self.job)

    def _on_model_status(self, key: str, message: str) -> None:
        if self.job is not None and self.job.state == "waiting" and key == self.job.model.key:
            self._status(message)

    def _on_status(self, job: BatchJob, message: str) -> None:
        if job is not self.job:
            return
        if job.total:
            self.progress.setRange(0, job.total)
        self._status(message)

    def _on_row(self, job: BatchJob, row: BatchRow) -> None:
        if job is not self.job:
            return
        self.table_model.add(row)
        self.progress.setRange(0, max(1, job.total))
        self.progress.setValue(len(job.rows))
        self._status(f"{len(job.rows)} of {job.total} images")
        p = row.provenance
        if p and not self._described:
            self._described = True
            self.model_label.setText(
                f"{job.title} — model {p['model']} {p['version']} · {p['engine']} "
                f"{p['precision']} · {str(p['device']).upper()}")
            self.table.resizeColumnsToContents()
            self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

    def _on_finished(self, job: BatchJob) -> None:
        if job is not self.job:
            return
        errors = sum(1 for r in job.rows if r.error)
        if job.state == DONE:
            text = f"Done: {len(job.rows)} images in {job.seconds:.1f} s"
            if errors:
                text += f", {errors} could not be analysed"
            if job.skipped:
                text += f"; {len(job.skipped)} files skipped"
            self._status(text, error=bool(errors))
        elif job.state == "failed":
            self._status(job.message, error=True)
        else:
            self._status(f"Cancelled after {len(job.rows)} of {job.total} images")
        self.summary_label.setText(self.summary_text())
        self._update_buttons()
        self.batchDone.emit(job)

    # ------------------------------------------------------------------ results

    def volume(self) -> VolumeEstimate | None:
        """Per-class volume when the batch covered one series with a segmentation model."""
        if self.job is None or self._series is None or self._manifest is None \
                or self._manifest.task != "segmentation":
            return None
        areas = {r.frame_key: r.areas for r in self.job.rows if not r.error}
        return series_volume(self._series.frames, areas)

    def summary_text(self) -> str:
        if self.job is None:
            return ""
        vol = self.volume()
        if vol is None:
            return ""
        if vol.reason:
            return f"No volume: {vol.reason}."
        parts = [f"{name} {format_volume(v)}" for name, v in vol.mm3.items()]
        sp = vol.spacing
        return (f"Volume ({vol.slices_used} of {vol.slices_total} slices, {sp.mm:g} mm apart, "
                f"from {sp.source}): " + ", ".join(parts))

    def export_csv(self, path: str | Path | None = None) -> Path | None:
        """Write the table as CSV (asks where when ``path`` is None)."""
        if self.job is None or not self.job.rows:
            self._status("Nothing to export yet.", error=True)
            return None
        if path is None:
            start = str(Path(self._start_dir()) / f"{self.job.model.name}-batch.csv")
            path, _ = QFileDialog.getSaveFileName(self, "Export CSV", start, "CSV (*.csv)")
            if not path:
                return None
        task = self.table_model.task
        classes = self.table_model.classes
        try:
            out = write_csv_atomic(path, csv_header(task, classes),
                                   csv_rows(self.job, task, classes))
        except OSError as err:
            self._status(f"{path}: cannot write ({err.strerror or err})", error=True)
            return None
        settings = getattr(self.panel, "settings", None)
        if settings is not None:
            settings.set_value("general/last_export_dir", str(out.parent))
        self._status(f"Wrote {len(self.job.rows)} rows to {out.name}")
        return out

    # ------------------------------------------------------------------ helpers

    def _start_dir(self) -> str:
        settings = getattr(self.panel, "settings", None)
        last = value_or_default(settings, "general/last_export_dir")
        return last or QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.DocumentsLocation)

    def _status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(" ".join(str(text).split()))
        self.status_label.setToolTip(text)
        self.status_label.setStyleSheet(f"color: {theme.ERROR};" if error else "")

    def _update_buttons(self) -> None:
        running = self.running
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.export_button.setEnabled(self.job is not None and bool(self.job.rows)
                                      and not running)

    def _row_activated(self, index) -> None:
        if self.job is not None and 0 <= index.row() < len(self.table_model.rows):
            self.panel.show_frame(self.table_model.rows[index.row()].frame_key)

    # -- drop a folder or files

    def dragEnterEvent(self, event) -> None:
        accept_url_drag(event)

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        paths = take_dropped_paths(event)
        if paths:
            self.start(paths=paths)
