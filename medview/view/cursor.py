"""The 3-D cursor: one patient point that every linked view goes to. No Qt.

Clicking with the cross-hair tool (``pick`` event of a
:class:`~medview.view.model.ViewModel`) puts the cursor at the patient point under the
pointer; every other view of the link that follows that view (same frame of reference)
shows its image nearest the point: the plane through it for a reformatted view, the
nearest slice for a series. Each view shows the point where it lies on (or near) its
image (:meth:`Cursor3D.where`).
"""

from __future__ import annotations

import numpy as np

from medview.view.events import Events
from medview.view.links import ViewLink, nearest_index

#: A point this close (mm) to an image's plane is on it whatever the slice gap.
ON_PLANE_MM = 0.5


def index_through(model, point) -> int | None:
    """The index of the image of ``model`` nearest a patient point, among those stacked
    like its current one (None without a plane)."""
    frames = model.frames
    normal = getattr(frames, "normal", None)
    if normal is None:
        plane = getattr(model.frame, "plane", None)
        if plane is None:
            return None
        normal = plane.normal
    return nearest_index(frames, normal, float(np.asarray(point, float) @ normal))


def reach_mm(model) -> float:
    """How far (mm) from the current image's plane a point still counts as on it: half
    the gap to the neighbouring images, half a thick slab."""
    frames, i = model.frames, model.index
    half = ON_PLANE_MM
    step = getattr(frames, "step_mm", None)
    if step is not None:
        half = max(half, abs(step) / 2, frames.slab_mm / 2)
    elif len(frames) > 1 and model.frame.plane is not None:
        here = model.frame.plane
        other = frames[i + 1 if i + 1 < len(frames) else i - 1].plane
        if other is not None:
            half = max(half, abs(float((other.origin - here.origin) @ here.normal)) / 2)
    return half


class Cursor3D:
    """A patient point shared by the views of ``link``.

    ``events.moved(point)`` fires after the views went to a new point.
    """

    def __init__(self, link: ViewLink) -> None:
        self.link = link
        self.point: np.ndarray | None = None
        self.reference = None   # the Frame of Reference UID the point is in (None: any)
        self.events = Events("moved")
        link.added.append(self._follow)
        for m in link:
            self._follow(m)

    def _follow(self, model) -> None:
        model.events.pick.connect(lambda point: self.move_to(point, model))

    def move_to(self, point, source=None) -> None:
        """Put the cursor at ``point`` (patient mm); every view of the link that follows
        ``source`` (all when None) goes to its image nearest it."""
        self.point = np.array(point, dtype=np.float64)
        self.reference = _reference(source)
        for model in self.link:
            if model is source or model.frame is None:
                continue
            if source is not None and not self.link.rule(source, model):
                continue
            index = index_through(model, self.point)
            if index is not None:
                model.set_index(index)
        self.events.moved.emit(self.point)

    def clear(self) -> None:
        self.point = None
        self.events.moved.emit(None)

    def where(self, model) -> tuple[float, float] | None:
        """Widget position of the cursor in ``model``'s view when the point lies on its
        current image (within :func:`reach_mm`), else None."""
        if self.point is None or model not in self.link or model.frame is None:
            return None
        if self.reference is not None and _reference(model) != self.reference:
            return None  # another patient coordinate system
        shown = model.patient_to_widget(self.point)
        if shown is None or abs(shown[1]) > reach_mm(model):
            return None
        return shown[0]


def _reference(model) -> str | None:
    frame = model.frame if model is not None else None
    return frame.get("FrameOfReferenceUID") if frame is not None else None
