"""Change events without Qt: a model emits, whoever listens is called back.

The view model (:mod:`medview.view.model`) announces every change through these, as
napari's evented models do; the Qt widgets connect to them and repaint, and links
between views (:mod:`medview.view.links`) connect to them to follow each other. No
thread is involved: listeners run in the thread that changed the model (the GUI thread).
"""

from __future__ import annotations

from collections.abc import Callable


class Signal:
    """A list of callbacks, called in order with the emitted arguments."""

    __slots__ = ("_slots",)

    def __init__(self) -> None:
        self._slots: list[Callable] = []

    def connect(self, fn: Callable) -> Callable:
        """Call ``fn`` on every :meth:`emit` (once, however often it is connected)."""
        if fn not in self._slots:
            self._slots.append(fn)
        return fn

    def disconnect(self, fn: Callable | None = None) -> None:
        """Stop calling ``fn`` (every callback when None)."""
        if fn is None:
            self._slots.clear()
        elif fn in self._slots:
            self._slots.remove(fn)

    def emit(self, *args) -> None:
        """Call every callback. One that raises does not stop the others; the first
        exception is raised again once all have run."""
        error: BaseException | None = None
        for fn in tuple(self._slots):
            try:
                fn(*args)
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the others ran
                error = error or exc
        if error is not None:
            raise error

    def __len__(self) -> int:
        return len(self._slots)


class Events:
    """The named signals of one model: ``model.events.frame.connect(callback)``."""

    def __init__(self, *names: str) -> None:
        self.names = names
        for name in names:
            setattr(self, name, Signal())

    def connect_all(self, fn: Callable[[str], None]) -> None:
        """Call ``fn(name)`` after any of the signals fires (e.g. to repaint)."""
        for name in self.names:
            getattr(self, name).connect(lambda *_, name=name: fn(name))
