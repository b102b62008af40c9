"""One image viewport: paints a :class:`~medview.view.model.ViewModel` and forwards input to it.

The state (series, position, window, zoom, tool, measurements, image layers) lives in
the Qt-free model; this widget listens to its events, paints, and turns mouse, wheel,
keys and drops into calls on the model (through :class:`~medview.view.gestures.Gestures`).

Pixels come from the core only: ``FrameRenderer`` turns stored values into an 8-bit
buffer that this widget wraps in a ``QImage`` (no copy) and paints with a ``QTransform``.
The buffer is re-rendered in ``paintEvent`` only when the frame, window or inversion
changed, so any number of W/L mouse moves between two paints cost one render:
``update()`` coalesces them into one paint per event-loop pass. Frames not yet decoded
are requested from the :class:`~medview.qt.workers.FrameLoader` and shown when they arrive.
"""

from __future__ import annotations

import logging
import math
import time

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent,
                           QPen, QTransform, QWheelEvent)
from PySide6.QtWidgets import QSizePolicy, QWidget

from medview.core.annotations import Annotation
from medview.core.errors import plain_reason
from medview.core.imports import load
from medview.qt import theme
from medview.qt.drop_paths import accept_url_drag, local_paths
from medview.qt.viewer import annotation_painter as ap
from medview.qt.viewer.overlay import CornerCache, draw_centre_message, draw_corners, draw_markers
from medview.qt.viewer.surface import Surface
from medview.qt.viewer.tool_input import ask_for_input
from medview.qt.viewer.tool_overlays import draw_loupe, draw_scale_bar
from medview.qt.workers import FrameLoader
from medview.view.corners import view_corner_text
from medview.view.frames import decoded
from medview.view.gestures import LEFT, MIDDLE, RIGHT, Gestures
from medview.view.model import POINTER, ViewModel

log = logging.getLogger(__name__)
SERIES_MIME = "application/x-medview-series"
_HQ_DELAY_MS = 120
_BUTTONS = {Qt.MouseButton.LeftButton: LEFT, Qt.MouseButton.MiddleButton: MIDDLE,
            Qt.MouseButton.RightButton: RIGHT}


def to_qtransform(t) -> QTransform:
    """A :class:`~medview.view.camera.Affine` as a ``QTransform`` (the same convention)."""
    return QTransform(t.m11, t.m12, t.m21, t.m22, t.dx, t.dy)


def _xy(p: QPointF) -> tuple[float, float]:
    return (p.x(), p.y())


