"""Step 1 of a new job: choose the labelled images and see what is in them.

Shows, for the chosen folder or CSV (read in a pool thread with
:func:`trainer.data.datasets.discover`, the trainer's own reader, so the preview is exactly
what training will use): the task, images and patients per class, image sizes, a few
thumbnails per class, every file that will be left out with its reason, and the
train / validation / test split per class as the trainer will make it
(:func:`trainer.data.splits.stratified_split`, whole patients on one side).

With nothing chosen it explains the layouts it understands and offers to write the
synthetic demo data set (:func:`medview.demo.demo_data.write_demo_data`) in the
background, then opens it.
"""

from __future__ import annotations

from pathlib import Path

import shiboken6
from PySide6.QtCore import QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QFrame, QGridLayout, QHBoxLayout,
                               QHeaderView, QLabel, QProgressBar, QPushButton, QScrollArea,
                               QSizePolicy, QTableWidget,
                               QTableWidgetItem, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from medview.core.imports import load
from medview.qt import theme
from medview.qt.settings import value_or_default

__all__ = ["DatasetPage", "THUMBS_PER_CLASS", "DEMO_N", "DEMO_SIZE", "GUIDANCE"]

THUMBS_PER_CLASS = 6
THUMB_SIZE = 84
DEMO_N, DEMO_SIZE = 40, 128  # 80 classification + 40 segmentation images: ~15 s on 2 cores

GUIDANCE = (
    "<b>Choose the labelled images to learn from.</b><br>"
    "medview understands three layouts:"
    "<ul>"
    "<li><b>A folder of class folders</b> — <code>cases/normal/…</code>, <code>cases/lesion/…</code>: "
    "each sub-folder is a class (classification).</li>"
    "<li><b>A CSV file</b> with columns <code>path,label</code> and optionally <code>patient_id</code> "
    "(classification; paths relative to the CSV).</li>"
    "<li><b>A folder with <code>images/</code> and <code>masks/</code></b> — a mask PNG per image with "
    "the same name; 0 is background (segmentation).</li>"
    "</ul>"
    "DICOM, PNG, JPEG and TIFF files all work. Images of one patient are always kept on the same side "
    "of the train / validation / test split.<br><br>"
    "No labelled cases at hand? <b>Create demo data set…</b> writes synthetic chest radiographs "
    "(clearly marked, no patient data) to try everything end to end."
)


def _thumbnail_job(worker, samples: list[tuple[int, int, Path, int, Path | None]]):
    """Pool thread: yield (class row, slot, QImage) for each (row, slot, path, frame, mask)."""
    load_paths = load("medview.core.io.folder").load_paths
    from medview.qt.browser.thumbnails import render_thumbnail

    library = load_paths(sorted({s[2] for s in samples}))
    frames = {(f.path.resolve(), f.index): f for f in library.frames()}
    for row, slot, path, index, mask in samples:
        if worker.is_cancelled():
            return
        frame = frames.get((Path(path).resolve(), index))
        if frame is None:
            continue
        try:
            img = render_thumbnail(frame, THUMB_SIZE)
            if img is not None and mask is not None:
                img = _tint(img, mask)
        except Exception:  # a thumbnail is a nicety; the file's problems show in the summary
            continue
        if img is not None:
            yield row, slot, img


