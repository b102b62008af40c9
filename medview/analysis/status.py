"""What the AI panel's status line says, and which image and model each line is about. No Qt.

A line belongs to the scope it describes: an image (a frame key, with the model that
analysed it), a model (loading it, its failure), or the panel itself (an import, no
model installed). The line shown is the newest one that applies to what is on screen:
the active viewport's frame with the chosen model, in the viewer tab. So a result or an
error about one image is never shown over another image, nor over another tab, and
comes back with its image.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

OK, BUSY, WARNING, ERROR = "ok", "busy", "warning", "error"
#: image lines kept (one per image and model); the oldest go first
MAX_LINES = 512


@dataclass(frozen=True)
class Line:
    """One status line.

    Attributes
    ----------
    text : str
    kind : {"ok", "busy", "warning", "error"}
    frame : hashable or None
        The frame key the line is about (None: not about an image).
    model : str or None
        The model key it is about (None: not about a model).
    seq : int
        Order of arrival (newest wins).
    """

    text: str
    kind: str = OK
    frame: Hashable | None = None
    model: str | None = None
    seq: int = 0


class StatusLines:
    """The panel's status lines by scope, and what is on screen (see the module docstring)."""

    def __init__(self) -> None:
        self._lines: OrderedDict[tuple, Line] = OrderedDict()
        self._seq = itertools.count(1)
        self.frame: Hashable | None = None
        self.model: str | None = None
        self.viewing = True

    def say(self, text: str, kind: str = OK, frame: Hashable | None = None,
            model: str | None = None) -> Line:
        """Set the line of a scope (replacing its previous one)."""
        line = Line(text, kind, frame, model, next(self._seq))
        key = (frame, model)
        self._lines.pop(key, None)
        self._lines[key] = line
        while len(self._lines) > MAX_LINES:
            self._lines.popitem(last=False)
        return line

    def drop(self, frame: Hashable | None = None, model: str | None = None,
             kind: str | None = None) -> None:
        """Forget the line of a scope (only if it is of ``kind``, when given)."""
        line = self._lines.get((frame, model))
        if line is not None and (kind is None or line.kind == kind):
            del self._lines[(frame, model)]

    def show(self, frame: Hashable | None, model: str | None, viewing: bool = True) -> None:
        """What is on screen: the active frame, the chosen model, the viewer tab or not."""
        self.frame, self.model, self.viewing = frame, model, viewing

    def applies(self, line: Line) -> bool:
        if line.model is not None and line.model != self.model:
            return False
        if line.frame is not None:
            return self.viewing and line.frame == self.frame
        return True

    def line_for(self, frame: Hashable | None, model: str | None) -> Line | None:
        """The line about ``frame`` analysed by ``model``, if any."""
        return self._lines.get((frame, model))

    @property
    def current(self) -> Line | None:
        """The newest line that applies to what is on screen (None: say nothing)."""
        best = None
        for line in self._lines.values():
            if self.applies(line) and (best is None or line.seq > best.seq):
                best = line
        return best
