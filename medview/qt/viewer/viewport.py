"""One image viewport: shows a series, scrolls, zooms, windows, measures.

Pixels come from the core only: ``FrameRenderer`` turns stored values into an
8-bit buffer that this widget wraps in a ``QImage`` (no copy) and paints with a
``QTransform``. The buffer is re-rendered in ``paintEvent`` only when the
frame, window or inversion changed, so any number of W/L mouse moves between
two paints cost one render: ``update()`` coalesces them into one paint per
event-loop pass. Frames not yet decoded are requested from the
:class:`~medview.qt.workers.FrameLoader` and shown when they arrive.

Mouse: wheel scrolls the stack (Ctrl+wheel zooms about the cursor), right-drag
windows, middle-drag pans, left button uses the current tool (pointer: select,
move and pan; length, angle, rectangle and ellipse ROIs by clicks or drags).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent,
                           QPen, QWheelEvent)
from PySide6.QtWidgets import QSizePolicy, QWidget

from medview.core.annotations import (ANGLE, ELLIPSE, LENGTH, RECT, Annotation,
                                      AnnotationStore, nearest_pixel)
from medview.core.errors import plain_reason
from medview.core.imports import load
from medview.qt import theme
from medview.qt.drop_paths import accept_url_drag, local_paths
from medview.qt.viewer import annotation_painter as ap
from medview.qt.viewer.surface import Surface
from medview.qt.viewer.overlay import CornerCache, corner_text, draw_centre_message, draw_corners
from medview.qt.viewer.view_state import ViewState, from_rc, to_rc
from medview.qt.workers import FrameLoader

log = logging.getLogger(__name__)
SERIES_MIME = "application/x-medview-series"
POINTER = "pointer"
TOOLS = (POINTER, LENGTH, ANGLE, RECT, ELLIPSE)
_DRAG_THRESHOLD = 4.0


class _LazyPixels:
    """``medview.core.pixels`` on first use: it imports pydicom (~0.5 s), which
    must not delay the first showing of the window."""

    def __getattr__(self, name):
        mod = load("medview.core.pixels")
        globals()["pixels"] = mod
        return getattr(mod, name)


pixels = _LazyPixels()
_HQ_DELAY_MS = 120


class _NotDecoded(Exception):
    pass


def _not_decoded():
    raise _NotDecoded


class Viewport(QWidget):
    """Shows one series; all state needed to restore the view lives here."""

    activated = Signal(object)          # this viewport, on any mouse press
    frameChanged = Signal(int)          # new slice index
    windowChanged = Signal(object)      # Window or None
    viewChanged = Signal()              # zoom / pan / rotation / flip / invert
    pathsDropped = Signal(list)         # files dropped on the viewport
    seriesDropped = Signal(int)         # a series id dragged from the browser
    annotationsChanged = Signal()

    def __init__(self, loader: FrameLoader, annotations: AnnotationStore,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.annotations = annotations
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAcceptDrops(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 120)

        self.series = None
        self.index = 0
        self.view = ViewState()
        self.window: pixels.Window | None = None   # None: the frame's default / VOI LUT
        self._window_set = False                   # True once chosen for this series
        self.invert = False
        self.overlays_visible = True
        self.annotations_visible = True
        self.paint_error: str | None = None   # the one line shown instead of the frame
        self._logged_paint_errors: set = set()
        self.active = False
        self.smooth = True
        self.tool = POINTER
        #: modality -> the user's saved windows (set by the main window)
        self.user_presets: Callable[[str], list[pixels.Window]] | None = None

        # rendering cache
        self._renderer = None
        self._renderer_key = None
        self._surface = Surface()        # the frame at full resolution
        self._proxy = None               # ((frame key, step), FrameRenderer of stored[::step, ::step])
        self._proxy_surface = Surface()  # ... rendered while dragging a minified large image
        self._scaled_cache = None        # (key, size, QImage) smooth minified copy
        self.render_count = 0
        self._corner_cache = CornerCache()
        self.last_render_ms = 0.0
        #: name -> (frame key or None, premultiplied QImage, opacity, caption): see
        #: set_image_overlay
        self._image_overlays: dict[str, tuple] = {}

        # interaction
        self._press_pos: QPointF | None = None
        self._press_button = Qt.MouseButton.NoButton
        self._drag_kind = None           # "wl" | "pan" | "move" | "handle" | "draw"
        self._drag_start_window = None
        self._drag_start_pan = (0.0, 0.0)
        self._drag_last_rc = None
        self._handle_index = -1
        self._draft: Annotation | None = None
        self._draft_moved = False
        self._hover: QPointF | None = None
        self.selected: Annotation | None = None
        self.readout = ""
        self._wheel_accum = 0.0
        self._interacting = False
        self._hq_timer = QTimer(self)
        self._hq_timer.setSingleShot(True)
        self._hq_timer.setInterval(_HQ_DELAY_MS)
        self._hq_timer.timeout.connect(self._end_interaction)

        loader.decoded.connect(self._on_decoded)
        loader.failed.connect(self._on_decoded)

    # ------------------------------------------------------------------ content

    @property
    def frame(self):
        if self.series is None or not self.series.frames:
            return None
        return self.series.frames[self.index]

    @property
    def count(self) -> int:
        return len(self.series.frames) if self.series is not None else 0

    def set_series(self, series, index: int | None = None) -> None:
        """Show ``series`` (first image, or ``index``); decoding starts at once."""
        self.cancel_draft()
        self.series = series
        self.selected = None
        self.window, self._window_set = None, False
        self.invert = False
        self.view.reset()
        self._drop_render_cache()
        n = self.count
        self.index = 0 if index is None or n == 0 else max(0, min(n - 1, index))
        if series is not None and n:
            self.loader.request_around(series, self.index)
            self.loader.prefetch(series, around=self.index)
        self.frameChanged.emit(self.index)
        self.windowChanged.emit(self.window)
        self.update()

    def clear(self) -> None:
        self.series = None
        self.index = 0
        self._image_overlays.clear()
        self._drop_render_cache()
        self.update()

    def set_index(self, index: int) -> None:
        n = self.count
        if n == 0:
            return
        index = max(0, min(n - 1, int(index)))
        if index == self.index:
            return
        self.cancel_draft()
        self.selected = None
        self.index = index
        self.loader.request_around(self.series, index)
        self.frameChanged.emit(index)
        self.update()

    def step(self, delta: int) -> None:
        self.set_index(self.index + delta)

    def page_size(self) -> int:
        return max(1, self.count // 10)

    def is_current_decoded(self) -> bool:
        f = self.frame
        return f is not None and f.is_decoded

    # ------------------------------------------------------------------ window

    def current_window(self) -> pixels.Window | None:
        """The window in use (the frame's default until the user picks one)."""
        if self._window_set:
            return self.window
        r = self._current_renderer()
        return r.default_window() if r is not None else self.window

    def set_window(self, window: pixels.Window | None) -> None:
        self.window = window
        self._window_set = True
        self._scaled_cache = None
        self.windowChanged.emit(window)
        self.update()

    def reset_window(self) -> None:
        """Back to the image's own window (the first stored one, or auto)."""
        self.window, self._window_set = None, False
        r = self._current_renderer()
        if r is not None:
            self.window = r.default_window()
            self._window_set = True
        self.windowChanged.emit(self.window)
        self.update()

    def auto_window(self) -> None:
        r = self._current_renderer()
        if r is not None and not r.params.is_colour:
            self.set_window(r.auto_window())

    def presets(self) -> list[pixels.Window]:
        """Stored windows of the current image, the user's presets, the modality presets."""
        f = self.frame
        if f is None:
            return []
        try:
            params = f.params
            base = pixels.presets_for(params, self.series.modality)
        except Exception:
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
        self.viewChanged.emit()
        self.update()

    # ------------------------------------------------------------------ geometry

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

    def transform(self):
        cols, rows = self.image_size()
        return self.view.transform(cols, rows, self.width(), self.height())

    def scale(self) -> float:
        cols, rows = self.image_size()
        return self.view.effective_scale(cols, rows, self.width(), self.height())

    def zoom_percent(self) -> float:
        """Zoom as screen (physical) pixels per image pixel, 100 % = 1:1."""
        return self.scale() * self.devicePixelRatioF()

    def widget_to_image(self, pos: QPointF) -> QPointF:
        inv, ok = self.transform().inverted()
        return inv.map(QPointF(pos)) if ok else QPointF()

    def image_to_widget(self, pt: QPointF) -> QPointF:
        return self.transform().map(pt)

    def widget_to_rc(self, pos: QPointF) -> tuple[float, float]:
        return to_rc(self.widget_to_image(pos))

    def rc_to_widget(self, rc: tuple[float, float]) -> QPointF:
        return self.image_to_widget(from_rc(rc))

    def fit(self) -> None:
        self.view.fit, self.view.pan_x, self.view.pan_y = True, 0.0, 0.0
        self._view_changed()

    def actual_size(self) -> None:
        """1:1 — one image pixel per physical screen pixel."""
        cols, rows = self.image_size()
        self.view.set_scale(1.0 / self.devicePixelRatioF(), cols, rows, self.width(), self.height())
        self._view_changed()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        cols, rows = self.image_size()
        if cols == 0:
            return
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        self.view.zoom_about(factor, anchor, cols, rows, self.width(), self.height())
        self._view_changed()

    def rotate(self, degrees: int) -> None:
        self.view.rotate(degrees)
        self._view_changed()

    def flip(self, horizontal: bool) -> None:
        self.view.flip(horizontal)
        self._view_changed()

    def reset_view(self) -> None:
        """Fit, no rotation/flip/inversion, the image's own window."""
        self.view.reset()
        self.invert = False
        self.reset_window()
        self._view_changed()

    def _view_changed(self) -> None:
        self._scaled_cache = None
        self.viewChanged.emit()
        self.update()

    # ------------------------------------------------------------------ tools

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; valid: {', '.join(TOOLS)}")
        self.cancel_draft()
        self.tool = tool
        self.setCursor(Qt.CursorShape.ArrowCursor if tool == POINTER else Qt.CursorShape.CrossCursor)

    def cancel_draft(self) -> None:
        if self._draft is not None:
            self._draft = None
            self.update()

    def current_annotations(self) -> list[Annotation]:
        f = self.frame
        return list(self.annotations.on(f.key)) if f is not None else []

    def delete_selected(self) -> bool:
        f = self.frame
        if f is None or self.selected is None:
            return False
        removed = self.annotations.remove(f.key, self.selected)
        self.selected = None
        if removed:
            self.annotationsChanged.emit()
        self.update()
        return removed

    def clear_annotations(self) -> None:
        f = self.frame
        if f is not None:
            self.annotations.clear(f.key)
            self.selected = None
            self.annotationsChanged.emit()
            self.update()

    def add_annotation(self, kind: str, points: list[tuple[float, float]]) -> Annotation:
        """Add a finished annotation on the current image (scripts, tests, import)."""
        a = Annotation(kind, [(float(r), float(c)) for r, c in points])
        self.annotations.add(self.frame.key, a)
        self.annotationsChanged.emit()
        self.update()
        return a

    # ------------------------------------------------------------------ image overlays

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
            self._image_overlays.pop(name, None)
        else:
            arr = np.ascontiguousarray(rgba, dtype=np.uint8)
            if arr.ndim != 3 or arr.shape[2] != 4:
                raise ValueError(f"expected (rows, cols, 4) RGBA, got shape {arr.shape}")
            h, w = arr.shape[:2]
            img = QImage(arr.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
            # a copy Qt owns, in the format it paints fastest
            img = img.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
            self._image_overlays[name] = (frame_key, img, float(opacity), caption)
        self.update()

    def set_image_overlay_opacity(self, name: str, opacity: float) -> None:
        """Change a layer's opacity (0 hides it) without re-making it."""
        if name in self._image_overlays:
            key, img, _, caption = self._image_overlays[name]
            self._image_overlays[name] = (key, img, float(opacity), caption)
            self.update()

    def _draw_image_overlays(self, p: QPainter) -> None:
        f = self.frame
        cols, rows = self.image_size()
        for frame_key, img, opacity, _ in self._image_overlays.values():
            if not self._layer_shown(frame_key, opacity):
                continue
            p.save()
            p.setTransform(self.transform())
            p.setOpacity(min(1.0, opacity))
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform,
                            self.smooth and not self._interacting)
            p.drawImage(QRectF(0, 0, cols, rows), img)
            p.restore()

    def _layer_shown(self, frame_key, opacity: float) -> bool:
        return opacity > 0 and (frame_key is None or frame_key == self.frame.key)

    def overlay_captions(self) -> list[str]:
        """Captions of the image overlays shown on the current frame."""
        return [caption for key, _, opacity, caption in self._image_overlays.values()
                if caption and self._layer_shown(key, opacity)]

    # ------------------------------------------------------------------ rendering

    def _drop_render_cache(self) -> None:
        self._renderer = self._renderer_key = None
        self._surface.clear()
        self._proxy = None
        self._proxy_surface.clear()
        self._scaled_cache = None

    def _current_renderer(self):
        """The renderer of the current frame if its pixels are in memory (never decodes)."""
        f = self.frame
        if f is None:
            return None
        if self._renderer_key == f.key and self._renderer is not None:
            return self._renderer
        try:
            stored = f.cache.get(f.key, _not_decoded)
        except _NotDecoded:
            return None
        except Exception:
            return None
        try:
            self._renderer = pixels.FrameRenderer(stored, f.params)
        except Exception as exc:  # malformed parameters: shown as an error
            self.loader.signals.failed.emit(f.key, f"cannot display ({exc})")
            self._renderer = None
            return None
        self._renderer_key = f.key
        if not self._window_set:
            self.window = self._renderer.default_window()
            self._window_set = True
            self.windowChanged.emit(self.window)
        return self._renderer

    def render_image(self) -> QImage | None:
        """Bring the full-resolution buffer up to date; its QImage (None if not decoded)."""
        r = self._current_renderer()
        if r is None:
            return None
        t0 = time.perf_counter()
        image, rendered = self._surface.update(r, self.window, self.invert,
                                               (self._renderer_key, self.window, self.invert))
        if rendered:
            self._scaled_cache = None
            self._count_render(t0)
        return image

    def _count_render(self, t0: float) -> None:
        self.render_count += 1
        self.last_render_ms = (time.perf_counter() - t0) * 1000.0

    def _proxy_step(self) -> int:
        """While dragging or scrolling a large image shown at half size or less:
        render every n-th pixel only (what the screen can show anyway)."""
        if not self._interacting or self.window is None:
            return 1
        cols, rows = self.image_size()
        if cols * rows < 1 << 20:
            return 1
        s = self.scale() * self.devicePixelRatioF()
        return 1 if s > 0.5 else min(8, int(1.0 / s))

    def _image_for_paint(self) -> tuple[QImage | None, int]:
        step = self._proxy_step()
        if step == 1:
            return self.render_image(), 1
        f = self.frame
        if self._current_renderer() is None:
            return None, 1
        key = (f.key, step)
        if self._proxy is None or self._proxy[0] != key:
            stored = f.cache.get(f.key, _not_decoded)  # decoded: _current_renderer saw it
            self._proxy = (key, pixels.FrameRenderer(stored[::step, ::step], f.params))
        t0 = time.perf_counter()
        image, rendered = self._proxy_surface.update(self._proxy[1], self.window, self.invert,
                                                     (key, self.window, self.invert))
        if rendered:
            self._count_render(t0)
        return image, step

    def paintEvent(self, event: QPaintEvent) -> None:
        """Paint; never raises: a frame that cannot be shown (a header value that makes
        no sense, a decoder fault) draws one line naming its file instead, because an
        exception escaping a paint event can take the whole application down."""
        p = QPainter(self)
        self.paint_error = None
        try:
            self.paint(p, overlays=self.overlays_visible, annotations=self.annotations_visible,
                       border=True)
        except BaseException as exc:  # noqa: BLE001 - incl. pyo3's PanicException
            p.end()
            self._paint_failed(exc)
        finally:
            if p.isActive():
                p.end()

    def _paint_failed(self, exc: BaseException) -> None:
        """Draw the error state of a frame that raised while painting; log it once."""
        name = self.frame.label if self.frame is not None else "this image"
        self.paint_error = f"Cannot show {name}: {plain_reason(exc)}"
        key = getattr(self.frame, "key", None)
        if key not in self._logged_paint_errors:
            self._logged_paint_errors.add(key)
            log.warning("%s", self.paint_error, exc_info=(type(exc), exc, exc.__traceback__))
        p = QPainter(self)
        rect = QRectF(0, 0, self.width(), self.height())
        p.fillRect(rect, QColor(theme.VIEWPORT_BG))
        draw_centre_message(p, rect, self.paint_error, theme.ERROR)
        self._draw_border(p, rect)
        p.end()

    def paint(self, p: QPainter, overlays: bool = True, annotations: bool = True,
              border: bool = False, anonymous: bool = False) -> None:
        rect = QRectF(0, 0, self.width(), self.height())
        f = self.frame
        image, step = self._image_for_paint() if f is not None else (None, 1)
        bg = QColor(theme.VIEWPORT_BG)
        if image is not None:  # the image is opaque: fill only the margins around it
            cols, rows = self.image_size()
            inner = self.transform().mapRect(QRectF(0, 0, cols, rows)).intersected(rect)
            inner = QRectF(math.ceil(inner.left()), math.ceil(inner.top()),
                           max(0, math.floor(inner.right()) - math.ceil(inner.left())),
                           max(0, math.floor(inner.bottom()) - math.ceil(inner.top())))
            for r in (QRectF(rect.left(), rect.top(), rect.width(), inner.top()),
                      QRectF(rect.left(), inner.bottom(), rect.width(), rect.bottom() - inner.bottom()),
                      QRectF(rect.left(), inner.top(), inner.left(), inner.height()),
                      QRectF(inner.right(), inner.top(), rect.right() - inner.right(), inner.height())):
                if r.width() > 0 and r.height() > 0:
                    p.fillRect(r, bg)
        else:
            p.fillRect(rect, bg)
        if f is None:
            if border:
                draw_centre_message(p, rect, "Drop DICOM files or folders here,\n"
                                    "or drag a series from the browser")
                self._draw_border(p, rect)
            return
        if image is not None:
            self._draw_image(p, image, step)
        else:
            reason = self.loader.error_for(f)
            if reason:
                self.paint_error = f"Cannot show {f.label}: {reason}"
                draw_centre_message(p, rect, self.paint_error, theme.ERROR)
            else:
                self.loader.request_around(self.series, self.index)
                draw_centre_message(p, rect, "Decoding…")
        if annotations and image is not None:
            self._draw_image_overlays(p)
            self._draw_annotations(p)
        if overlays:
            text = corner_text(self.series, f, self.index, self.current_window(),
                               self.zoom_percent(), [self.readout] if self.readout else [],
                               anonymous)
            if self.invert:
                text.bottom_right.insert(0, "Inverted")
            if image is not None and annotations:
                text.bottom_left[:0] = self.overlay_captions()
            draw_corners(p, rect, text, self._corner_cache)
        if border:
            self._draw_border(p, rect)

    def _draw_border(self, p: QPainter, rect: QRectF) -> None:
        pen = QPen(QColor(theme.VIEWPORT_ACTIVE if self.active else theme.VIEWPORT_BORDER))
        pen.setWidth(1 if not self.active else 2)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(rect.adjusted(0.5, 0.5, -1, -1) if self.active else rect.adjusted(0, 0, -1, -1))

    def _draw_image(self, p: QPainter, image: QImage, step: int = 1) -> None:
        t = self.transform()
        if step > 1:  # a proxy of every step-th pixel: scale it back over the image
            cols, rows = self.image_size()
            p.save()
            p.setTransform(t)
            p.setClipRect(QRectF(0, 0, cols, rows))
            p.scale(step, step)
            p.drawImage(QPointF(0, 0), image)
            p.restore()
            return
        s = self.scale()
        dpr = self.devicePixelRatioF()
        smooth = self.smooth and not self._interacting
        if smooth and s * dpr < 0.75:
            # Minified: a properly area-averaged copy (Qt's bilinear transform aliases).
            cols, rows = image.width(), image.height()
            tw, th = max(1, round(cols * s * dpr)), max(1, round(rows * s * dpr))
            key = (self._surface.key, tw, th)
            if self._scaled_cache is None or self._scaled_cache[0] != key:
                scaled = image.scaled(tw, th, Qt.AspectRatioMode.IgnoreAspectRatio,
                                      Qt.TransformationMode.SmoothTransformation)
                self._scaled_cache = (key, scaled)
            scaled = self._scaled_cache[1]
            p.save()
            p.setTransform(t)
            p.scale(cols / scaled.width(), rows / scaled.height())
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            p.drawImage(QPointF(0, 0), scaled)
            p.restore()
            return
        p.save()
        p.setTransform(t)
        # Bilinear at every magnification: the setting's promise ("interpolate when
        # zoomed"); turning it off is how a reader sees the pixels as squares.
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        p.drawImage(QPointF(0, 0), image)
        p.restore()

    def _draw_annotations(self, p: QPainter) -> None:
        f = self.frame
        labels: list = []
        for a in self.annotations.on(f.key):
            ap.draw_annotation(p, a, self.rc_to_widget, a.label(f), selected=a is self.selected,
                               labels=labels)
        ap.draw_labels(p, labels)
        if self._draft is not None:
            preview = self._hover if self._hover is not None else None
            label = ""
            if preview is not None and len(self._draft.points) + 1 >= 2:
                tmp = Annotation(self._draft.kind, self._draft.points + [self.widget_to_rc(preview)])
                if tmp.complete:
                    label = tmp.label(f)
            ap.draw_annotation(p, self._draft, self.rc_to_widget, label, selected=False,
                               preview=preview)

    def grab_view(self, overlays: bool = True, annotations: bool = True,
                  anonymous: bool = False) -> QImage:
        """The view as shown (at device resolution), with or without overlays/annotations;
        ``anonymous`` drops the patient's identity from the overlay text."""
        dpr = self.devicePixelRatioF()
        img = QImage(round(self.width() * dpr), round(self.height() * dpr),
                     QImage.Format.Format_RGB32)
        img.setDevicePixelRatio(dpr)
        p = QPainter(img)
        self.paint(p, overlays=overlays, annotations=annotations, border=False,
                   anonymous=anonymous)
        p.end()
        return img

    # ------------------------------------------------------------------ decoding

    def _on_decoded(self, key, *args) -> None:
        f = self.frame
        if f is not None and f.key == key:
            self.update()

    # ------------------------------------------------------------------ readout

    def _update_readout(self, pos: QPointF) -> None:
        f = self.frame
        text = ""
        if f is not None:
            rc = self.widget_to_rc(pos)
            pix = nearest_pixel(f.shape, rc)
            if pix is not None:
                text = f"X {pix[1]}  Y {pix[0]}"
                try:
                    stored = f.cache.get(f.key, _not_decoded)
                except Exception:
                    stored = None
                if stored is not None:
                    text += "  " + pixel_value_text(stored, f.params, pix)
        if text != self.readout:
            self.readout = text
            self.update()

    # ------------------------------------------------------------------ events

    def resizeEvent(self, event) -> None:
        self._scaled_cache = None
        super().resizeEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta == 0:
            event.ignore()
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self._begin_interaction()
            self.zoom_by(1.15 ** (delta / 120.0), event.position())
            event.accept()
            return
        self._wheel_accum += delta / 120.0
        steps = int(self._wheel_accum)
        if steps:
            self._wheel_accum -= steps
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                steps *= self.page_size()
            self._begin_interaction()
            self.step(-steps)  # wheel towards the user (negative delta) = next image
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.activated.emit(self)
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        pos = event.position()
        self._press_pos = pos
        self._press_button = event.button()
        btn = event.button()
        if btn == Qt.MouseButton.RightButton:
            self._start_wl()
        elif btn == Qt.MouseButton.MiddleButton:
            self._start_pan()
        elif btn == Qt.MouseButton.LeftButton and self.frame is not None:
            if self.tool == POINTER:
                self._pointer_press(pos)
            else:
                self._draw_press(pos)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        self._hover = pos
        self._update_readout(pos)
        if self._drag_kind is None or self._press_pos is None:
            if self._draft is not None:
                self.update()
            return
        dx, dy = pos.x() - self._press_pos.x(), pos.y() - self._press_pos.y()
        kind = self._drag_kind
        if kind == "wl":
            self._drag_wl(dx, dy)
        elif kind == "pan":
            if dx or dy:
                self._leave_fit()
            self._begin_interaction()
            self.view.pan_x = self._drag_start_pan[0] + dx
            self.view.pan_y = self._drag_start_pan[1] + dy
            self.viewChanged.emit()
            self.update()
        elif kind in ("move", "handle") and self.selected is not None:
            rc = self.widget_to_rc(pos)
            if kind == "move":
                last = self._drag_last_rc
                self.selected.move_by(rc[0] - last[0], rc[1] - last[1])
                self._drag_last_rc = rc
            else:
                self.selected.set_point(self._handle_index, rc)
            self.update()
        elif kind == "draw":
            if math.hypot(dx, dy) > _DRAG_THRESHOLD:
                self._draft_moved = True
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        kind = self._drag_kind
        pos = event.position()
        if kind == "draw" and self._draft is not None and self._draft_moved:
            # press-drag-release: the release is the next point
            self._add_draft_point(pos)
        elif kind in ("move", "handle"):
            self.annotationsChanged.emit()
        self._drag_kind = None
        self._press_pos = None
        if kind in ("wl", "pan"):
            self._hq_timer.start()
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.tool == POINTER and self.selected is None:
            self.fit()
        else:
            self.mousePressEvent(event)

    def leaveEvent(self, event) -> None:
        self._hover = None
        if self.readout:
            self.readout = ""
            self.update()
        super().leaveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        handled = True
        if key in (Qt.Key.Key_Down, Qt.Key.Key_Right):
            self.step(1)
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Left):
            self.step(-1)
        elif key == Qt.Key.Key_PageDown:
            self.step(self.page_size())
        elif key == Qt.Key.Key_PageUp:
            self.step(-self.page_size())
        elif key == Qt.Key.Key_Home:
            self.set_index(0)
        elif key == Qt.Key.Key_End:
            self.set_index(self.count - 1)
        elif key == Qt.Key.Key_Escape:
            if self._draft is not None:
                self.cancel_draft()
            elif self.selected is not None:
                self.selected = None
                self.update()
            else:
                handled = False
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selected is not None:
            self.delete_selected()
        else:
            handled = False
        if handled:
            event.accept()
        else:
            super().keyPressEvent(event)

    # -- drag & drop

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(SERIES_MIME):
            event.acceptProposedAction()
        else:
            accept_url_drag(event)

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        md = event.mimeData()
        if md.hasFormat(SERIES_MIME):
            try:
                sid = int(bytes(md.data(SERIES_MIME)).decode())
            except ValueError:
                event.ignore()
                return
            self.activated.emit(self)
            self.seriesDropped.emit(sid)
            event.acceptProposedAction()
        elif md.hasUrls():
            paths = local_paths(md)
            if paths:
                self.activated.emit(self)
                self.pathsDropped.emit(paths)
            event.acceptProposedAction()

    # ------------------------------------------------------------------ interaction helpers

    def _begin_interaction(self) -> None:
        self._interacting = True
        self._hq_timer.start()

    def _end_interaction(self) -> None:
        if self._drag_kind in ("wl", "pan"):
            self._hq_timer.start()
            return
        if self._interacting:
            self._interacting = False
            self.update()

    def _start_wl(self) -> None:
        r = self._current_renderer()
        if r is None or r.params.is_colour:
            return
        w = self.current_window()
        if w is None:  # VOI LUT in use: start from the auto window
            w = r.auto_window()
        lo, hi = r.modality_range
        self._wl_step = max((hi - lo) / 1000.0, w.width / 500.0, 1e-3)
        self._drag_start_window = w
        self._drag_kind = "wl"
        self._interacting = True

    def _drag_wl(self, dx: float, dy: float) -> None:
        w0 = self._drag_start_window
        step = self._wl_step
        minimum = 1.0 if w0.function == "LINEAR" else 1e-6
        width = max(minimum, w0.width + dx * step)
        center = w0.center + dy * step
        self.window = pixels.Window(center, width, w0.function, "")
        self._window_set = True
        self.windowChanged.emit(self.window)
        self.update()  # coalesced: one render per paint, however many moves arrive

    def _start_pan(self) -> None:
        self._drag_kind = "pan"
        self._drag_start_pan = (self.view.pan_x, self.view.pan_y)

    def _leave_fit(self) -> None:
        """Freeze the fitted scale (a pan moved the image); a mere click stays fitted,
        so a later resize or layout change still refits."""
        if self.view.fit:
            cols, rows = self.image_size()
            self.view.scale = self.view.fit_scale(cols, rows, self.width(), self.height())
            self.view.fit = False

    def _pointer_press(self, pos: QPointF) -> None:
        for a in reversed(self.current_annotations()):
            hit = ap.hit_test(a, pos, self.rc_to_widget)
            if hit is not None:
                self.selected = a
                if hit[0] == "handle":
                    self._drag_kind, self._handle_index = "handle", hit[1]
                else:
                    self._drag_kind = "move"
                    self._drag_last_rc = self.widget_to_rc(pos)
                self.update()
                return
        if self.selected is not None:
            self.selected = None
            self.update()
        self._start_pan()

    def _draw_press(self, pos: QPointF) -> None:
        self._drag_kind = "draw"
        self._draft_moved = False
        if self._draft is None:
            self.selected = None
            self._draft = Annotation(self.tool, [self.widget_to_rc(pos)])
            self.update()
        else:
            self._add_draft_point(pos)

    def _add_draft_point(self, pos: QPointF) -> None:
        d = self._draft
        rc = self.widget_to_rc(pos)
        if d.points and math.hypot(*np.subtract(rc, d.points[-1])) * self.scale() < 2.0:
            return  # a second click on the same spot: ignore
        d.add_point(rc)
        self._draft_moved = False
        if d.complete:
            self.annotations.add(self.frame.key, d)
            self._draft = None
            self._drag_kind = None
            self.annotationsChanged.emit()
        self.update()


def pixel_value_text(stored: np.ndarray, params, pix: tuple[int, int]) -> str:
    """Readout text: the stored value and, when it differs, the modality value with units."""
    r, c = pix
    v = stored[r, c]
    if np.ndim(v) > 0:  # colour
        return "RGB " + " ".join(str(int(x)) for x in np.ravel(v)[:3])
    if params.is_colour:  # palette index
        return f"index {int(v)}"
    sv = int(v) if stored.dtype.kind in "uib" else float(v)
    try:
        mv = float(pixels.modality_values(np.asarray([v]), params)[0])
    except Exception:
        return f"SV {sv}"
    units = params.units
    if units or mv != float(sv):
        mv_text = f"{mv:.0f}" if abs(mv - round(mv)) < 1e-6 else f"{mv:.2f}"
        return f"SV {sv} = {mv_text} {units}".rstrip()
    return f"SV {sv}"
