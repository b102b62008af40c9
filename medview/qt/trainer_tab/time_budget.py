"""A job's time budget in minutes (``"time_budget_minutes"``): a spin box and a few
one-click choices, shared by the training form and the pre-training page."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSpinBox, QWidget

__all__ = ["TimeBudgetField", "OVERNIGHT_MINUTES", "format_minutes"]

#: "Overnight": from the end of the working day to the next morning.
OVERNIGHT_MINUTES = 480
MAX_MINUTES = 7 * 24 * 60


def format_minutes(minutes: int) -> str:
    """``"45 min"``, ``"2 h"``, ``"1 h 30 min"``."""
    h, m = divmod(int(minutes), 60)
    if not h:
        return f"{m} min"
    return f"{h} h" + (f" {m} min" if m else "")


class TimeBudgetField(QWidget):
    """Minutes, with buttons for common budgets.

    Parameters
    ----------
    choices : sequence of int
        Minutes offered as buttons; :data:`OVERNIGHT_MINUTES` is labelled "Overnight".
    optional : bool
        Whether the job may leave the budget to the trainer: the spin box's 0 then says
        what the trainer will use (:meth:`set_automatic`) and :meth:`minutes` returns None.
    default : int or None

    Signals
    -------
    changed()
    """

    changed = Signal()

    def __init__(self, choices=(10, 30, OVERNIGHT_MINUTES), optional: bool = True,
                 default: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.optional = optional
        self.spin = QSpinBox()
        self.spin.setObjectName("time_budget_minutes")
        self.spin.setRange(0 if optional else 1, MAX_MINUTES)
        self.spin.setSuffix(" min")
        self.spin.setSingleStep(5)
        if optional:
            self.set_automatic(None)
        self.spin.setValue(default or 0)
        self.spin.valueChanged.connect(self.changed)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.spin)
        self.buttons: dict[int, QPushButton] = {}
        for minutes in choices:
            overnight = minutes == OVERNIGHT_MINUTES
            b = QPushButton("Overnight" if overnight else format_minutes(minutes))
            b.setToolTip(f"Set the budget to {format_minutes(minutes)}"
                         + (": from the end of the working day to the morning" if overnight else ""))
            b.clicked.connect(lambda _checked=False, m=minutes: self.set_minutes(m))
            self.buttons[minutes] = b
            lay.addWidget(b)
        lay.addStretch(1)

    def minutes(self) -> int | None:
        """The budget (None: no limit)."""
        v = self.spin.value()
        return None if self.optional and v == 0 else v

    def set_minutes(self, minutes: int | None) -> None:
        self.spin.setValue(int(minutes or 0))

    def set_automatic(self, minutes: float | None) -> None:
        """What the trainer uses when the job gives no budget (e.g. the preset's), shown at 0."""
        self.spin.setSpecialValueText(f"preset: {format_minutes(round(minutes))}" if minutes else "no limit")

    def setToolTip(self, text: str) -> None:  # noqa: N802 (Qt's name): the spin box says it too
        super().setToolTip(text)
        self.spin.setToolTip(text)
