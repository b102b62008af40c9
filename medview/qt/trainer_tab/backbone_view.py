"""What a finished pre-training job made: the backbone's summary and **Register backbone**.

The backbone folder the job wrote (its ``finished`` event names it) is read in a pool
thread (:func:`medview.inference.backbones.read_info`); registering installs it in the
user folder (:func:`~medview.inference.backbones.register_backbone`, in a pool thread),
after which the training form offers it under "Start from".
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from medview.app import torch_commands
from medview.app.backbone_offer import summary_rows
from medview.core.imports import load
from medview.qt import theme
from medview.qt.widgets.needs_trainer import TrainerButton

__all__ = ["BackboneView"]

WAITING = "The backbone's summary appears here when pre-training finishes."


def _read(folder: str):
    """Pool thread: (BackboneInfo, whether that name and version is installed in the user folder)."""
    backbones = load("medview.inference.backbones")

    info = backbones.read_info(folder)
    installed = backbones.user_backbones_dir() / backbones.folder_name(info)
    return info, (installed / backbones.BACKBONE_JSON).is_file()


def _register(folder: str):
    # A subprocess: reading the backbone's tensors loads torch, which the GUI never does.
    return torch_commands.register_backbone(folder)


class BackboneView(QWidget):
    """Summary and register button of one job's backbone.

    Signals
    -------
    backboneRegistered(object)
        The installed backbone's info.
    """

    backboneRegistered = Signal(object)

    def __init__(self, workers, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.folder: str | None = None
        self.info = None
        self.registered = False
        self.summary = QLabel(WAITING)
        self.summary.setObjectName("backboneSummary")
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.register_button = TrainerButton("Register backbone")
        self.register_button.setToolTip("Install it so that new training jobs of the same network can start "
                                        "from it (Start from)")
        self.register_button.clicked.connect(self.register)
        self.status = QLabel()
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.register_button)
        row.addWidget(self.status, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.summary)
        lay.addLayout(row)
        lay.addStretch(1)
        self.clear()

    def clear(self, text: str = WAITING) -> None:
        self.folder, self.info, self.registered = None, None, False
        self.summary.setText(f"<span style='color:{theme.TEXT_DIM}'>{html.escape(text)}</span>")
        self._status("")
        self._update()

    def show_backbone(self, folder: str | Path) -> None:
        """Read and show the backbone in ``folder`` (a pool thread reads it)."""
        folder = str(folder)
        self.folder = folder

        def done(result) -> None:
            if folder != self.folder:
                return
            self.info, self.registered = result
            self.summary.setText(_table(summary_rows(self.info)))
            self._status(f"Registered: new {self.info.architecture} jobs can start from it." if self.registered else
                         f"Registering it lets new training jobs of a {self.info.architecture} network "
                         "start from it.")
            self._update()

        def failed(exc) -> None:
            if folder == self.folder:
                self.summary.setText(f"<span style='color:{theme.ERROR}'>"
                                     f"{html.escape(f'Cannot read the backbone: {exc}')}</span>")
                self._update()

        self.workers.start(_read, folder, on_return=done, on_error=failed)

    def register(self) -> None:
        """Install the backbone in the user folder (pool thread)."""
        if self.info is None or self.registered:
            return
        folder = self.folder
        self.register_button.setEnabled(False)
        self._status("Registering…")

        def done(info) -> None:
            if folder != self.folder:
                return
            self.registered = True
            self._status(f"Registered as {info.name} {info.version}. In a new training job, choose a "
                         f"{info.architecture} network and Start from: {info.name}.")
            self._update()
            self.backboneRegistered.emit(info)

        def failed(exc) -> None:
            if folder == self.folder:
                text = str(exc)
                if "already installed" in text:  # the registry speaks CLI ("--replace"); say it in GUI terms
                    text = (f"a backbone called {self.info.name} with version {self.info.version} is already "
                            "installed.")
                self._status(f"Not registered: {text}", error=True)
                self._update()

        self.workers.start(_register, folder, on_return=done, on_error=failed)

    def _status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {theme.ERROR};" if error else "")

    def _update(self) -> None:
        self.register_button.setVisible(self.info is not None)
        self.register_button.setEnabled(self.info is not None and not self.registered)
        self.register_button.setText("Registered" if self.registered else "Register backbone")


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td style='color:{theme.TEXT_DIM}; padding-right:12px'>{html.escape(k)}</td>"
                    f"<td>{html.escape(v).replace(chr(10), '<br>')}</td></tr>" for k, v in rows)
    return f"<b>Backbone</b><table>{cells}</table>"