class Viewport(QWidget):
    """Shows the frame of ``model``; all state lives in the model."""

    activated = Signal(object)          # this viewport, on any mouse press
    pathsDropped = Signal(list)         # files dropped on the viewport
    seriesDropped = Signal(int)         # a series id dragged from the browser

    def __init__(self, loader: FrameLoader, model: ViewModel,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.model = model
        self.gestures = Gestures(model, self._begin_interaction)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAcceptDrops(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 120)

        self.overlays_visible = True
        self.annotations_visible = True
        self.paint_error: str | None = None   # the one line shown instead of the frame
        #: ``draw(painter, viewport)`` callables painted over the image, under the
        #: measurements (cross-reference lines, the 3-D cursor: medview.qt.viewer.linking)
        self.decorations: list = []
        self._logged_paint_errors: set = set()
        self.active = False
        self.smooth = True

        # rendering cache
        self._surface = Surface()        # the frame at full resolution
        self._proxy = None               # ((frame key, step), renderer of stored[::step, ::step])
        self._proxy_surface = Surface()  # ... rendered while dragging a minified large image
        self._scaled_cache = None        # (key, size, QImage) smooth minified copy
        self.render_count = 0
        self._corner_cache = CornerCache()
        self.last_render_ms = 0.0
        self._layer_images: dict[str, tuple] = {}   # name -> (its RGBA array, QImage)

        self._interacting = False
        self._hq_timer = QTimer(self)
        self._hq_timer.setSingleShot(True)
        self._hq_timer.setInterval(_HQ_DELAY_MS)
        self._hq_timer.timeout.connect(self._end_interaction)

        self._painting = False
        ev = model.events
        # A change made while painting (the first render sets the default window) is
        # painted already: only changes from outside a paint ask for another.
        ev.connect_all(lambda _name: None if self._painting else self.update())
        ev.series.connect(self._series_changed)
        ev.frame.connect(self._frame_changed)
        ev.window.connect(self._drop_scaled)
        ev.camera.connect(self._drop_scaled)
        ev.tool.connect(self._tool_changed)
        ev.layers.connect(self._layers_changed)
        ev.display_failed.connect(loader.signals.failed.emit)
        # asked after the click that drew it has been handled, not inside it
        ev.input.connect(lambda a: QTimer.singleShot(0, lambda: ask_for_input(self, a)))
        loader.decoded.connect(self._on_decoded)
        loader.failed.connect(self._on_decoded)
        self._sync_canvas()

    # ------------------------------------------------------------------ model events

    def _series_changed(self) -> None:
        self.drop_render_cache()
        m = self.model
        if m.planes is None and m.series is not None and m.count:  # planes need no decoding
            self.loader.request_around(m.series, m.index)
            self.loader.prefetch(m.series, around=m.index)

    def _frame_changed(self, index: int) -> None:
        m = self.model
        if m.planes is None and m.series is not None and m.count:
            self.loader.request_around(m.series, index)

    def _drop_scaled(self, *_) -> None:
        self._scaled_cache = None

    def _tool_changed(self) -> None:
        tool = self.model.tool
        self.setCursor(Qt.CursorShape.ArrowCursor if tool == POINTER
                       else Qt.CursorShape.CrossCursor)

    def _layers_changed(self, name: str | None) -> None:
        """Make (once per array) the QImage of a layer the model added or changed."""
        layers = self.model.layers
        for stale in [n for n in self._layer_images if n not in layers]:
            del self._layer_images[stale]
        layer = layers.get(name) if name is not None else None
        if layer is None or self._layer_images.get(name, (None,))[0] is layer.rgba:
            return
        arr = layer.rgba
        h, w = arr.shape[:2]
        img = QImage(arr.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
        # a copy Qt owns, in the format it paints fastest
        self._layer_images[name] = (arr, img.convertToFormat(
            QImage.Format.Format_ARGB32_Premultiplied))

    # ------------------------------------------------------------------ geometry (Qt types)

    def _sync_canvas(self) -> None:
        self.model.set_canvas(self.width(), self.height(), self.devicePixelRatioF())

    def transform(self) -> QTransform:
        """Image → widget, as a ``QTransform``."""
        self._sync_canvas()
        return to_qtransform(self.model.transform())

    def widget_to_image(self, pos: QPointF) -> QPointF:
        self._sync_canvas()
        return QPointF(*self.model.widget_to_image(_xy(pos)))

    def image_to_widget(self, pt: QPointF) -> QPointF:
        self._sync_canvas()
        return QPointF(*self.model.image_to_widget(_xy(pt)))

    def widget_to_rc(self, pos: QPointF) -> tuple[float, float]:
        self._sync_canvas()
        return self.model.widget_to_rc(_xy(pos))

    def rc_to_widget(self, rc: tuple[float, float]) -> QPointF:
        self._sync_canvas()
        return QPointF(*self.model.rc_to_widget(rc))

    # ------------------------------------------------------------------ rendering

    def drop_render_cache(self) -> None:
        """Forget the rendered frame (its pixels were dropped, or another series shows)."""
        self.model.forget_renderer()
        self._surface.clear()
        self._proxy = None
        self._proxy_surface.clear()
        self._scaled_cache = None

    def render_image(self) -> QImage | None:
        """Bring the full-resolution buffer up to date; its QImage (None if not decoded)."""
        m = self.model
        r = m.renderer()
        if r is None:
            return None
        t0 = time.perf_counter()
        key = (m.frame.key, m.window, m.invert)
        image, rendered = self._surface.update(r, m.window, m.invert, key)
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
        m = self.model
        if not self._interacting or m.window is None:
            return 1
        cols, rows = m.image_size()
        if cols * rows < 1 << 20:
            return 1
        s = m.zoom_percent()
        return 1 if s > 0.5 else min(8, int(1.0 / s))

    def _image_for_paint(self) -> tuple[QImage | None, int]:
        step = self._proxy_step()
        if step == 1:
            return self.render_image(), 1
        m = self.model
        f = m.frame
        if m.renderer() is None:
            return None, 1
        key = (f.key, step)
        if self._proxy is None or self._proxy[0] != key:
            stored = decoded(f)  # decoded: the renderer saw it
            self._proxy = (key, load("medview.core.pixels").FrameRenderer(
                stored[::step, ::step], f.params))
        t0 = time.perf_counter()
        image, rendered = self._proxy_surface.update(self._proxy[1], m.window, m.invert,
                                                     (key, m.window, m.invert))
        if rendered:
            self._count_render(t0)
        return image, step

    def paintEvent(self, event: QPaintEvent) -> None:
        """Paint; never raises: a frame that cannot be shown (a header value that makes
        no sense, a decoder fault) draws one line naming its file instead, because an
        exception escaping a paint event can take the whole application down."""
        p = QPainter(self)
        self.paint_error = None
        self._painting = True
        try:
            self.paint(p, overlays=self.overlays_visible, annotations=self.annotations_visible,
                       border=True)
        except BaseException as exc:  # noqa: BLE001 - incl. pyo3's PanicException
            p.end()
            self._paint_failed(exc)
        finally:
            self._painting = False
            if p.isActive():
                p.end()

    def _paint_failed(self, exc: BaseException) -> None:
        """Draw the error state of a frame that raised while painting; log it once."""
        f = self.model.frame
        name = f.label if f is not None else "this image"
        self.paint_error = f"Cannot show {name}: {plain_reason(exc)}"
        key = getattr(f, "key", None)
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
        self._sync_canvas()
        m = self.model
        rect = QRectF(0, 0, self.width(), self.height())
        f = m.frame
        image, step = self._image_for_paint() if f is not None else (None, 1)
        bg = QColor(theme.VIEWPORT_BG)
        if image is not None:  # the image is opaque: fill only the margins around it
            self._fill_margins(p, rect, bg)
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
                self.loader.request_around(m.series, m.index)
                draw_centre_message(p, rect, "Decoding…")
        if annotations and image is not None:
            self._draw_image_overlays(p)
            for draw in self.decorations:
                draw(p, self)
            self._draw_annotations(p)
        if overlays:
            text = view_corner_text(m, anonymous, captions=image is not None and annotations)
            corners = draw_corners(p, rect, text, self._corner_cache)
            markers = m.orientation_markers() if image is not None else None
            if markers is not None:
                corners += draw_markers(p, rect, markers, self._corner_cache, avoid=corners)
            bar = m.current_scale_bar() if image is not None else None
            if bar is not None:
                draw_scale_bar(p, rect, bar, avoid=corners)
        if image is not None and border:   # the loupe is on screen only, never exported
            self._draw_loupe(p)
        if border:
            self._draw_border(p, rect)

    def _fill_margins(self, p: QPainter, rect: QRectF, bg: QColor) -> None:
        cols, rows = self.model.image_size()
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

    def _draw_border(self, p: QPainter, rect: QRectF) -> None:
        pen = QPen(QColor(theme.VIEWPORT_ACTIVE if self.active else theme.VIEWPORT_BORDER))
        pen.setWidth(1 if not self.active else 2)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(rect.adjusted(0.5, 0.5, -1, -1) if self.active else rect.adjusted(0, 0, -1, -1))

    def _draw_image(self, p: QPainter, image: QImage, step: int = 1) -> None:
        t = self.transform()
        if step > 1:  # a proxy of every step-th pixel: scale it back over the image
            cols, rows = self.model.image_size()
            p.save()
            p.setTransform(t)
            p.setClipRect(QRectF(0, 0, cols, rows))
            p.scale(step, step)
            p.drawImage(QPointF(0, 0), image)
            p.restore()
            return
        s = self.model.scale()
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

    def _draw_image_overlays(self, p: QPainter) -> None:
        cols, rows = self.model.image_size()
        for name, layer in self.model.layers.items():
            if not layer.shown_on(self.model.frame.key) or name not in self._layer_images:
                continue
            p.save()
            p.setTransform(self.transform())
            p.setOpacity(min(1.0, layer.opacity))
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform,
                            self.smooth and not self._interacting)
            p.drawImage(QRectF(0, 0, cols, rows), self._layer_images[name][1])
            p.restore()

    def _draw_annotations(self, p: QPainter) -> None:
        m = self.model
        f = m.frame
        bounds = QRectF(0, 0, self.width(), self.height())
        labels: list = []
        for a in m.annotations.on(f.key):
            ap.draw_annotation(p, a, self.rc_to_widget, a.label(f), selected=a is m.selected,
                               labels=labels, guides=m.guides(a))
        ap.draw_labels(p, labels, bounds)
        draft = m.draft
        if draft is not None:
            hover = self.gestures.hover
            preview = QPointF(*hover) if hover is not None else None
            label = ""
            if hover is not None and len(draft.points) + 1 >= 2:
                tmp = Annotation(draft.kind, draft.points + [m.widget_to_rc(hover)],
                                 calibration=draft.calibration)
                if tmp.complete:
                    label = tmp.label(f)
            ap.draw_annotation(p, draft, self.rc_to_widget, label, selected=False,
                               preview=preview, bounds=bounds)

    def _draw_loupe(self, p: QPainter) -> None:
        loupe = self.model.loupe(self.gestures.hover)
        image = self.render_image() if loupe is not None else None
        if image is not None:
            cols, rows = self.model.image_size()
            draw_loupe(p, loupe, to_qtransform(loupe.transform), image,
                       QRectF(0, 0, cols, rows), self.smooth)

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
        f = self.model.frame
        if f is not None and f.key == key:
            self.update()

    # ------------------------------------------------------------------ events

    def resizeEvent(self, event) -> None:
        self._scaled_cache = None
        self._sync_canvas()
        super().resizeEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta == 0:
            event.ignore()
            return
        mods = event.modifiers()
        self._sync_canvas()
        self.gestures.wheel(delta / 120.0, _xy(event.position()),
                            ctrl=bool(mods & Qt.KeyboardModifier.ControlModifier),
                            shift=bool(mods & Qt.KeyboardModifier.ShiftModifier))
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.activated.emit(self)
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self._sync_canvas()
        self.gestures.press(_BUTTONS.get(event.button(), ""), _xy(event.position()))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._sync_canvas()
        self.gestures.move(_xy(event.position()))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._sync_canvas()
        if self.gestures.release(_xy(event.position())) in ("wl", "pan"):
            self._hq_timer.start()
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self._sync_canvas()
        if not self.gestures.double_click(_BUTTONS.get(event.button(), "")):
            self.mousePressEvent(event)

    def leaveEvent(self, event) -> None:
        self.gestures.leave()
        super().leaveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        m = self.model
        key = event.key()
        handled = True
        if key in (Qt.Key.Key_Down, Qt.Key.Key_Right):
            m.step(1)
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Left):
            m.step(-1)
        elif key == Qt.Key.Key_PageDown:
            m.step(m.page_size())
        elif key == Qt.Key.Key_PageUp:
            m.step(-m.page_size())
        elif key == Qt.Key.Key_Home:
            m.set_index(0)
        elif key == Qt.Key.Key_End:
            m.set_index(m.count - 1)
        elif key == Qt.Key.Key_Escape:
            handled = self.gestures.escape()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            handled = self.gestures.finish()
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and m.selected is not None:
            m.delete_selected()
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

    # ------------------------------------------------------------------ interaction

    def _begin_interaction(self) -> None:
        """Draw fast (no smoothing, a proxy for large images) until input settles."""
        self._interacting = True
        self._hq_timer.start()

    def _end_interaction(self) -> None:
        if self.gestures.dragging_view:
            self._hq_timer.start()
            return
        if self._interacting:
            self._interacting = False
            self.update()
