"""Asking the reader for what a drawn annotation needs: the words of a text annotation,
the true length of a calibration line. The model says when (``events.input``) and
takes the answer (:meth:`~medview.view.model.ViewModel.set_text`,
:meth:`~medview.view.model.ViewModel.set_known_length`); a first answer refused
removes what was drawn."""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QMessageBox, QWidget

from medview.core.annotations import CALIBRATION, TEXT, Annotation, native_length

MAX_KNOWN_MM = 10_000.0


def ask_for_input(viewport, a: Annotation) -> None:
    """Ask for ``a``'s text or known length over ``viewport`` (a Viewport) and give the
    answer to its model; a new annotation left without one is removed."""
    m = viewport.model
    if a not in m.current_annotations():   # gone meanwhile (another image, deleted)
        return
    if a.kind == TEXT:
        text, ok = QInputDialog.getText(viewport, "Text annotation", "Text:", text=a.text)
        if ok and text.strip():
            m.set_text(a, text.strip())
        elif not a.text:
            m.discard(a)
    elif a.kind == CALIBRATION:
        _ask_length(viewport, a)


def _ask_length(parent: QWidget, a: Annotation) -> None:
    m = parent.model
    prompt = (f"This line measures {native_length(a, m.frame)}.\n"
              "Its true length in mm (the whole series will measure with it):")
    mm, ok = QInputDialog.getDouble(parent, "Calibrate from a known length", prompt,
                                    a.known_mm or 10.0, 0.01, MAX_KNOWN_MM, 2)
    if not ok:
        if a.known_mm is None:
            m.discard(a)
        return
    try:
        m.set_known_length(a, mm)
    except ValueError as exc:   # a line of zero length
        QMessageBox.warning(parent, "Calibration", f"Cannot calibrate: {exc}.")
        if a.known_mm is None:
            m.discard(a)
