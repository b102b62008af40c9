"""Controls for what needs torch (training, model import and registration): where the
trainer add-on is missing (:mod:`medview.app.trainer_addon`) they stay disabled and
say why, instead of failing after a click."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QPushButton, QWidget

from medview.app import trainer_addon
from medview.qt import theme

__all__ = ["TrainerButton", "missing_note", "disable_without_trainer"]


class TrainerButton(QPushButton):
    """A push button that cannot be enabled while the trainer add-on is missing; its
    tooltip is then the reason (where to put the add-on)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.missing = trainer_addon.missing_reason()
        if self.missing:
            super().setEnabled(False)
            super().setToolTip(self.missing)

    def setEnabled(self, enabled: bool) -> None:  # noqa: N802 - Qt's name
        super().setEnabled(bool(enabled) and not self.missing)

    def setToolTip(self, text: str) -> None:  # noqa: N802 - Qt's name
        super().setToolTip(self.missing or text)


def missing_note(parent: QWidget | None = None) -> QLabel | None:
    """A warning line with the reason where the trainer add-on is missing, else None."""
    missing = trainer_addon.missing_reason()
    if not missing:
        return None
    label = theme.note_label(missing, parent, colour=theme.WARNING)
    label.setObjectName("TrainerAddonMissing")
    return label


def disable_without_trainer(*widgets: QWidget) -> str | None:
    """Disable ``widgets`` for good, with the reason as tooltip, where the add-on is
    missing; returns the reason (None: it is there, nothing changed)."""
    missing = trainer_addon.missing_reason()
    if missing:
        for w in widgets:
            w.setEnabled(False)
            w.setToolTip(missing)
    return missing
