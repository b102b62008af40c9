"""The PACS panel: pick a configured node, search its studies, retrieve one with progress
and cancel; the study opens as its first image arrives and fills in as the rest come.

The network work runs in the window's worker pool (:mod:`medview.pacs` through
:class:`~medview.qt.workers.Workers`); the panel only shows state. Nodes are edited in
:class:`~medview.qt.pacs_nodes.NodesDialog` (Nodes…) or with ``medview pacs add``, and read
from the nodes file each time the panel is shown. Nothing connects until the user presses
Echo, Verify, Search or Retrieve. After a retrieve the study store is pruned to its size
limit (``medview pacs local --store-limit-gb``), keeping the studies open in the viewer.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFormLayout,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QProgressBar, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from medview.core.errors import plain_reason
from medview.core.imports import load
from medview.core.user_dirs import user_data_dir
from medview.pacs import client
from medview.pacs.errors import PacsError
from medview.pacs.listener import StorageListener
from medview.pacs.nodes import PacsConfig, load_config
from medview.pacs.query import StudyQuery
from medview.pacs.store import prune
from medview.qt.pacs_nodes import NodesDialog
from medview.qt.workers import Workers

# (header, study result key)
COLUMNS = (("Patient", "PatientName"), ("ID", "PatientID"), ("Date", "StudyDate"),
           ("Modality", "ModalitiesInStudy"), ("Description", "StudyDescription"),
           ("Images", "NumberOfStudyRelatedInstances"), ("Accession", "AccessionNumber"))
STUDY_STORE = "studies"  # <user data dir>/studies: where retrieved studies are kept
RESULTS = "results"  # <user data dir>/results/<time>-<random>: AI results sent as DICOM
# (StudyQuery field, label, placeholder)
_SEARCH_FIELDS = (("patient_id", "Patient ID", ""), ("patient_name", "Patient name", "* ? allowed"),
                  ("modality", "Modality", "e.g. CT"), ("accession", "Accession", ""),
                  ("date_from", "From", "YYYYMMDD"), ("date_to", "To", "YYYYMMDD"))


def study_store() -> Path:
    """The folder retrieved studies are kept in."""
    return user_data_dir() / STUDY_STORE


class PacsPanel(QWidget):
    """Search a node and retrieve studies.

    Signals
    -------
    firstImageArrived(Path)
        The first object of a retrieve is on disk (open it now).
    studyRetrieved(Path)
        The whole study is on disk (its folder); also a received study the user opens
        from the incoming list.
    """

    firstImageArrived = Signal(object)
    studyRetrieved = Signal(object)
    _received = Signal(object, str)  # path, study label: from the listener's threads

    def __init__(self, workers: Workers, parent: QWidget | None = None,
                 store: Path | None = None,
                 open_studies: Callable[[], set[str]] | None = None,
                 shown_result: Callable[[], tuple | None] | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self._store = store
        self._open_studies = open_studies or set
        self._shown_result = shown_result or (lambda: None)
        self._config = PacsConfig()
        self._cancel: threading.Event | None = None
        self._first_shown = False

        self.nodes = QComboBox(self)
        self.echo_button = QPushButton("Echo", self, toolTip="Check the node answers")
        self.nodes_button = QPushButton("Nodes…", self, toolTip="Add, edit or remove PACS "
                                                                "nodes; medview's AE title")
        self.nodes_dialog: NodesDialog | None = None
        top = QHBoxLayout()
        top.addWidget(self.nodes, 1)
        top.addWidget(self.echo_button)
        top.addWidget(self.nodes_button)

        form = QFormLayout()
        self.fields: dict[str, QLineEdit] = {}
        for key, label, hint in _SEARCH_FIELDS:
            edit = QLineEdit(self, placeholderText=hint)
            edit.returnPressed.connect(self.search)
            self.fields[key] = edit
            form.addRow(label, edit)
        self.search_button = QPushButton("Search", self)

        self.results = QTableWidget(0, len(COLUMNS), self)
        self.results.setHorizontalHeaderLabels([c[0] for c in COLUMNS])
        self.results.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.results.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.results.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.results.verticalHeader().hide()
        self.results.itemSelectionChanged.connect(self._update_buttons)
        self.results.itemDoubleClicked.connect(lambda _item: self.retrieve())

        self.retrieve_button = QPushButton("Retrieve", self,
                                           toolTip="Bring the study here and open it; a "
                                                   "partly retrieved study is resumed")
        self.cancel_button = QPushButton("Cancel", self)
        self.progress = QProgressBar(self, textVisible=True)
        self.progress.hide()
        bottom = QHBoxLayout()
        bottom.addWidget(self.retrieve_button)
        bottom.addWidget(self.cancel_button)
        self.send_button = QPushButton("Send AI result", self,
                                       toolTip="Send the AI result of the image shown to the "
                                               "node: a segmentation as DICOM SEG, a "
                                               "classification as an SR (audited)")
        self.capture_check = QCheckBox("with a burned-in capture", self,
                                       toolTip="Also a secondary capture with the mask drawn "
                                               "in, for viewers that do not show SEG (a demo "
                                               "model's says NOT FOR DIAGNOSIS)")
        send_row = QHBoxLayout()
        send_row.addWidget(self.send_button)
        send_row.addWidget(self.capture_check, 1)
        self.receive = QCheckBox("Receive studies pushed to medview", self,
                                 toolTip="Listen for C-STORE as medview's AE title on its "
                                         "storage port (medview pacs local) on every network "
                                         "interface, into the study store")
        self.incoming = QListWidget(self, toolTip="Received studies; double-click opens one")
        self.incoming.hide()
        self._listener: StorageListener | None = None
        self._incoming_items: dict[Path, QListWidgetItem] = {}
        self.status = QLabel(self, wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(form)
        layout.addWidget(self.search_button)
        layout.addWidget(self.results, 1)
        layout.addLayout(bottom)
        layout.addWidget(self.progress)
        layout.addLayout(send_row)
        layout.addWidget(self.receive)
        layout.addWidget(self.incoming)
        layout.addWidget(self.status)
        self.receive.toggled.connect(self.set_receiving)
        self._received.connect(self._show_received)
        self.incoming.itemDoubleClicked.connect(
            lambda item: self.studyRetrieved.emit(item.data(Qt.ItemDataRole.UserRole)))

        self.echo_button.clicked.connect(self.echo)
        self.nodes_button.clicked.connect(self.edit_nodes)
        self.search_button.clicked.connect(self.search)
        self.retrieve_button.clicked.connect(self.retrieve)
        self.cancel_button.clicked.connect(self.cancel)
        self.send_button.clicked.connect(self.send_result)
        self._busy = False
        self.reload_nodes()

    # ------------------------------------------------------------------ nodes

    def reload_nodes(self) -> None:
        """Read the nodes file again (nodes added with ``medview pacs add`` appear)."""
        current = self.nodes.currentText()
        try:
            self._config = load_config()
        except Exception as exc:  # noqa: BLE001 - a damaged nodes file is one line
            self._config = PacsConfig()
            self.status.setText(plain_reason(exc))
        self.nodes.clear()
        for i, name in enumerate(sorted(self._config.nodes)):
            self.nodes.addItem(name)
            self.nodes.setItemData(i, self._config.nodes[name].address(),
                                   Qt.ItemDataRole.ToolTipRole)
        if current:
            self.nodes.setCurrentText(current)
        if not self._config.nodes and not self.status.text():
            self.status.setText("No PACS node is configured. Add one with Nodes… or on the "
                                "command line: medview pacs add NAME --aet AE --host HOST "
                                "--port PORT")
        self._update_buttons()

    def edit_nodes(self) -> NodesDialog:
        """Show the nodes dialog (not modal); the node list follows its changes."""
        if self.nodes_dialog is None:
            self.nodes_dialog = NodesDialog(self.workers, self)
            self.nodes_dialog.changed.connect(self._nodes_changed)
        else:
            self.nodes_dialog.reload()
        self.nodes_dialog.show()
        self.nodes_dialog.raise_()
        return self.nodes_dialog

    def _nodes_changed(self) -> None:
        self.status.clear()
        self.reload_nodes()

    def showEvent(self, event) -> None:
        if not self._busy:
            self.reload_nodes()
        super().showEvent(event)

    def _node(self):
        return self._config.node(self.nodes.currentText())

    # ------------------------------------------------------------------ actions

    def echo(self) -> None:
        node = self._node()
        self._start(f"Contacting {node.name}…", client.echo, node, self._config.local,
                    on_return=lambda s: self.status.setText(
                        f"{node.name} answered in {s * 1000:.0f} ms"))

    def search(self) -> None:
        if not self.search_button.isEnabled():
            return
        node = self._node()
        query = StudyQuery(**{k: e.text().strip() for k, e in self.fields.items()})
        self._start(f"Searching {node.name}…", client.find_studies, node, self._config.local,
                    query, on_return=self._show_results)

    def retrieve(self) -> None:
        row = self.results.currentRow()
        if row < 0 or self._busy:
            return
        uid = self.results.item(row, 0).data(Qt.ItemDataRole.UserRole)
        node = self._node()
        self._cancel = threading.Event()
        self._first_shown = False
        self.progress.setRange(0, 0)
        self.progress.show()

        root, local = self._store or study_store(), self._config.local
        keep = self._open_studies() | {uid}

        def run(worker):
            result = client.retrieve(node, local, uid, root, cancel=self._cancel,
                                     progress=lambda *p: worker.signals.progress.emit(p))
            return result, prune(root, int(local.store_limit_gb * 1e9), keep)

        self._start(f"Retrieving from {node.name}…", run, pass_worker=True,
                    on_progress=self._retrieve_progress, on_return=self._retrieved)

    def send_result(self) -> None:
        """Write the shown AI result's DICOM objects (kept under ``<user data>/results``)
        and send them to the chosen node; each object sent is in the audit log."""
        shown = self._shown_result()
        if shown is None:
            self.status.setText("No AI result for the image shown: analyse it in the AI "
                                "panel first")
            return
        result, frame, entry = shown
        node, local = self._node(), self._config.local
        results = user_data_dir() / RESULTS
        capture = self.capture_check.isChecked()
        is_demo_model = load("medview.analysis.sc_dicom").is_demo_model
        demo = entry is not None and entry.manifest is not None and is_demo_model(
            entry.manifest)

        def run():
            results.mkdir(parents=True, exist_ok=True)  # a new folder per send, by time
            folder = Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=results))
            write = load("medview.analysis.result_files").write_result_files
            written = write(result, frame, folder, capture=capture, demo=demo)
            if not written.paths:
                raise PacsError(node.name, "nothing to send: " + "; ".join(written.notes))
            return load("medview.pacs.send").send_files(node, local, written.paths)

        self._start(f"Sending to {node.name}…", run, on_return=self._sent)

    def _sent(self, outcomes) -> None:
        failed = [o for o in outcomes if not o.sent]
        kinds = ", ".join(_kind(o.path) for o in outcomes if o.sent)
        self.status.setText(f"Sent {kinds} to {self.nodes.currentText()}" if not failed else
                            f"{failed[0].path.name}: {failed[0].reason}")

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.status.setText("Cancelling…")

    def shutdown(self) -> None:
        """The window is closing: stop a retrieve (what arrived is kept) and the listener."""
        self.cancel()
        self.set_receiving(False)

    # ------------------------------------------------------------------ receiving

    def set_receiving(self, on: bool) -> None:
        """Start or stop medview's storage SCP (objects go to the study store)."""
        if on and self._listener is None:
            local = self._config.local
            try:
                self._listener = StorageListener(self._store or study_store(), local.ae_title,
                                                 local.port, on_stored=self._stored)
            except Exception as exc:  # noqa: BLE001 - a port in use is one line
                self.status.setText(plain_reason(exc))
            else:
                self.status.setText(f"Receiving as {local.ae_title} on port "
                                    f"{self._listener.port}")
        elif not on and self._listener is not None:
            self._listener.close()
            self._listener = None
            self.status.setText("Not receiving")
        self.incoming.setVisible(self._listener is not None or self.incoming.count() > 0)
        self.receive.blockSignals(True)
        self.receive.setChecked(self._listener is not None)
        self.receive.blockSignals(False)

    def _stored(self, path: Path) -> None:  # a listener thread: read the label, hand over
        try:
            ds = load("pydicom").dcmread(path, stop_before_pixels=True, specific_tags=[
                "PatientName", "PatientID", "StudyDate", "Modality"])
            label = " · ".join(_cell_text(k, ds.get(k, "")) for k in (
                "PatientName", "PatientID", "StudyDate", "Modality") if ds.get(k))
        except Exception:  # noqa: BLE001 - the file was written; its label is a nicety
            label = ""
        self._received.emit(Path(path), label)

    def _show_received(self, path: Path, label: str) -> None:
        folder = path.parent.parent  # <store>/<study>/<series>/<SOP>.dcm
        item = self._incoming_items.get(folder)
        if item is None:
            item = QListWidgetItem(self.incoming)
            item.setData(Qt.ItemDataRole.UserRole, folder)
            item.setData(Qt.ItemDataRole.UserRole + 1, 0)
            self._incoming_items[folder] = item
        count = item.data(Qt.ItemDataRole.UserRole + 1) + 1
        item.setData(Qt.ItemDataRole.UserRole + 1, count)
        item.setText(f"{label or folder.name} — {count} image{'s' if count > 1 else ''}")
        self.incoming.show()

    # ------------------------------------------------------------------ results

    def _start(self, message: str, fn, *args, **kwargs) -> None:
        self._busy = True
        self.status.setText(message)
        self._update_buttons()
        self.workers.start(fn, *args, on_error=self._failed, on_finished=self._finished,
                           **kwargs)

    def _finished(self) -> None:
        self._busy = False
        self._cancel = None
        self.progress.hide()
        self._update_buttons()

    def _failed(self, exc: BaseException) -> None:
        self.status.setText(plain_reason(exc))

    def _show_results(self, found) -> None:
        studies, truncated = found
        self.results.setRowCount(0)
        for study in studies:
            row = self.results.rowCount()
            self.results.insertRow(row)
            for col, (_, key) in enumerate(COLUMNS):
                value = study.get(key, "")
                item = QTableWidgetItem(_cell_text(key, value))
                if col == 0:
                    item.setData(Qt.ItemDataRole.UserRole, study["StudyInstanceUID"])
                self.results.setItem(row, col, item)
        self.results.resizeColumnsToContents()
        more = " (more match: narrow the search)" if truncated else ""
        self.status.setText(f"{len(studies)} studies{more}")

    def _retrieve_progress(self, p) -> None:
        done, total, path = p
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(f"%v of {total} images")
        if path is not None and not self._first_shown:
            self._first_shown = True
            self.firstImageArrived.emit(Path(path))

    def _retrieved(self, outcome) -> None:
        result, removed = outcome
        here = f" ({result.skipped} were here already)" if result.skipped else ""
        limit = self._config.local.store_limit_gb
        studies = "study" if len(removed) == 1 else "studies"
        pruned = (f"; {len(removed)} older {studies} removed to keep the store under "
                  f"{limit:g} GB" if removed else "")
        self.status.setText(f"Retrieved {result.total} images{here}{pruned}")
        self.studyRetrieved.emit(result.folder)

    def _update_buttons(self) -> None:
        has_node = bool(self._config.nodes)
        self.echo_button.setEnabled(has_node and not self._busy)
        self.send_button.setEnabled(has_node and not self._busy)
        self.search_button.setEnabled(has_node and not self._busy)
        self.retrieve_button.setEnabled(has_node and not self._busy
                                        and self.results.currentRow() >= 0)
        self.cancel_button.setEnabled(self._busy and self._cancel is not None)


def _kind(path: Path) -> str:
    """What a result file is, from the name :mod:`medview.analysis.result_files` gave it."""
    return {"seg": "SEG", "sr": "SR", "sc": "secondary capture"}.get(
        path.stem.rsplit("-", 1)[-1], path.name)


def _cell_text(key: str, value) -> str:
    """A study result value as the table shows it (names without ^, ISO dates)."""
    text = "\\".join(value) if isinstance(value, list) else str(value)
    if key == "PatientName":
        return " ".join(text.replace("^", " ").split())
    if key == "StudyDate" and len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text
