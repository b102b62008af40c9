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
A view shows one frame of :attr:`ViewModel.frames` at :attr:`ViewModel.index`: the
series' own frames, or, for a reformatted view of a volume (MPR), the planes of a
:class:`~medview.view.planes.PlaneStack` (:attr:`ViewModel.planes`, given to
:meth:`ViewModel.set_series` or swapped by :meth:`ViewModel.set_planes`); the index runs
over them the same way. Each plane carries its
:class:`~medview.core.geometry.ImagePlane`, whose cosines give the orientation markers
(:class:`medview.view.orientation.Orientation`) as a frame's header does.

Patient space
-------------
:meth:`ViewModel.widget_to_patient` and :meth:`ViewModel.patient_to_widget` map between
the view and patient coordinates (mm) through the frame's plane. The cross-hair tool
emits ``pick(point)`` with the patient point clicked, the rotate-plane tool
``turn(from, to)`` with widget points; links between views
(:mod:`medview.view.cursor`, :mod:`medview.view.mpr_views`) act on them.

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

from medview.core.annotations import (ANGLE, CALIBRATION, COBB, ELLIPSE, FREEHAND, LENGTH,
                                      POLYLINE, PROBE, RECT, TEXT, Annotation,
                                      AnnotationStore)
from medview.core.imports import load
from medview.core.key_images import KeyImages
from medview.view import calibration, magnifier, scale_bar
from medview.view.camera import Affine, Camera, Point, from_rc, to_rc
from medview.view.corners import readout_text
from medview.view.events import Events
from medview.view.frames import decoded
from medview.view.mask_edit import PAINT_TOOLS
from medview.view.orientation import Markers, frame_orientation, markers

POINTER, MAGNIFIER = "pointer", "magnifier"
CROSSHAIR = "crosshair"        # click: the 3-D cursor goes to that patient point
ROTATE_PLANE = "rotate-plane"  # drag: turns the oblique plane of an MPR view
TOOLS = (POINTER, LENGTH, POLYLINE, ANGLE, COBB, RECT, ELLIPSE, FREEHAND, PROBE, TEXT,
         CALIBRATION, MAGNIFIER, CROSSHAIR, ROTATE_PLANE, *PAINT_TOOLS)
