"""Four views of one volume (MPR), without Qt.

:class:`MprViews` puts planes of a :class:`~medview.core.volume.Volume` into up to four
view models: axial, coronal, sagittal, and an oblique plane (the axial plane turned,
:func:`oblique_start`). Scrolling a view moves its plane along the normal, one voxel
layer (orthogonal planes) or the finest voxel spacing (oblique) at a time. The views
share one window (:class:`~medview.view.links.WindowSync`); each has its own slab
thickness and mode (:meth:`MprViews.set_slab`). The rotate-plane tool turns the oblique
plane (:meth:`MprViews.turn`): dragged in another view, the plane turns about that
view's normal, following the pointer around the 3-D cursor (its reference line turns
with the mouse); dragged in the oblique view, the plane tilts about the screen's axes.
"""

from __future__ import annotations

import math

import numpy as np

from medview.core.imports import load
from medview.view.links import ViewLink, WindowSync
from medview.view.planes import PlaneStack, series_tags

#: (kind, turned, name) of each view, in grid order; the turned one starts at
#: :func:`oblique_start`.
VIEWS = (("axial", False, "Axial"), ("coronal", False, "Coronal"),
         ("sagittal", False, "Sagittal"), ("axial", True, "Oblique"))
#: Degrees of tilt per logical pixel dragged in the oblique view.
TILT_PER_PX = 0.4


def views_of(planes) -> tuple:
    """The :data:`VIEWS` entries showing ``planes`` (``"axial"``, ``"coronal"``,
    ``"sagittal"``), in order: a hanging protocol's cells."""
    return tuple(next(v for v in VIEWS if v[0] == kind and not v[1]) for kind in planes)


def oblique_start() -> np.ndarray:
    """The rotation the oblique view starts with: the axial plane tilted 30° about the
    patient's left-right axis and 15° about the antero-posterior one, so that it differs
    from the three others at once and its reference lines do not lie over theirs."""
    turn = _rotation_about
    return turn((0.0, 1.0, 0.0), 15.0) @ turn((1.0, 0.0, 0.0), 30.0)


def _rotation_about(axis, degrees: float) -> np.ndarray:
    # core.mpr imports pydicom (through core.geometry): not at start-up
    return load("medview.core.mpr").rotation_about(axis, degrees)


