"""What the mouse does to a view, without Qt: presses, drags, wheel notches → model calls.

Right-drag windows (right: wider, down: higher level), middle-drag pans, the wheel
scrolls the stack (Ctrl+wheel zooms about the pointer, Shift+wheel pages), the left
button uses the active tool: the pointer selects, moves and reshapes measurements or
pans (a double click on a text or calibration asks for its text or length again); the
measuring tools place points by clicks or press-drag-release; a polyline or a freehand
outline of clicks ends with a double click (or :meth:`Gestures.finish`, Enter), a
freehand outline traced by dragging ends where the button is released; the magnifier's
loupe follows the pointer and a click steps its zoom; the cross-hair picks the patient
point under it (press and drag), the rotate-plane tool reports its drag for a link to
turn a plane (:mod:`medview.view.mpr_views`), the mask tools (brush, eraser, lasso, island
removal) send their presses, drags and releases to the model's painter (a labelling
project's mask, :mod:`medview.view.labelling`), which a double click or Enter tells to close
a clicked lasso polygon and Escape to drop it. Positions
are widget coordinates (logical pixels); the Qt viewport translates its events into these
calls and knows nothing of what a drag means.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from medview.core.annotations import FREEHAND
from medview.core.imports import load
from medview.view.camera import Point
from medview.view.hit_test import hit_test
from medview.view.mask_edit import LASSO, LASSO_ERASER, PAINT_TOOLS
from medview.view.model import CROSSHAIR, MAGNIFIER, POINTER, ROTATE_PLANE, ViewModel

LEFT, MIDDLE, RIGHT = "left", "middle", "right"
DRAG_THRESHOLD = 4.0   #: logical pixels a press must move to count as a drag
WL_DRAGS = ("wl", "pan")
LASSO_TOOLS = (LASSO, LASSO_ERASER)


class Gestures:
    """The drag in progress on one view and what each pointer event does to its model.

    Parameters
    ----------
    model : ViewModel
    on_interaction : callable, optional
        Called when a continuous interaction starts or goes on (a W/L or pan drag, a
        wheel notch), so the widget can draw fast until it settles.
    """

    def __init__(self, model: ViewModel, on_interaction: Callable[[], None] | None = None) -> None:
        self.model = model
        self.on_interaction = on_interaction or (lambda: None)
        self.kind: str | None = None    # wl, pan, move, handle, draw, pick, turn
        self.hover: Point | None = None
        self._press: Point | None = None
        self._start_window = None
        self._wl_step = 1.0
        self._pan0 = (0.0, 0.0)
        self._last_rc = (0.0, 0.0)
        self._last_pos = (0.0, 0.0)
        self._handle = -1
        self._draft_moved = False
        self._wheel = 0.0

    # ------------------------------------------------------------------ events

    def press(self, button: str, pos: Point) -> None:
        self._press = pos
        if button == RIGHT:
            self._start_wl()
        elif button == MIDDLE:
            self._start_pan()
        elif button == LEFT and self.model.frame is not None:
            if self.model.tool == POINTER:
                self._pointer_press(pos)
            elif self.model.tool == MAGNIFIER:
                self.model.next_magnifier_factor()
            elif self.model.tool in (CROSSHAIR, ROTATE_PLANE):
                self._link_press(pos)
            elif self.model.tool in PAINT_TOOLS:
                self._paint_press(pos)
            else:
                self._draw_press(pos)

    def move(self, pos: Point) -> None:
        """The pointer moved (with or without a button down)."""
        m = self.model
        self.hover = pos
        m.update_readout(pos)
        if self.kind is None or self._press is None:
            if m.draft is not None or m.tool == MAGNIFIER:
                m.events.redraw.emit()  # the rubber band, the loupe follow the pointer
            return
        dx, dy = pos[0] - self._press[0], pos[1] - self._press[1]
        if self.kind == "wl":
            self._drag_wl(dx, dy)
        elif self.kind == "pan":
            self.on_interaction()
            if dx or dy:
                m.pan_to(self._pan0[0] + dx, self._pan0[1] + dy)
        elif self.kind in ("move", "handle") and m.selected is not None:
            rc = m.widget_to_rc(pos)
            if self.kind == "move":
                last = self._last_rc
                m.selected.move_by(rc[0] - last[0], rc[1] - last[1])
                self._last_rc = rc
            else:
                m.selected.set_point(self._handle, rc)
            m.events.redraw.emit()
        elif self.kind == "draw":
            if math.hypot(dx, dy) > DRAG_THRESHOLD:
                self._draft_moved = True
            if self._draft_moved and m.draft is not None and m.draft.kind == FREEHAND:
                m.trace_draft(m.widget_to_rc(pos))
            m.events.redraw.emit()
        elif self.kind == "paint":
            if math.hypot(dx, dy) > DRAG_THRESHOLD:
                self._draft_moved = True
            if self._draft_moved or m.tool not in LASSO_TOOLS:  # a click's jitter adds no point
                m.painter.drag(m.widget_to_rc(pos))
        elif self.kind == "pick":
            self._pick(pos)
        elif self.kind == "turn":
            m.events.turn.emit(self._last_pos, pos)
            self._last_pos = pos

    def release(self, pos: Point) -> str | None:
        """The button is up; returns the kind of drag it ended (None: none)."""
        kind = self.kind
        draft = self.model.draft
        if kind == "draw" and draft is not None and self._draft_moved:
            if draft.kind == FREEHAND:   # an outline traced by dragging: closed on release
                self.model.trace_draft(self.model.widget_to_rc(pos))
                self.model.finish_draft()
            else:  # press-drag-release: the release is the next point
                self._add_draft_point(pos)
        elif kind in ("move", "handle"):
            self.model.events.annotations.emit()
        elif kind == "paint":
            self.model.painter.release()
        self.kind = None
        self._press = None
        return kind

    def double_click(self, button: str) -> bool:
        """A double click ends a polyline or outline being drawn; with the pointer, on a
        text or calibration it asks for its text or length again, on empty space it fits
        the image (True). Any other double click is a press (False: the caller sends it
        as one)."""
        m = self.model
        if button != LEFT:
            return False
        if m.tool in PAINT_TOOLS and m.painter is not None and m.painter.finish():
            self.kind = None  # the lasso polygon is closed (its first click placed the corner)
            return True
        if m.draft is not None and m.draft.open_ended:
            m.finish_draft()   # its first click placed the last point
            self.kind = None
            return True
        if m.tool == POINTER and m.selected is not None:
            return m.request_input(m.selected)
        if m.tool == POINTER:
            m.fit()
            return True
        return False

    def finish(self) -> bool:
        """End the polyline or outline being drawn (Enter); False if there is none."""
        m = self.model
        if m.tool in PAINT_TOOLS and m.painter is not None:
            return m.painter.finish()
        if m.draft is None or not m.draft.open_ended:
            return False
        m.finish_draft()
        self.kind = None
        return True

    def wheel(self, notches: float, pos: Point, ctrl: bool = False, shift: bool = False) -> None:
        """``notches`` away from the user (negative: towards, the next image)."""
        m = self.model
        if ctrl:
            self.on_interaction()
            m.zoom_by(1.15 ** notches, pos)
            return
        self._wheel += notches
        steps = int(self._wheel)
        if steps:
            self._wheel -= steps
            if shift:
                steps *= m.page_size()
            self.on_interaction()
            m.step(-steps)

    def leave(self) -> None:
        self.hover = None
        self.model.update_readout(None)
        if self.model.tool == MAGNIFIER:
            self.model.events.redraw.emit()   # the loupe goes

    def escape(self) -> bool:
        """Drop the measurement being drawn, else the selection; False if neither."""
        m = self.model
        if m.tool in PAINT_TOOLS and m.painter is not None and m.painter.cancel():
            return True
        if m.draft is not None:
            m.cancel_draft()
        elif m.selected is not None:
            m.select(None)
        else:
            return False
        return True

    @property
    def dragging_view(self) -> bool:
        """A W/L or pan drag is under way."""
        return self.kind in WL_DRAGS

    # ------------------------------------------------------------------ drags

    def _paint_press(self, pos: Point) -> None:
        """A mask tool: its press goes to the view's painter (none: nothing happens)."""
        m = self.model
        if m.painter is not None:
            self.kind = "paint"
            self._draft_moved = False
            m.painter.press(m.frame, m.widget_to_rc(pos), m.tool)

    def _start_wl(self) -> None:
        r = self.model.renderer()
        if r is None or r.params.is_colour:
            return
        w = self.model.current_window()
        if w is None:  # VOI LUT in use: start from the auto window
            w = r.auto_window()
        lo, hi = r.modality_range
        self._wl_step = max((hi - lo) / 1000.0, w.width / 500.0, 1e-3)
        self._start_window = w
        self.kind = "wl"
        self.on_interaction()

    def _drag_wl(self, dx: float, dy: float) -> None:
        w0 = self._start_window
        step = self._wl_step
        minimum = 1.0 if w0.function == "LINEAR" else 1e-6
        width = max(minimum, w0.width + dx * step)
        center = w0.center + dy * step
        self.model.set_window(load("medview.core.pixels").Window(center, width, w0.function, ""))

    def _start_pan(self) -> None:
        self.kind = "pan"
        c = self.model.camera
        self._pan0 = (c.pan_x, c.pan_y)

    def _pointer_press(self, pos: Point) -> None:
        m = self.model
        for a in reversed(m.current_annotations()):
            hit = hit_test(a, pos, m.rc_to_widget)
            if hit is not None:
                m.select(a)
                if hit[0] == "handle":
                    self.kind, self._handle = "handle", hit[1]
                else:
                    self.kind = "move"
                    self._last_rc = m.widget_to_rc(pos)
                return
        m.select(None)
        self._start_pan()

    def _link_press(self, pos: Point) -> None:
        if self.model.tool == CROSSHAIR:
            self.kind = "pick"
            self._pick(pos)
        else:
            self.kind = "turn"
            self._last_pos = pos

    def _pick(self, pos: Point) -> None:
        point = self.model.widget_to_patient(pos)
        if point is not None:
            self.model.events.pick.emit(point)

    def _draw_press(self, pos: Point) -> None:
        self.kind = "draw"
        self._draft_moved = False
        if self.model.draft is None:
            if self.model.begin_draft(self.model.widget_to_rc(pos)) == "done":
                self.kind = None   # one point was all it needed (probe, text)
        else:
            self._add_draft_point(pos)

    def _add_draft_point(self, pos: Point) -> None:
        outcome = self.model.add_draft_point(self.model.widget_to_rc(pos))
        if outcome == "ignored":  # a second click on the same spot
            return
        self._draft_moved = False
        if outcome == "done":
            self.kind = None
