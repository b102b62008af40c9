"""The state of one viewport, without Qt: what it shows and how, and every change as an event.

A :class:`ViewModel` holds the series and the position in it, the window and inversion,
the camera (zoom, pan, rotation, flips), the active tool, the measurements with the
selection and the one being drawn, image layers (AI masks, heat maps) and the pixel
readout; it also says which side of the patient lies toward each edge of the view
(:meth:`ViewModel.orientation_markers`). Every change emits one of
:attr:`ViewModel.EVENTS` (``model.events.frame``, ``model.events.window``, ...); the Qt
viewport (:mod:`medview.qt.viewer.viewport`) only listens, paints, and turns mouse and
keys into calls here, so everything a reader does with a view can be done and checked
without a QApplication. Links between views
(:mod:`medview.view.links`) are objects over several models.

Position
--------
A view shows one frame of :attr:`ViewModel.frames` at :attr:`ViewModel.index`; today the
frames are the series' own. A re-sliced view of a volume (MPR: a plane or slab of
:mod:`medview.core.mpr`, positioned by :func:`medview.core.mpr.positions`) supplies its
planes there, and the index runs over them the same way; each plane image carries its
:class:`~medview.core.geometry.ImagePlane`, whose cosines give the orientation markers
(:class:`medview.view.orientation.Orientation`) as a frame's header does.

Geometry
--------
The model knows the size of the area it is shown in (:meth:`ViewModel.set_canvas`,
logical pixels and the device pixel ratio), so fitting, 1:1, zooming about a point,
mapping between widget and image coordinates and hit-testing need no widget.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from medview.core.annotations import (ANGLE, ELLIPSE, LENGTH, RECT, Annotation,
                                      AnnotationStore)
from medview.core.imports import load
from medview.view.camera import Affine, Camera, Point, from_rc, to_rc
from medview.view.corners import readout_text
from medview.view.events import Events
from medview.view.frames import decoded
from medview.view.orientation import Markers, frame_orientation, markers

POINTER = "pointer"
TOOLS = (POINTER, LENGTH, ANGLE, RECT, ELLIPSE)
_SAME_SPOT_PX = 2.0   # a second click closer than this (screen pixels) adds no point


@dataclass
class Canvas:
    """The area a view is shown in: logical pixels, and physical pixels per logical one."""

    width: float = 0.0
    height: float = 0.0
    dpr: float = 1.0


@dataclass
class ImageLayer:
    """An RGBA layer over the image (see :meth:`ViewModel.set_image_overlay`)."""

    rgba: np.ndarray
    frame_key: tuple | None = None
    opacity: float = 1.0
    caption: str = ""

    def shown_on(self, frame_key) -> bool:
        return self.opacity > 0 and (self.frame_key is None or self.frame_key == frame_key)


class ViewModel:
    """One viewport's state; see the module docstring.

    Parameters
    ----------
    annotations : AnnotationStore, optional
        The measurements per image, shared by the views of one window.
    """

    #: ``series``: another series (or none); ``frame(index)``: another frame shown;
    #: ``window(window)``; ``invert``; ``camera``: zoom, pan, rotation, flips; ``tool``;
    #: ``annotations``: a measurement added, removed or moved; ``selection``; ``draft``:
    #: the measurement being drawn; ``layers(name)``; ``readout``; ``redraw``: only the
    #: picture changed (a point dragged, a rubber band); ``display_failed(key, reason)``:
    #: a frame's pixels cannot be displayed.
    EVENTS = ("series", "frame", "window", "invert", "camera", "tool", "annotations",
              "selection", "draft", "layers", "readout", "redraw", "display_failed")

    def __init__(self, annotations: AnnotationStore | None = None) -> None:
        self.events = Events(*self.EVENTS)
        self.annotations = annotations if annotations is not None else AnnotationStore()
        self.series = None
        self.index = 0
        self.window = None          # a core Window; None: the frame's default / VOI LUT
        self.window_set = False     # True once chosen for this series
        self.invert = False
        self.camera = Camera()
        self.canvas = Canvas()
        self.tool = POINTER
        self.selected: Annotation | None = None
        self.draft: Annotation | None = None
        self.layers: dict[str, ImageLayer] = {}
        self.readout = ""
        #: modality -> the user's saved windows (set by the application)
        self.user_presets: Callable[[str], list] | None = None
        self._renderer = None
        self._renderer_key = None
        self._orientation = (None, None)   # (frame key, its Orientation or None)

    # ------------------------------------------------------------------ content

    @property
    def frames(self):
        """What :attr:`index` runs over: the series' frames (empty without a series)."""
        return self.series.frames if self.series is not None else ()

    @property
    def frame(self):
        frames = self.frames
        return frames[self.index] if len(frames) else None

    @property
    def count(self) -> int:
        return len(self.frames)

    def set_series(self, series, index: int | None = None) -> None:
        """Show ``series`` (its first image, or ``index``) with a fresh view."""
        self.cancel_draft()
        self.series = series
        self._select(None)
        self.window, self.window_set = None, False
        self.invert = False
        self.camera.reset()
        self.forget_renderer()
        n = self.count
        self.index = 0 if index is None or n == 0 else max(0, min(n - 1, index))
        self.events.series.emit()
        self.events.frame.emit(self.index)
        self.events.window.emit(self.window)
        self.events.invert.emit()
        self.events.camera.emit()

    def clear(self) -> None:
        """Show nothing; image layers go too."""
        self.cancel_draft()
        self._select(None)
        self.series = None
        self.index = 0
        self.layers.clear()
        self.forget_renderer()
        self.events.series.emit()
        self.events.frame.emit(self.index)
        self.events.layers.emit(None)

    def set_index(self, index: int) -> None:
        n = self.count
        if n == 0:
            return
        index = max(0, min(n - 1, int(index)))
        if index == self.index:
            return
        self.cancel_draft()
        self._select(None)
        self.index = index
        self.events.frame.emit(index)

    def step(self, delta: int) -> None:
        self.set_index(self.index + delta)

    def page_size(self) -> int:
        return max(1, self.count // 10)

    def is_current_decoded(self) -> bool:
        f = self.frame
        return f is not None and f.is_decoded

    # ------------------------------------------------------------------ display pipeline

    def renderer(self):
        """The core ``FrameRenderer`` of the current frame if its pixels are in memory
        (never decodes), else None. The first one of a series sets the default window."""
        f = self.frame
        if f is None:
            return None
        if self._renderer_key == f.key and self._renderer is not None:
            return self._renderer
        stored = decoded(f)
        if stored is None:
            return None
        try:
            self._renderer = load("medview.core.pixels").FrameRenderer(stored, f.params)
        except Exception as exc:  # noqa: BLE001 - malformed parameters: shown as an error
            self._renderer = None
            self.events.display_failed.emit(f.key, f"cannot display ({exc})")
            return None
        self._renderer_key = f.key
        if not self.window_set:
            self.window = self._renderer.default_window()
            self.window_set = True
            self.events.window.emit(self.window)
        return self._renderer

    def forget_renderer(self) -> None:
        self._renderer = self._renderer_key = None

    # ------------------------------------------------------------------ window

    def current_window(self):
        """The window in use (the frame's default until the user picks one)."""
        if self.window_set:
            return self.window
        r = self.renderer()
        return r.default_window() if r is not None else self.window

    def set_window(self, window) -> None:
        self.window = window
        self.window_set = True
        self.events.window.emit(window)

    def reset_window(self) -> None:
        """Back to the image's own window (the first stored one, or auto)."""
        self.window, self.window_set = None, False
        r = self.renderer()
        if r is not None:
            self.window = r.default_window()
            self.window_set = True
        self.events.window.emit(self.window)

    def auto_window(self) -> None:
        r = self.renderer()
        if r is not None and not r.params.is_colour:
            self.set_window(r.auto_window())

    def presets(self) -> list:
        """Stored windows of the current image, the user's presets, the modality presets."""
        f = self.frame
        if f is None:
            return []
        try:
            params = f.params
            base = load("medview.core.pixels").presets_for(params, self.series.modality)
        except Exception:  # noqa: BLE001 - a header the presets cannot read: none
            return []
        if params.is_colour:
            return []
        n = len(params.windows)
        user = self.user_presets(self.series.modality) if self.user_presets else []
        return base[:n] + list(user) + base[n:]

    def apply_preset(self, number: int) -> bool:
        """Preset ``number`` (1-based) of :meth:`presets`; False if there is none."""
        presets = self.presets()
        if 1 <= number <= len(presets):
            self.set_window(presets[number - 1])
            return True
        return False

    def set_invert(self, on: bool) -> None:
        self.invert = bool(on)
        self.events.invert.emit()

    # ------------------------------------------------------------------ geometry

    def set_canvas(self, width: float, height: float, dpr: float = 1.0) -> None:
        """The size of the area the view is shown in (logical pixels) and its pixel ratio."""
        self.canvas = Canvas(float(width), float(height), float(dpr))

    def image_size(self) -> tuple[int, int]:
        """(cols, rows) of the current frame, 0 when none."""
        f = self.frame
        if f is None:
            return (0, 0)
        try:
            rows, cols = f.shape
        except Exception:  # noqa: BLE001 - a nonsense Rows/Columns: the paint says why
            return (0, 0)
        return cols, rows

    def transform(self) -> Affine:
        """Image coordinates → widget coordinates."""
        cols, rows = self.image_size()
        return self.camera.transform(cols, rows, self.canvas.width, self.canvas.height)

    def scale(self) -> float:
        """Widget (logical) pixels per image pixel."""
        cols, rows = self.image_size()
        return self.camera.effective_scale(cols, rows, self.canvas.width, self.canvas.height)

    def zoom_percent(self) -> float:
        """Zoom as screen (physical) pixels per image pixel, 100 % = 1:1."""
        return self.scale() * self.canvas.dpr

    def widget_to_image(self, pos: Point) -> Point:
        inv = self.transform().inverted()
        return inv.map(pos) if inv is not None else (0.0, 0.0)

    def image_to_widget(self, pt: Point) -> Point:
        return self.transform().map(pt)

    def widget_to_rc(self, pos: Point) -> tuple[float, float]:
        return to_rc(self.widget_to_image(pos))

    def rc_to_widget(self, rc: tuple[float, float]) -> Point:
        return self.image_to_widget(from_rc(rc))

    def fit(self) -> None:
        c = self.camera
        c.fit, c.pan_x, c.pan_y = True, 0.0, 0.0
        self.events.camera.emit()

    def actual_size(self) -> None:
        """1:1 — one image pixel per physical screen pixel."""
        cols, rows = self.image_size()
        self.camera.set_scale(1.0 / self.canvas.dpr, cols, rows, self.canvas.width,
                              self.canvas.height)
        self.events.camera.emit()

    def zoom_by(self, factor: float, anchor: Point | None = None) -> None:
        """Zoom by ``factor`` keeping the image point under ``anchor`` (default: the
        centre) still."""
        cols, rows = self.image_size()
        if cols == 0:
            return
        w, h = self.canvas.width, self.canvas.height
        anchor = anchor if anchor is not None else (w / 2, h / 2)
        self.camera.zoom_about(factor, anchor, cols, rows, w, h)
        self.events.camera.emit()

    def pan_to(self, pan_x: float, pan_y: float) -> None:
        """Put the image centre at this offset from the canvas centre (fit is left)."""
        self.leave_fit()
        self.camera.pan_x, self.camera.pan_y = pan_x, pan_y
        self.events.camera.emit()

    def leave_fit(self) -> None:
        """Freeze the fitted scale (a pan moved the image); a mere click stays fitted,
        so a later resize or layout change still refits."""
        c = self.camera
        if c.fit:
            cols, rows = self.image_size()
            c.scale = c.fit_scale(cols, rows, self.canvas.width, self.canvas.height)
            c.fit = False

    def rotate(self, degrees: int) -> None:
        self.camera.rotate(degrees)
        self.events.camera.emit()

    def flip(self, horizontal: bool) -> None:
        self.camera.flip(horizontal)
        self.events.camera.emit()

    def reset_view(self) -> None:
        """Fit, no rotation/flip/inversion, the image's own window."""
        self.camera.reset()
        self.set_invert(False)
        self.reset_window()
        self.events.camera.emit()

    # ------------------------------------------------------------------ tools and measurements

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; valid: {', '.join(TOOLS)}")
        self.cancel_draft()
        self.tool = tool
        self.events.tool.emit()

    def cancel_draft(self) -> None:
        if self.draft is not None:
            self.draft = None
            self.events.draft.emit()

    def current_annotations(self) -> list[Annotation]:
        f = self.frame
        return list(self.annotations.on(f.key)) if f is not None else []

    def select(self, a: Annotation | None) -> None:
        self._select(a)

    def _select(self, a: Annotation | None) -> None:
        if a is not self.selected:
            self.selected = a
            self.events.selection.emit()

    def delete_selected(self) -> bool:
        f = self.frame
        if f is None or self.selected is None:
            return False
        removed = self.annotations.remove(f.key, self.selected)
        self._select(None)
        if removed:
            self.events.annotations.emit()
        return removed

    def clear_annotations(self) -> None:
        f = self.frame
        if f is not None:
            self.annotations.clear(f.key)
            self._select(None)
            self.events.annotations.emit()

    def add_annotation(self, kind: str, points: list[tuple[float, float]]) -> Annotation:
        """Add a finished annotation on the current image (scripts, tests, import)."""
        a = Annotation(kind, [(float(r), float(c)) for r, c in points])
        self.annotations.add(self.frame.key, a)
        self.events.annotations.emit()
        return a

    def begin_draft(self, rc: tuple[float, float]) -> None:
        """Start drawing a measurement of the active tool at ``rc``."""
        self._select(None)
        self.draft = Annotation(self.tool, [rc])
        self.events.draft.emit()

    def add_draft_point(self, rc: tuple[float, float]) -> str:
        """The next point of the measurement being drawn: ``"ignored"`` (on the last
        point's spot), ``"added"``, or ``"done"`` (complete: stored on the image)."""
        d = self.draft
        if d.points and math.hypot(*np.subtract(rc, d.points[-1])) * self.scale() < _SAME_SPOT_PX:
            return "ignored"
        d.add_point(rc)
        if not d.complete:
            self.events.draft.emit()
            return "added"
        self.annotations.add(self.frame.key, d)
        self.draft = None
        self.events.annotations.emit()
        self.events.draft.emit()
        return "done"

    # ------------------------------------------------------------------ image layers

    def set_image_overlay(self, name: str, rgba: np.ndarray | None, frame_key=None,
                          opacity: float = 1.0, caption: str = "") -> None:
        """Show an RGBA layer over the image (e.g. an AI mask or heat map), or remove it.

        ``rgba`` is uint8 (rows, cols, 4), not premultiplied, normally at the frame's
        size (another size is stretched over the image). It is painted in image
        coordinates, so it follows zoom, pan, rotation and flips, above the image and
        under the measurements, at ``opacity``. With ``frame_key`` it shows only while
        that frame is on screen. ``None`` removes the layer called ``name``.
        ``caption`` is drawn with the overlay text while the layer shows (an AI layer
        names its model, version, engine and scope, on screen and in exported PNGs).
        """
        if rgba is None:
            self.layers.pop(name, None)
        else:
            arr = np.ascontiguousarray(rgba, dtype=np.uint8)
            if arr.ndim != 3 or arr.shape[2] != 4:
                raise ValueError(f"expected (rows, cols, 4) RGBA, got shape {arr.shape}")
            self.layers[name] = ImageLayer(arr, frame_key, float(opacity), caption)
        self.events.layers.emit(name)

    def set_image_overlay_opacity(self, name: str, opacity: float) -> None:
        """Change a layer's opacity (0 hides it) without re-making it."""
        layer = self.layers.get(name)
        if layer is not None:
            layer.opacity = float(opacity)
            self.events.layers.emit(name)

    def layers_shown(self) -> list[ImageLayer]:
        """The image layers shown on the current frame, bottom first."""
        f = self.frame
        key = f.key if f is not None else None
        return [layer for layer in self.layers.values() if layer.shown_on(key)]

    def overlay_captions(self) -> list[str]:
        """Captions of the image overlays shown on the current frame."""
        return [layer.caption for layer in self.layers_shown() if layer.caption]

    # ------------------------------------------------------------------ orientation

    def orientation_markers(self) -> Markers | None:
        """The patient direction at each edge of the view (after its rotation and flips),
        or None when the frame's header gives no orientation."""
        f = self.frame
        if f is None:
            return None
        if self._orientation[0] != f.key:
            self._orientation = (f.key, frame_orientation(f))
        orientation = self._orientation[1]
        if orientation is None:
            return None
        return markers(orientation, self.camera.orientation())

    # ------------------------------------------------------------------ readout

    def update_readout(self, pos: Point | None) -> None:
        """The pixel under widget point ``pos`` (None: the pointer left the view)."""
        f = self.frame
        text = readout_text(f, self.widget_to_rc(pos)) if f is not None and pos is not None else ""
        if text != self.readout:
            self.readout = text
            self.events.readout.emit()