class MprViews:
    """Planes of ``volume`` in ``models``, one view each of ``views`` (default
    :data:`VIEWS`; extra models are left alone).

    Parameters
    ----------
    volume : Volume
    series : Series
        The series the volume was built from (what the views say they show).
    models : sequence of ViewModel
    cursor : Cursor3D, optional
        The 3-D cursor of the window: the views start through its point when it lies
        in the volume (else through the centre), and the oblique plane turns about it.
    views : sequence of (kind, turned, name), optional
        What each model shows (see :data:`VIEWS` and :func:`views_of`).
    """

    def __init__(self, volume, series, models, cursor=None, views=VIEWS) -> None:
        self.volume, self.series, self.cursor = volume, series, cursor
        self.models = list(models)[:len(views)]
        self.link = ViewLink(self.models, rule=lambda a, b: self.owns(a) and self.owns(b))
        self.windows = WindowSync(self.link)
        tags, token = series_tags(series), str(series.uid)
        through = self.anchor()
        self._turns = []
        for model, (kind, turned, name) in zip(self.models, views):
            stack = PlaneStack(volume, kind, rotation=oblique_start() if turned else None,
                               name=name, token=token, tags=tags)
            model.set_series(series, stack.index_through(through), planes=stack)
            def turn(a, b, m=model):
                self.turn(m, a, b)
            model.events.turn.connect(turn)
            self._turns.append((model, turn))
        if self.models:
            self.models[0].renderer()  # the volume's window, given to all by WindowSync

    # ------------------------------------------------------------------ state

    def owns(self, model) -> bool:
        """``model`` still shows planes of this volume."""
        return model.planes is not None and model.planes.volume is self.volume

    @property
    def shown(self) -> list:
        """The models still showing this volume."""
        return [m for m in self.models if self.owns(m)]

    @property
    def oblique(self):
        """The model showing the turned plane, if any still does."""
        return next((m for m in self.shown if m.planes.rotation is not None), None)

    def anchor(self) -> np.ndarray:
        """The point planes turn about and start through: the 3-D cursor when it lies
        in the volume, else the volume's centre."""
        point = self.cursor.point if self.cursor is not None else None
        if point is not None:
            kij = self.volume.patient_to_voxel(point)
            if np.all(kij >= -0.5) and np.all(kij <= np.array(self.volume.shape) - 0.5):
                return np.asarray(point, dtype=np.float64)
        return self.volume.centre

    def close(self) -> None:
        """Stop following the models (they keep what they show)."""
        for model, turn in self._turns:
            model.events.turn.disconnect(turn)
            self.link.remove(model)
        self._turns = []

    # ------------------------------------------------------------------ slabs

    def set_slab(self, model, slab_mm: float, mode: str | None = None) -> None:
        """Show ``model``'s planes as slabs ``slab_mm`` thick (0: thin) combined by
        ``mode`` (``"mip"``, ``"minip"``, ``"avg"``; default: as now), in place."""
        if not self.owns(model):
            return
        stack = model.planes
        mode = mode or stack.mode
        if slab_mm == stack.slab_mm and mode == stack.mode:
            return
        model.set_planes(stack.variant(slab_mm=float(slab_mm), mode=mode), model.index)

    # ------------------------------------------------------------------ oblique

    def turn(self, model, start, end) -> None:
        """The rotate-plane tool was dragged from widget point ``start`` to ``end`` in
        ``model``: turn the oblique plane (see the module docstring)."""
        oblique = self.oblique
        if oblique is None or not self.owns(model):
            return
        axes = _screen_axes(model, start)
        if axes is None:
            return
        right, down = axes
        anchor = self.anchor()
        if model is oblique:
            dx, dy = end[0] - start[0], end[1] - start[1]
            turn = (_rotation_about(down, dx * TILT_PER_PX)
                    @ _rotation_about(right, -dy * TILT_PER_PX))
        else:
            shown = model.patient_to_widget(anchor)
            if shown is None:
                return
            (cx, cy), _ = shown
            swept = math.atan2(end[1] - cy, end[0] - cx) - math.atan2(start[1] - cy, start[0] - cx)
            swept = math.degrees((swept + math.pi) % (2 * math.pi) - math.pi)
            # screen-clockwise (y down) carries right toward down: about right × down
            turn = _rotation_about(np.cross(right, down), swept)
        self.set_rotation(turn @ oblique.planes.rotation, anchor)

    def set_rotation(self, rotation, through=None) -> None:
        """Turn the oblique plane to ``rotation`` (about the volume centre, see
        :func:`medview.core.mpr.plane`) through patient point ``through`` (default:
        :meth:`anchor`)."""
        oblique = self.oblique
        if oblique is None:
            return
        u, _, vt = np.linalg.svd(np.asarray(rotation, dtype=np.float64))
        stack = oblique.planes.variant(rotation=u @ vt)  # products of turns drift
        oblique.set_planes(stack, stack.index_through(self.anchor() if through is None
                                                      else through))

    def reset_oblique(self) -> None:
        """The oblique plane back to :func:`oblique_start`."""
        self.set_rotation(oblique_start())


def _screen_axes(model, pos) -> tuple[np.ndarray, np.ndarray] | None:
    """Unit patient directions of screen right and screen down at widget point ``pos``
    of ``model`` (through its zoom, rotation and flips)."""
    here = model.widget_to_patient(pos)
    if here is None:
        return None
    right = model.widget_to_patient((pos[0] + 1.0, pos[1])) - here
    down = model.widget_to_patient((pos[0], pos[1] + 1.0)) - here
    norms = np.linalg.norm(right), np.linalg.norm(down)
    if min(norms) < 1e-12:
        return None
    return right / norms[0], down / norms[1]