def _tint(img: QImage, mask_path: Path) -> QImage:
    """The thumbnail with the mask's foreground tinted (segmentation preview)."""
    import numpy as np

    load_mask = load("trainer.data.images").load_mask

    mask = load_mask(mask_path) > 0
    img = img.convertToFormat(QImage.Format.Format_RGB32)
    w, h = img.width(), img.height()
    ptr = img.bits()
    arr = np.frombuffer(ptr, np.uint8).reshape(h, img.bytesPerLine() // 4, 4)[:, :w]
    rows = (np.arange(h) * mask.shape[0] / h).astype(int)
    cols = (np.arange(w) * mask.shape[1] / w).astype(int)
    m = mask[rows][:, cols]
    arr = arr.copy()
    arr[m, 2] = np.clip(arr[m, 2] * 0.4 + 255 * 0.6, 0, 255)  # BGRA: red up
    arr[m, 1] = arr[m, 1] * 0.5
    arr[m, 0] = arr[m, 0] * 0.7
    out = QImage(arr.data, w, h, 4 * w, QImage.Format.Format_RGB32)
    return out.copy()


def _discover_job(path: str):
    """The data set, and the intended input its images' DICOM tags imply."""
    datasets = load("trainer.data.datasets")
    scope = load("medview.inference.scope")

    dataset = datasets.discover(path)
    return dataset, scope.derive_for_files(datasets.sample_paths(dataset.samples))


def _split_job(dataset, val: float, test: float, seed: int):
    stratified_split = load("trainer.data.splits").stratified_split

    return stratified_split(dataset.strata(), dataset.groups(), val_fraction=val, test_fraction=test, seed=seed)


def _demo_job(worker, out: str, n: int, size: int, seed: int):
    write_demo_data = load("medview.demo.demo_data").write_demo_data

    def progress(done: int, total: int) -> None:
        worker.signals.progress.emit((done, total))
        if worker.is_cancelled():
            raise InterruptedError("cancelled")

    # with the lesion masks: the recipe's default network then learns where the lesions are
    return write_demo_data(out, n=n, size=size, seed=seed, progress=progress, masks=True)


def _fmt_size(s) -> str:
    return "×".join(str(v) for v in s) if s else "?"


class DatasetPage(QWidget):
    """The data set chooser and preview.

    Signals
    -------
    datasetChanged(object)
        The discovered :class:`trainer.data.datasets.LabelledDataset`, or None.
    """

    datasetChanged = Signal(object)
    #: What the images' DICOM tags say they are (an ``IntendedInput``), before datasetChanged.
    intendedChanged = Signal(object)

    def __init__(self, workers, settings=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.settings = settings
        self.path: Path | None = None
        self.dataset = None
        self.split = None
        self.error: str | None = None
        self._split_args = (0.15, 0.15, 0)
        self._token = 0
        self._thumb_worker = None
        self._demo_worker = None
        self.thumbs: dict[int, list[QLabel]] = {}
        self._split_timer = QTimer(self, singleShot=True, interval=150)
        self._split_timer.timeout.connect(self._compute_split)
        self._build()
        self._show_state()

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        self.folder_button = QPushButton("Folder…")
        self.folder_button.setToolTip("A folder of class folders, or a folder with images/ and masks/")
        self.folder_button.clicked.connect(self._choose_folder)
        self.csv_button = QPushButton("CSV file…")
        self.csv_button.setToolTip("A table with columns path,label[,patient_id]")
        self.csv_button.clicked.connect(self._choose_csv)
        self.demo_button = QPushButton("Create demo data set…")
        self.demo_button.setToolTip(f"Write synthetic radiographs ({2 * DEMO_N} classification images, "
                                    f"{DEMO_N} with masks) into a folder you choose, then open them")
        self.demo_button.clicked.connect(self._choose_demo_folder)
        self.path_label = QLabel()
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path_label.setStyleSheet(f"color: {theme.TEXT_DIM};")
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>1. Labelled images</b>"))
        top.addWidget(self.folder_button)
        top.addWidget(self.csv_button)
        top.addWidget(self.demo_button)
        top.addStretch(1)
        # a long path must not widen the page: it gets its own row and may be cut (tooltip whole)
        self.path_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        self.guidance = QLabel(GUIDANCE)
        self.guidance.setWordWrap(True)
        self.guidance.setTextFormat(Qt.TextFormat.RichText)
        self.guidance.setFrameShape(QFrame.Shape.StyledPanel)
        self.guidance.setContentsMargins(10, 8, 10, 8)

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.progress.hide()

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)

        self.class_table = QTableWidget(0, 5)
        self.class_table.setHorizontalHeaderLabels(["class", "images", "train", "validation", "test"])
        self.class_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.class_table.verticalHeader().setVisible(False)
        self.class_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.class_table.setSizeAdjustPolicy(QAbstractItemView.SizeAdjustPolicy.AdjustToContents)
        self.class_table.setMaximumHeight(170)
        self.split_note = theme.note_label()

        self.thumb_grid = QGridLayout()
        self.thumb_grid.setHorizontalSpacing(4)
        self.thumb_grid.setVerticalSpacing(4)
        self.thumb_box = QWidget()
        self.thumb_box.setLayout(self.thumb_grid)
        # in a narrow window the thumbnails scroll sideways instead of widening the page
        self.thumb_scroll = QScrollArea()
        self.thumb_scroll.setWidget(self.thumb_box)
        self.thumb_scroll.setWidgetResizable(True)
        self.thumb_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.thumb_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.problems = QTreeWidget()
        self.problems.setHeaderLabels(["left out / warning", "reason"])
        self.problems.setRootIsDecorated(False)
        self.problems.setAlternatingRowColors(True)
        self.problems.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.problems.setColumnWidth(0, 320)
        self.problems.setMaximumHeight(140)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.path_label)
        lay.addWidget(self.guidance)
        lay.addWidget(self.status)
        lay.addWidget(self.progress)
        lay.addWidget(self.summary)
        lay.addWidget(self.thumb_scroll)
        lay.addWidget(self.class_table)
        lay.addWidget(self.split_note)
        lay.addWidget(self.problems)

    # ------------------------------------------------------------------ choosing

    def _start_dir(self) -> str:
        last = value_or_default(self.settings, "trainer/last_dataset")
        if last:
            return str(Path(last).parent)
        return QStandardPaths.writableLocation(QStandardPaths.StandardLocation.HomeLocation)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of labelled images", self._start_dir())
        if folder:
            self.set_path(folder)

    def _choose_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Labels CSV", self._start_dir(), "CSV files (*.csv);;All files (*)")
        if path:
            self.set_path(path)

    def _choose_demo_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Where to write the demo data set", self._start_dir())
        if folder:
            self.create_demo(Path(folder) / "medview-demo-data")

    def create_demo(self, out: str | Path, n: int = DEMO_N, size: int = DEMO_SIZE, seed: int = 0) -> None:
        """Write the demo data set into ``out`` in the background, then open its labels CSV."""
        out = Path(out)
        self.demo_button.setEnabled(False)
        self.status.setText(f"Writing the demo data set into {out}…")
        self.status.setStyleSheet("")
        self.progress.setRange(0, 3 * n)
        self.progress.setValue(0)
        self.progress.show()

        def done(result) -> None:
            self.progress.hide()
            self.demo_button.setEnabled(True)
            self.set_path(out / "labels.csv")

        def failed(exc) -> None:
            self.progress.hide()
            self.demo_button.setEnabled(True)
            self._fail(f"Could not write the demo data set into {out}: {exc}")

        self._demo_worker = self.workers.start(_demo_job, str(out), n, size, seed, pass_worker=True,
                                               on_return=done, on_error=failed,
                                               on_progress=lambda p: self.progress.setValue(p[0]))

    def set_path(self, path: str | Path | None) -> None:
        """Read ``path`` (folder or CSV) in the background; None clears the choice."""
        self._token += 1
        if self._thumb_worker is not None:
            self._thumb_worker.cancel()
        self.path = Path(path) if path else None
        self.dataset = self.split = None
        self.error = None
        self.datasetChanged.emit(None)
        if self.path is None:
            self._show_state()
            return
        if self.settings is not None:
            self.settings.set_value("trainer/last_dataset", str(self.path))
        token = self._token
        self.status.setText(f"Reading {self.path.name}…")
        self.status.setStyleSheet("")
        self.progress.setRange(0, 0)
        self.progress.show()
        self._show_state()
        self.workers.start(_discover_job, str(self.path),
                           on_return=lambda found: token == self._token and self._discovered(*found),
                           on_error=lambda exc: token == self._token and self._fail(str(exc)))

    def set_split_fractions(self, val: float, test: float, seed: int) -> None:
        """Preview the split the job will make (called when the setup form changes)."""
        if (val, test, seed) != self._split_args:
            self._split_args = (val, test, seed)
            if self.dataset is not None:
                self._split_timer.start()

    # ------------------------------------------------------------------ results

    def _fail(self, message: str) -> None:
        self.progress.hide()
        self.error = message
        self.status.setText(message)
        self.status.setStyleSheet(f"color: {theme.ERROR};")
        self._show_state()

    def _discovered(self, ds, intended=None) -> None:
        self.progress.hide()
        self.intendedChanged.emit(intended)
        self.dataset = ds
        self.status.setText("")
        s = ds.summary
        sizes = (f"{_fmt_size(s.size_min)} to {_fmt_size(s.size_max)}, most often {_fmt_size(s.size_most_common)} "
                 f"({s.size_most_common_count} images)") if s.size_min else "?"
        if s.size_min == s.size_max and s.size_min:
            sizes = f"all {_fmt_size(s.size_min)}"
        task = "Classification" if ds.task == "classification" else "Segmentation"
        no_id = (f"; {s.n_without_patient_id} images without a patient ID (each counts as its own patient)"
                 if s.n_without_patient_id else "")
        self.summary.setText(f"<b>{task}</b> · {s.n_samples} images · {len(ds.classes)} classes · "
                             f"{s.n_patients} patients{no_id} · sizes {sizes}")
        self._fill_problems(s)
        self._fill_classes()
        self._start_thumbnails()
        self._show_state()
        self._compute_split()
        self.datasetChanged.emit(ds)

    def _fill_problems(self, s) -> None:
        self.problems.clear()
        for w in s.warnings:
            item = QTreeWidgetItem(["warning", w])
            item.setForeground(0, pg_colour(theme.WARNING))
            item.setToolTip(1, w)
            self.problems.addTopLevelItem(item)
        for path, reason in s.skipped:
            item = QTreeWidgetItem([str(path), reason])
            item.setToolTip(0, str(path))
            item.setToolTip(1, reason)
            self.problems.addTopLevelItem(item)
        n = len(s.skipped)
        self.problems.setHeaderLabels([f"{n} file(s) left out" if n else "nothing left out", "reason"])
        self.problems.setVisible(bool(s.warnings or s.skipped))

    def _fill_classes(self) -> None:
        ds = self.dataset
        self.class_table.setRowCount(len(ds.classes))
        for i, name in enumerate(ds.classes):
            self.class_table.setItem(i, 0, QTableWidgetItem(name))
            self.class_table.setItem(i, 1, QTableWidgetItem(str(ds.summary.counts.get(name, 0))))
            for j in (2, 3, 4):
                self.class_table.setItem(i, j, QTableWidgetItem("…"))

    def _compute_split(self) -> None:
        if self.dataset is None:
            return
        token, ds = self._token, self.dataset
        val, test, seed = self._split_args
        self.workers.start(_split_job, ds, val, test, seed,
                           on_return=lambda sp: token == self._token and self._split_done(sp),
                           on_error=lambda exc: token == self._token and self._split_failed(str(exc)))

    def _split_done(self, split) -> None:
        import numpy as np

        self.split = split
        ds = self.dataset
        strata = ds.strata()
        groups = np.array(ds.groups(), dtype=object)
        seg = ds.task == "segmentation"
        for part, col in (("train", 2), ("val", 3), ("test", 4)):
            idx = getattr(split, part)
            for i in range(len(ds.classes)):
                if seg:  # images whose mask contains class i
                    n = sum(1 for k in idx if i in ds.samples[k].classes_present)
                else:
                    n = int(np.sum(strata[idx] == i))
                self.class_table.setItem(i, col, QTableWidgetItem(str(n)))
        sizes = split.sizes()
        patients = {p: len(set(groups[getattr(split, p)])) for p in ("train", "val", "test")}
        summary = ds.summary
        by_patient = summary.split_by == "patient"
        unit = "patients" if by_patient else "patients or single images"
        tail = ("No patient is on two sides; the test set is only used for the final report." if by_patient else
                f"⚠ The split is {summary.split_description()}: images of one patient may be on two sides "
                "(leakage), so the test scores may look better than they are. Give every image a patient ID.")
        self.split_note.setText(
            f"Split: train {sizes['train']} images ({patients['train']} {unit}) · validation {sizes['val']} "
            f"({patients['val']}) · test {sizes['test']} ({patients['test']}). {tail}")
        self.split_note.setStyleSheet(f"color: {theme.TEXT_DIM if by_patient else theme.WARNING};")

    def _split_failed(self, message: str) -> None:
        self.split = None
        self.split_note.setText(f"Cannot split this data set: {message}")
        self.split_note.setStyleSheet(f"color: {theme.ERROR};")

    # ------------------------------------------------------------------ thumbnails

    def _start_thumbnails(self) -> None:
        while self.thumb_grid.count():
            item = self.thumb_grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.thumbs = {}
        ds = self.dataset
        by_class: dict[int, list] = {i: [] for i in range(len(ds.classes))}
        for s in ds.samples:
            if ds.task == "segmentation":
                k = max(s.classes_present, default=0)
                by_class.setdefault(k, []).append((s.image, 0, s.mask))
            else:
                by_class[s.label].append((s.path, s.frame, None))
        jobs = []
        for row, (k, items) in enumerate(sorted(by_class.items())):
            name = ds.classes[k] if k < len(ds.classes) else str(k)
            if ds.task == "segmentation":  # rows by the highest class a mask holds
                name = "empty masks" if k == 0 else f"with {name}"
            label = QLabel(f"<b>{name}</b><br>{len(items)} images")
            label.setMinimumWidth(90)
            self.thumb_grid.addWidget(label, row, 0)
            step = max(1, len(items) // THUMBS_PER_CLASS)
            chosen = items[::step][:THUMBS_PER_CLASS]
            self.thumbs[row] = []
            for slot, (path, frame, mask) in enumerate(chosen):
                cell = QLabel()
                cell.setFixedSize(THUMB_SIZE, THUMB_SIZE)
                cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
                cell.setStyleSheet(f"background: {theme.VIEWPORT_BG}; border: 1px solid {theme.BORDER};")
                cell.setToolTip(str(path))
                self.thumb_grid.addWidget(cell, row, slot + 1)
                self.thumbs[row].append(cell)
                jobs.append((row, slot, path, frame, mask))
        self.thumb_grid.setColumnStretch(THUMBS_PER_CLASS + 1, 1)
        bar = self.thumb_scroll.horizontalScrollBar().sizeHint().height()
        self.thumb_scroll.setFixedHeight(self.thumb_box.sizeHint().height() + bar)
        token = self._token
        self._thumb_worker = self.workers.start(
            _thumbnail_job, jobs, pass_worker=True,
            on_progress=lambda r: token == self._token and self._thumbnail(*r))

    def _thumbnail(self, row: int, slot: int, img: QImage) -> None:
        cells = self.thumbs.get(row)
        # a thumbnail may arrive after its window closed: its cell is then gone
        if cells and slot < len(cells) and shiboken6.isValid(cells[slot]):
            cells[slot].setPixmap(QPixmap.fromImage(img))

    # ------------------------------------------------------------------ state

    def _show_state(self) -> None:
        has = self.dataset is not None
        self.guidance.setVisible(self.path is None or (self.error is not None and self.dataset is None))
        self.path_label.setText(str(self.path) if self.path else "no data set chosen")
        self.path_label.setToolTip(str(self.path) if self.path else "")
        for w in (self.summary, self.thumb_scroll, self.class_table, self.split_note):
            w.setVisible(has)
        if not has:
            self.problems.hide()


def pg_colour(hex_colour: str):
    from PySide6.QtGui import QBrush, QColor

    return QBrush(QColor(hex_colour))