#: Kinds that ask the reader for input once drawn (see ``events.input``).
ASK_INPUT = (TEXT, CALIBRATION)
_SAME_SPOT_PX = 2.0   # a second click closer than this (screen pixels) adds no point
_TRACE_STEP_PX = 2.0  # a freehand outline takes a point every this many screen pixels


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
    key_images : KeyImages, optional
        The images marked as key images, shared likewise.
    """

    #: ``series``: another series (or none); ``frame(index)``: another frame shown;
    #: ``window(window)``; ``invert``; ``camera``: zoom, pan, rotation, flips; ``tool``;
    #: ``annotations``: a measurement added, removed or moved; ``selection``; ``draft``:
    #: the measurement being drawn; ``layers(name)``; ``readout``; ``redraw``: only the
    #: picture changed (a point dragged, a rubber band, the loupe, the scale bar);
    #: ``display_failed(key, reason)``: a frame's pixels cannot be displayed;
    #: ``key_image``: the current frame was marked or unmarked as a key image;
    #: ``pick(point)``: the cross-hair tool chose a patient point; ``turn(from, to)``: the
    #: rotate-plane tool was dragged; ``input(annotation)``: a text or calibration line
    #: was drawn (or double-clicked) and needs its text or known length
    #: (:meth:`set_text`, :meth:`set_known_length`, or :meth:`discard`).
    EVENTS = ("series", "frame", "window", "invert", "camera", "tool", "annotations",
              "selection", "draft", "layers", "readout", "redraw", "display_failed",
              "key_image", "pick", "turn", "input")

    def __init__(self, annotations: AnnotationStore | None = None,
                 key_images: KeyImages | None = None) -> None:
        self.events = Events(*self.EVENTS)
        self.annotations = annotations if annotations is not None else AnnotationStore()
        self.key_images = key_images if key_images is not None else KeyImages()
        self.series = None
        self.planes = None          # a PlaneStack: the frames of a reformatted view
        self.index = 0
        self.window = None          # a core Window; None: the frame's default / VOI LUT
        self.window_set = False     # True once chosen for this series
        self.invert = False
        self.camera = Camera()
        self.canvas = Canvas()
        self.tool = POINTER
        #: What the mask tools (:data:`~medview.view.mask_edit.PAINT_TOOLS`) edit: an object
        #: with ``press(frame, rc, tool)``, ``drag(rc)``, ``release()``, and ``finish()`` /
        #: ``cancel()`` answering whether a lasso polygon was closed / dropped (the
        #: labelling model of a segmentation project).
        self.painter = None
        self.selected: Annotation | None = None
        self.draft: Annotation | None = None
        self.layers: dict[str, ImageLayer] = {}
        self.readout = ""
        #: modality -> the user's saved windows (set by the application)
        self.user_presets: Callable[[str], list] | None = None
        self._renderer = None
        self._renderer_key = None
        self._orientation = (None, None)   # (frame key, its Orientation or None)
        self.magnifier_factor = magnifier.FACTORS[0]
        self.show_scale_bar = True
        self._keys = (None, 0, frozenset())   # (series, frame count, its frame keys)
        self._suv = (None, None)              # (frame key, its SUV scale or reason)
        # first: the series is re-stamped before anyone repaints
        self.events.annotations.connect(self._update_calibration)

    # ------------------------------------------------------------------ content

    @property
    def frames(self):
        """What :attr:`index` runs over: the planes of a reformatted view, else the
        series' frames (empty without a series)."""
        if self.planes is not None:
            return self.planes
        return self.series.frames if self.series is not None else ()

    @property
    def frame(self):
        frames = self.frames
        return frames[self.index] if len(frames) else None

    @property
    def count(self) -> int:
        return len(self.frames)

    def set_series(self, series, index: int | None = None, planes=None) -> None:
        """Show ``series`` (its first image, or ``index``) with a fresh view; with
        ``planes`` (a :class:`~medview.view.planes.PlaneStack` of its volume) the
        index runs over those instead of its frames."""
        self.cancel_draft()
        self.series = series
        self.planes = planes
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
        self.planes = None
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

    def set_planes(self, planes, index: int) -> None:
        """Show other planes of the same volume (another slab, mode or rotation) at
        ``index``, keeping the window and the camera."""
        self.cancel_draft()
        self._select(None)
        self.planes = planes
        self.forget_renderer()
        self.index = max(0, min(len(planes) - 1, int(index)))
        self.events.frame.emit(self.index)

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

    def widget_to_patient(self, pos: Point) -> np.ndarray | None:
        """Patient position (mm, LPS) shown at widget point ``pos``; None when the frame
        has no plane in the patient."""
        plane = getattr(self.frame, "plane", None)
        if plane is None:
            return None
        row, col = self.widget_to_rc(pos)
        return load("medview.core.geometry").pixel_to_patient(plane, row, col)

    def patient_to_widget(self, point) -> tuple[Point, float] | None:
        """Where a patient point (mm) projects onto the frame, in widget coordinates,
        and its signed distance (mm) from the frame's plane; None without a plane."""
        plane = getattr(self.frame, "plane", None)
        if plane is None:
            return None
        offset = np.asarray(point, dtype=np.float64) - plane.origin
        row = float(offset @ plane.col_cosine) / plane.spacing.row_mm
        col = float(offset @ plane.row_cosine) / plane.spacing.col_mm
        return self.rc_to_widget((row, col)), float(offset @ plane.normal)

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

    # ------------------------------------------------------------------ calibration

    def series_keys(self) -> frozenset:
        """The frame keys of the series shown (cached while the series is unchanged)."""
        n = self.count
        if self._keys[0] is not self.series or self._keys[1] != n:
            keys = frozenset(self.series.frames.keys()) if self.series is not None else frozenset()
            self._keys = (self.series, n, keys)
        return self._keys[2]

    def user_calibration(self) -> tuple[float, float] | None:
        """The series' user calibration ``(row_mm, col_mm)`` (:mod:`.calibration`), or
        None; always None on MPR planes, which carry the volume's true spacing."""
        if self.series is None or self.planes is not None:
            return None
        return calibration.in_force(self.annotations, self.series_keys())

    def spacing(self):
        """The spacing measurements use on the current frame: the series' user
        calibration, else the frame's own (None without a frame)."""
        f = self.frame
        if f is None:
            return None
        cal = self.user_calibration()
        if cal is None:
            return f.spacing
        geometry = load("medview.core.geometry")
        return geometry.Spacing(*cal, geometry.USER_CALIBRATION)

    def set_known_length(self, a: Annotation, mm: float) -> None:
        """The true length of calibration line ``a`` on the current image: from now on
        the series measures with it (earlier calibration lines of the series go).

        Raises ValueError for a length that is not a positive number, a line of
        zero length (the reader is asked again) or a line on an MPR plane (planes are
        reformatted at the volume's true spacing: calibrating one would change the
        series' own images, not the plane)."""
        f = self.frame
        if self.planes is not None:
            raise ValueError("MPR planes are measured at the volume's true spacing; "
                             "calibrate on the series' own images")
        load("medview.core.geometry").user_spacing(f.spacing, a.points[0], a.points[1], mm)
        a.known_mm = float(mm)
        a._cache = None
        calibration.keep_only(self.annotations, self.series_keys(), a)
        self.events.annotations.emit()

    def _update_calibration(self) -> None:
        if self.frame is not None and self.planes is None:
            calibration.update(self.annotations, self.series_keys(), self.frame)

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

    def add_annotation(self, kind: str, points: list[tuple[float, float]],
                       **fields) -> Annotation:
        """Add a finished annotation on the current image (scripts, tests, import);
        ``fields``: its other attributes (``text``, ``known_mm``)."""
        a = Annotation(kind, [(float(r), float(c)) for r, c in points], **fields)
        a.calibration = self.user_calibration() if kind != CALIBRATION else None
        self.annotations.add(self.frame.key, a)
        self.events.annotations.emit()
        return a

    def set_text(self, a: Annotation, text: str) -> None:
        """What text annotation ``a`` says."""
        a.text = str(text)
        a._cache = None
        self.events.annotations.emit()

    def discard(self, a: Annotation) -> None:
        """Remove ``a`` from the current image (a text or calibration left without input)."""
        f = self.frame
        if f is not None and self.annotations.remove(f.key, a):
            if self.selected is a:
                self._select(None)
            self.events.annotations.emit()

    def request_input(self, a: Annotation) -> bool:
        """Ask again for the text or known length of ``a`` (False: it takes none)."""
        if a.kind not in ASK_INPUT:
            return False
        self.events.input.emit(a)
        return True

    def begin_draft(self, rc: tuple[float, float]) -> str:
        """Start drawing an annotation of the active tool at ``rc``: ``"added"``, or
        ``"done"`` when one point completes it (probe, text)."""
        self._select(None)
        kind = self.tool
        self.draft = Annotation(kind, [], calibration=(
            self.user_calibration() if kind != CALIBRATION else None))
        return self.add_draft_point(rc)

    def add_draft_point(self, rc: tuple[float, float]) -> str:
        """The next point of the annotation being drawn: ``"ignored"`` (on the last
        point's spot), ``"added"``, or ``"done"`` (complete: stored on the image; an
        open-ended one is done only by :meth:`finish_draft`)."""
        d = self.draft
        if d.points and self._screen_distance(rc, d.points[-1]) < _SAME_SPOT_PX:
            return "ignored"
        d.add_point(rc)
        if d.open_ended or not d.complete:
            self.events.draft.emit()
            return "added"
        self._store_draft()
        return "done"

    def trace_draft(self, rc: tuple[float, float]) -> None:
        """The pointer moved on while drawing a freehand outline: a point every few
        screen pixels."""
        d = self.draft
        if d is not None and d.open_ended and (
                not d.points or self._screen_distance(rc, d.points[-1]) >= _TRACE_STEP_PX):
            d.add_point(rc)
            self.events.draft.emit()

    def finish_draft(self) -> bool:
        """End an open-ended annotation (polyline, freehand): stored when it has enough
        points, else dropped. False when nothing was stored."""
        d = self.draft
        if d is None:
            return False
        if not d.complete:
            self.cancel_draft()
            return False
        self._store_draft()
        return True

    def _store_draft(self) -> None:
        d = self.draft
        self.annotations.add(self.frame.key, d)
        self.draft = None
        self.events.annotations.emit()
        self.events.draft.emit()
        if d.kind in ASK_INPUT:
            self.events.input.emit(d)

    def guides(self, a: Annotation) -> list:
        """Construction lines of ``a`` on the current frame, in image ``(row, col)``
        pairs: a Cobb angle's perpendiculars (none for other kinds)."""
        if a.kind != COBB or not a.complete or self.frame is None:
            return []
        c = load("medview.core.outlines").cobb_construction(a.spacing(self.frame), a.points)
        return list(c.perpendiculars) if c is not None else []

    def _screen_distance(self, a: tuple[float, float], b: tuple[float, float]) -> float:
        return math.hypot(*np.subtract(a, b)) * self.scale()

    # ------------------------------------------------------------------ magnifier, scale bar

    def next_magnifier_factor(self) -> float:
        """Step the loupe's zoom factor (2×, 4×, 8×, 2×...)."""
        self.magnifier_factor = magnifier.next_factor(self.magnifier_factor)
        self.events.redraw.emit()
        return self.magnifier_factor

    def loupe(self, pos: Point | None):
        """The loupe at widget point ``pos`` while the magnifier is the tool, else None."""
        return magnifier.loupe(self, pos) if self.tool == MAGNIFIER else None

    def set_scale_bar(self, on: bool) -> None:
        self.show_scale_bar = bool(on)
        self.events.redraw.emit()

    def current_scale_bar(self):
        """The scale bar to draw (:mod:`.scale_bar`), or None (off, uncalibrated, tiny)."""
        sp = self.spacing() if self.show_scale_bar else None
        if sp is None:
            return None
        return scale_bar.scale_bar(sp, self.transform(), self.canvas.width)

    # ------------------------------------------------------------------ key images

    @property
    def is_key_image(self) -> bool:
        f = self.frame
        return f is not None and f.key in self.key_images

    def toggle_key_image(self) -> bool:
        """Mark the current frame as a key image, or unmark it; whether it is one now."""
        f = self.frame
        if f is None:
            return False
        marked = self.key_images.toggle(f.key)
        self.events.key_image.emit()
        return marked

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
        text = (readout_text(f, self.widget_to_rc(pos), self._suv_scale())
                if f is not None and pos is not None else "")
        if text != self.readout:
            self.readout = text
            self.events.readout.emit()

    def _suv_scale(self):
        """The current frame's SUV factor, or why it has none (PET), or None; kept per frame."""
        f = self.frame
        if self._suv[0] != f.key:
            self._suv = (f.key, load("medview.core.probe").suv_scale_of(f))
        return self._suv[1]
