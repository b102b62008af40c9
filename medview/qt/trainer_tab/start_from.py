""""Start from": random weights, or a registered backbone that fits the chosen network.

Shown under the starting model when that is an architecture (a registered model starts
from its own weights). The backbones come from
:func:`medview.inference.backbones.list_backbones` (listed in a pool thread by the tab);
which of them fit is :func:`medview.app.backbone_offer.fits`.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from medview.qt import theme
from medview.app.backbone_offer import describe, fits, latest_backbones, model_with_backbone

__all__ = ["StartFrom", "RANDOM_TEXT"]

RANDOM_TEXT = "Random weights — the network learns everything from your labelled cases"
TIP = ("Where the network's weights start. A backbone pre-trained on your clinic's unlabelled images "
       "(Pre-train a backbone) already knows what they look like, so the network needs far fewer labelled "
       "cases. Random weights: it learns everything from the labelled cases.")
NONE_NOTE = ("No pre-trained backbone fits {arch} yet. <b>Pre-train a backbone</b> (left) makes one from "
             "unlabelled images; a network that starts from one learns from fewer labelled cases.")


class StartFrom(QWidget):
    """The combo and a note.

    Signals
    -------
    changed()
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.backbones: list = []  # BackboneInfo, one per name
        self.architecture: str | None = None
        self.arguments: dict = {}
        self._picked = False  # the user chose (a backbone, or random weights): keep it while it fits
        self._chosen: str | None = None
        self.combo = QComboBox()
        self.combo.setToolTip(TIP)
        self.combo.setMinimumContentsLength(30)
        self.combo.activated.connect(self._activated)
        self.combo.currentIndexChanged.connect(self.changed)
        self.note = theme.note_label()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        label = QLabel("Start from")
        label.setToolTip(TIP)
        row.addWidget(label)
        row.addWidget(self.combo, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row)
        lay.addWidget(self.note)
        self._fill()

    def set_backbones(self, entries) -> None:
        """:func:`list_backbones` entries."""
        self.backbones = latest_backbones(entries)
        self._fill()

    def set_network(self, architecture: str | None, arguments: dict | None = None) -> None:
        """The architecture the job trains (None: a registered model, which starts from its own weights)."""
        arguments = dict(arguments or {})
        if (architecture, arguments) != (self.architecture, self.arguments):
            self.architecture, self.arguments = architecture, arguments
            self._fill()

    def offered(self) -> list:
        """The backbones that fit the network, in the order listed."""
        if self.architecture is None:
            return []
        return [b for b in self.backbones if fits(b, self.architecture, self.arguments)]

    def backbone(self):
        """The chosen backbone's info (None: random weights)."""
        name = self.combo.currentData()
        return next((b for b in self.backbones if b.name == name), None) if name else None

    def choose(self, name: str | None) -> bool:
        """Choose a backbone by name (None: random weights); False if it is not offered."""
        i = self.combo.findData(name) if name else 0
        if i >= 0:
            self._picked, self._chosen = True, name
            self.combo.setCurrentIndex(i)
        return i >= 0

    def model(self, model: dict) -> dict:
        """The job's ``model`` value for ``model`` (an architecture spec) with the choice applied."""
        info = self.backbone()
        return model if info is None else model_with_backbone(model, info)

    def _activated(self, _index: int) -> None:
        self._picked, self._chosen = True, self.combo.currentData()

    def _fill(self) -> None:
        """List what fits; keep the user's pick, else start from the newest fitting backbone."""
        offered = self.offered()
        self.combo.blockSignals(True)
        before = self.combo.currentData()
        self.combo.clear()
        self.combo.addItem(RANDOM_TEXT, None)
        for info in offered:
            self.combo.addItem(describe(info), info.name)
        names = [b.name for b in offered]
        if self._picked or not names:
            pick = self._chosen if self._chosen in names else None
        else:  # nothing picked: a backbone made for this network is the better start
            pick = max(offered, key=lambda b: b.created).name
        self.combo.setCurrentIndex(max(0, self.combo.findData(pick)) if pick else 0)
        self.combo.blockSignals(False)
        self.setVisible(self.architecture is not None)
        self.note.setText("" if names or self.architecture is None else NONE_NOTE.format(arch=self._target()))
        self.note.setVisible(bool(self.note.text()))
        if self.combo.currentData() != before:
            self.changed.emit()

    def _target(self) -> str:
        encoder = self.arguments.get("encoder_name")
        return f"{self.architecture} ({encoder} encoder)" if encoder else self.architecture
