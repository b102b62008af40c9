"""The PACS nodes dialog: add, edit and remove nodes and set medview's own AE title and
port, with Verify (C-ECHO, or a QIDO-RS ping for DICOMweb) off the GUI thread.

It reads and writes the nodes file through :mod:`medview.pacs.nodes` (``add_node``,
``remove_node``, ``set_local``), as ``medview pacs add | remove | local`` do; every
check of a setting is :meth:`medview.pacs.nodes.Node.validated`'s. Secrets are not typed
in: a DICOMweb node names the environment variables that hold its password or token.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox,
                               QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QListWidget, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from medview.core.errors import plain_reason
from medview.pacs import client
from medview.pacs.nodes import (DEFAULT_TIMEOUT_S, LocalAE, Node, PacsConfig, add_node,
                                load_config, remove_node, set_local)
from medview.qt.workers import Workers

DIMSE, DICOMWEB = 0, 1  # the kind combo box's rows


class NodesDialog(QDialog):
    """Edit the nodes file. ``changed`` is emitted after each save or removal."""

    changed = Signal()

    def __init__(self, workers: Workers, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("PACS nodes")
        self.workers = workers
        self._config = PacsConfig()
        self._verifying = False

        self.list = QListWidget(self)
        self.add_button = QPushButton("Add", self)
        self.remove_button = QPushButton("Remove", self)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        left.addLayout(buttons)

        self.name = QLineEdit(self, placeholderText="e.g. pacs")
        self.kind = QComboBox(self)
        self.kind.addItems(["DICOM (C-ECHO, C-FIND, C-GET/C-MOVE)", "DICOMweb (QIDO/WADO/STOW)"])
        self.ae_title = QLineEdit(self, maxLength=16, placeholderText="the node's AE title")
        self.host = QLineEdit(self, placeholderText="host name or address")
        self.port = QSpinBox(self, minimum=1, maximum=65535, value=104)
        self.tls = QCheckBox("TLS", self)
        self.tls_ca = QLineEdit(self, placeholderText="CA bundle file (default: the system's)")
        self.url = QLineEdit(self, placeholderText="http://pacs:8042/dicom-web")
        self.user = QLineEdit(self, placeholderText="basic authentication user (optional)")
        self.password_env = QLineEdit(self, placeholderText="variable holding the password")
        self.token_env = QLineEdit(self, placeholderText="variable holding a bearer token")
        self.timeout = QDoubleSpinBox(self, minimum=1, maximum=600, value=DEFAULT_TIMEOUT_S,
                                      suffix=" s")
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Kind", self.kind)
        self._dimse_rows = (self.ae_title, self.host, self.port, self.tls, self.tls_ca)
        self._web_rows = (self.url, self.user, self.password_env, self.token_env)
        for label, widget in zip(("AE title", "Host", "Port", "", "TLS CA", "URL", "User",
                                  "Password env", "Token env"),
                                 self._dimse_rows + self._web_rows):
            form.addRow(label, widget)
        form.addRow("Timeout", self.timeout)
        self.form = form
        self.save_button = QPushButton("Save node", self)
        self.verify_button = QPushButton("Verify", self, toolTip="C-ECHO, or a QIDO-RS query "
                                                                 "for a DICOMweb node")
        node_buttons = QHBoxLayout()
        node_buttons.addWidget(self.verify_button)
        node_buttons.addStretch(1)
        node_buttons.addWidget(self.save_button)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addLayout(node_buttons)
        right.addStretch(1)
        top = QHBoxLayout()
        top.addLayout(left, 1)
        top.addLayout(right, 2)

        local_box = QGroupBox("This computer (medview)", self)
        self.local_ae = QLineEdit(local_box, maxLength=16)
        self.local_port = QSpinBox(local_box, minimum=1, maximum=65535,
                                   toolTip="Port medview's storage SCP listens on (C-MOVE "
                                           "destination, receiving)")
        self.store_limit = QDoubleSpinBox(local_box, minimum=0.1, maximum=100000, decimals=1,
                                          suffix=" GB", toolTip="Size of the store of "
                                                                "retrieved studies")
        self.save_local_button = QPushButton("Save", local_box)
        local_form = QFormLayout(local_box)
        local_form.addRow("AE title", self.local_ae)
        local_form.addRow("Storage port", self.local_port)
        local_form.addRow("Study store", self.store_limit)
        local_form.addRow("", self.save_local_button)

        self.status = QLabel(self, wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addWidget(local_box)
        layout.addWidget(self.status)
        layout.addWidget(close)

        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed(DIMSE)
        for button in (self.add_button, self.remove_button, self.verify_button,
                       self.save_local_button):
            button.setAutoDefault(False)  # Enter in a node field saves the node
        self.save_button.setDefault(True)
        self.list.currentTextChanged.connect(self._show_node)
        self.add_button.clicked.connect(self.new_node)
        self.remove_button.clicked.connect(self.remove)
        self.save_button.clicked.connect(self.save)
        self.verify_button.clicked.connect(self.verify)
        self.save_local_button.clicked.connect(self.save_local)
        self.reload()

    # ------------------------------------------------------------------ state

    def reload(self, select: str | None = None) -> None:
        """Read the nodes file again and list its nodes (selecting ``select``)."""
        try:
            self._config = load_config()
        except Exception as exc:  # noqa: BLE001 - a damaged nodes file is one line
            self._config = PacsConfig()
            self.status.setText(plain_reason(exc))
        local = self._config.local
        self.local_ae.setText(local.ae_title)
        self.local_port.setValue(local.port)
        self.store_limit.setValue(local.store_limit_gb)
        if select is None and self.list.currentItem() is not None:
            select = self.list.currentItem().text()
        self.list.blockSignals(True)
        self.list.clear()
        self.list.addItems(sorted(self._config.nodes))
        self.list.blockSignals(False)
        matches = self.list.findItems(select or "", Qt.MatchFlag.MatchExactly)
        if matches:
            self.list.setCurrentItem(matches[0])
        elif self.list.count():
            self.list.setCurrentRow(0)
        else:
            self.new_node()
        self._update_buttons()

    def node(self) -> Node:
        """The node the form describes (not checked yet)."""
        common = {"name": self.name.text().strip(), "timeout_s": self.timeout.value()}
        if self.kind.currentIndex() == DICOMWEB:
            return Node(url=self.url.text().strip().rstrip("/"), user=self.user.text().strip(),
                        password_env=self.password_env.text().strip(),
                        token_env=self.token_env.text().strip(), **common)
        return Node(ae_title=self.ae_title.text().strip(), host=self.host.text().strip(),
                    port=self.port.value(), tls=self.tls.isChecked(),
                    tls_ca=self.tls_ca.text().strip(), **common)

    def local(self) -> LocalAE:
        return replace(self._config.local, ae_title=self.local_ae.text().strip(),
                       port=self.local_port.value(), store_limit_gb=self.store_limit.value())

    # ------------------------------------------------------------------ actions

    def new_node(self) -> None:
        """Clear the form for a node to add."""
        self.list.clearSelection()
        self._fill(Node(""))
        self.name.setFocus()

    def save(self) -> None:
        """Add or replace the node in the form; a node renamed replaces the old name."""
        old = self.list.currentItem().text() if self.list.currentItem() else None
        try:
            node = self.node().validated()
            add_node(node)
            if old and old != node.name:
                remove_node(old)
        except Exception as exc:  # noqa: BLE001 - a wrong setting is one line
            self.status.setText(plain_reason(exc))
            return
        self.status.setText(f"Saved {node.name}: {node.address()}")
        self.reload(select=node.name)
        self.changed.emit()

    def remove(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        try:
            remove_node(item.text())
        except Exception as exc:  # noqa: BLE001
            self.status.setText(plain_reason(exc))
            return
        self.status.setText(f"Removed {item.text()}")
        self.reload()
        self.changed.emit()

    def save_local(self) -> None:
        local = self.local()
        try:
            set_local(local.ae_title, local.port, local.store_limit_gb)
        except Exception as exc:  # noqa: BLE001
            self.status.setText(plain_reason(exc))
            return
        self.status.setText(f"medview calls as {local.ae_title} and listens on port "
                            f"{local.port}")
        self.reload()
        self.changed.emit()

    def verify(self) -> None:
        """Echo the node in the form (saved or not) in the worker pool."""
        try:
            node, local = self.node().validated(), self.local().validated()
        except Exception as exc:  # noqa: BLE001
            self.status.setText(plain_reason(exc))
            return
        self._verifying = True
        self._update_buttons()
        self.status.setText(f"Contacting {node.address()}…")

        def finished() -> None:
            self._verifying = False
            self._update_buttons()

        self.workers.start(client.echo, node, local, on_finished=finished,
                           on_return=lambda s: self.status.setText(
                               f"{node.name} answered in {s * 1000:.0f} ms"),
                           on_error=lambda exc: self.status.setText(plain_reason(exc)))

    # ------------------------------------------------------------------ internals

    def _kind_changed(self, kind: int) -> None:
        for widget in self._dimse_rows:
            self.form.setRowVisible(widget, kind == DIMSE)
        for widget in self._web_rows:
            self.form.setRowVisible(widget, kind == DICOMWEB)

    def _show_node(self, name: str) -> None:
        node = self._config.nodes.get(name)
        if node is not None:
            self._fill(node)
        self._update_buttons()

    def _fill(self, node: Node) -> None:
        self.name.setText(node.name)
        self.kind.setCurrentIndex(DICOMWEB if node.is_dicomweb else DIMSE)
        self.ae_title.setText(node.ae_title)
        self.host.setText(node.host)
        self.port.setValue(node.port or 104)
        self.tls.setChecked(node.tls)
        self.tls_ca.setText(node.tls_ca)
        self.url.setText(node.url)
        self.user.setText(node.user)
        self.password_env.setText(node.password_env)
        self.token_env.setText(node.token_env)
        self.timeout.setValue(node.timeout_s)

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.list.currentItem() is not None)
        self.verify_button.setEnabled(not self._verifying)
