"""Real mouse and wheel events sent to a widget, as a user's hand makes them."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication


def wheel(widget, steps: int, pos: QPointF | None = None,
          modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """A real wheel event: ``steps`` notches away from the user (negative: towards)."""
    pos = pos or QPointF(widget.width() / 2, widget.height() / 2)
    ev = QWheelEvent(pos, widget.mapToGlobal(pos), QPoint(), QPoint(0, 120 * steps),
                     Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, ev)


def mouse(widget, kind, pos: QPointF, button=Qt.MouseButton.NoButton,
          buttons=Qt.MouseButton.NoButton) -> None:
    """A real mouse event of ``kind`` at ``pos`` (widget coordinates)."""
    ev = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons,
                     Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def right_drag(widget, start: QPointF, end: QPointF, steps: int = 8) -> None:
    """Press the right button at ``start``, move in ``steps`` to ``end``, release."""
    mouse(widget, QMouseEvent.Type.MouseButtonPress, start, Qt.MouseButton.RightButton,
          Qt.MouseButton.RightButton)
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        mouse(widget, QMouseEvent.Type.MouseMove, p, Qt.MouseButton.NoButton,
              Qt.MouseButton.RightButton)
    mouse(widget, QMouseEvent.Type.MouseButtonRelease, end, Qt.MouseButton.RightButton,
          Qt.MouseButton.NoButton)
