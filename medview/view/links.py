"""Links between views: objects over several view models, no Qt.

A :class:`ViewLink` is a set of :class:`~medview.view.model.ViewModel` and a rule saying
which of them belong together (:func:`same_study`, :func:`same_frame_of_reference`).
Behaviours attach to a link: :class:`ScrollSync` scrolls the other views when one is
scrolled, by index steps or by patient position along the slice normal;
:class:`WindowSync` gives every view the window set in one. The 3-D cursor
(:mod:`medview.view.cursor`) and the cross-reference lines
(:mod:`medview.view.reference_lines`) work over links too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from medview.core.imports import load

Rule = Callable[[object, object], bool]

#: Slice normals at least this parallel (|cos|) count as one stacking direction.
PARALLEL = 0.99


def same_study(a, b) -> bool:
    """Both views show a series of one study."""
    sa = a.series.study if a.series is not None else None
    sb = b.series.study if b.series is not None else None
    return sa is not None and sb is not None and (sa is sb or (bool(sa.uid) and sa.uid == sb.uid))


def same_frame_of_reference(a, b) -> bool:
    """Both views show frames in one patient coordinate system (Frame of Reference UID)."""
    fa, fb = a.frame, b.frame
    if fa is None or fb is None:
        return False
    uid = fa.get("FrameOfReferenceUID")
    return bool(uid) and uid == fb.get("FrameOfReferenceUID")


def same_volume(a, b) -> bool:
    """Both views show planes of one volume (MPR)."""
    pa, pb = a.planes, b.planes
    return pa is not None and pb is not None and pa.volume is pb.volume


def same_space(a, b) -> bool:
    """Both views show one patient coordinate system: one frame of reference, or planes
    of one volume (whose series may carry no Frame of Reference UID)."""
    return same_volume(a, b) or same_frame_of_reference(a, b)


class ViewLink:
    """Views that follow each other, and the rule that decides which may.

    Parameters
    ----------
    models : iterable of ViewModel
    rule : callable, optional
        ``rule(a, b)``: whether view ``b`` follows view ``a`` now (checked at each
        change, since a view can be given another series); default: always.
    """

    def __init__(self, models=(), rule: Rule | None = None) -> None:
        self.rule: Rule = rule or (lambda a, b: True)
        self._models: list = []
        self.added: list[Callable] = []     # called with each model added (behaviours hook in)
        for m in models:
            self.add(m)

    def add(self, model) -> None:
        if model not in self._models:
            self._models.append(model)
            for fn in self.added:
                fn(model)

    def remove(self, model) -> None:
        if model in self._models:
            self._models.remove(model)

    def __iter__(self) -> Iterator:
        return iter(list(self._models))

    def __contains__(self, model) -> bool:
        return model in self._models

    def __len__(self) -> int:
        return len(self._models)

    def peers(self, model) -> list:
        """The other views that follow ``model`` now."""
        return [m for m in self._models if m is not model and self.rule(model, m)]


def slice_position(frame) -> tuple[np.ndarray, float] | None:
    """(unit slice normal, position along it in mm) of ``frame``, or None without a plane."""
    plane = frame.plane if frame is not None else None
    if plane is None:
        return None
    return plane.normal, load("medview.core.geometry").slice_location(plane)


def nearest_index(frames, normal: np.ndarray, position_mm: float) -> int | None:
    """The frame of ``frames`` whose plane lies nearest ``position_mm`` along ``normal``;
    None when no frame has a plane parallel to it. Planes of a volume
    (:class:`~medview.view.planes.PlaneStack`) answer from their positions, uncut."""
    nearest = getattr(frames, "nearest", None)
    if nearest is not None:
        return nearest(normal, position_mm)
    best, best_d = None, None
    for i, f in enumerate(frames):
        plane = f.plane
        if plane is None or abs(float(plane.normal @ normal)) < PARALLEL:
            continue
        d = abs(float(plane.origin @ normal) - position_mm)
        if best_d is None or d < best_d:
            best, best_d = i, d
    return best


class ScrollSync:
    """Scrolling one view of ``link`` scrolls its peers.

    ``by="index"`` moves each peer by as many images as the view moved (keeping any
    offset between them); ``by="position"`` shows in each peer the image nearest the
    same patient position along the slice normal (peers stacked in another direction,
    or without image planes, stay where they are).
    """

    BY_INDEX, BY_POSITION = "index", "position"

    def __init__(self, link: ViewLink, by: str = BY_POSITION, enabled: bool = True) -> None:
        if by not in (self.BY_INDEX, self.BY_POSITION):
            raise ValueError(f"unknown scroll sync {by!r}; valid: index, position")
        self.link, self.by, self.enabled = link, by, enabled
        self._last: dict[int, int] = {}     # id(model) -> its index before the change
        self._new_series: set[int] = set()  # models whose next frame event is a new series
        self._busy = False
        link.added.append(self._follow)
        for m in link:
            self._follow(m)

    def _follow(self, model) -> None:
        self._last[id(model)] = model.index
        model.events.series.connect(lambda: self._new_series.add(id(model)))
        model.events.frame.connect(lambda *_: self._moved(model))

    def _moved(self, source) -> None:
        before = self._last.get(id(source), source.index)
        self._last[id(source)] = source.index
        if id(source) in self._new_series:  # a series was shown: nobody scrolled
            self._new_series.discard(id(source))
            return
        if not self.enabled or self._busy or source not in self.link:
            return
        self._busy = True  # a peer's own frame event must not scroll the views back
        try:
            for peer in self.link.peers(source):
                target = self._target(source, peer, source.index - before)
                if target is not None:
                    peer.set_index(target)
                self._last[id(peer)] = peer.index
        finally:
            self._busy = False

    def _target(self, source, peer, delta: int) -> int | None:
        if self.by == self.BY_INDEX:
            return peer.index + delta
        where = slice_position(source.frame)
        return nearest_index(peer.frames, *where) if where is not None else None


class WindowSync:
    """A window set in one view of ``link`` is set in its peers (e.g. the planes of one
    volume, which share their values and so their window)."""

    def __init__(self, link: ViewLink, enabled: bool = True) -> None:
        self.link, self.enabled = link, enabled
        self._busy = False
        link.added.append(self._follow)
        for m in link:
            self._follow(m)

    def _follow(self, model) -> None:
        model.events.window.connect(lambda *_: self._changed(model))

    def _changed(self, source) -> None:
        if not self.enabled or self._busy or source not in self.link or not source.window_set:
            return
        self._busy = True
        try:
            for peer in self.link.peers(source):
                if peer.window != source.window or not peer.window_set:
                    peer.set_window(source.window)
        finally:
            self._busy = False
