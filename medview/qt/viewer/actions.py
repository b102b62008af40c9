"""The viewer's commands as QActions acting on the active viewport.

Menus, the toolbar and Help ▸ Shortcuts all read these actions, so a command
has one name and one shortcut everywhere. Keys that item views also need
(arrows, Page Up/Down, Home/End, Space, Delete) are bound only while the
focus is in the viewer grid.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence
from PySide6.QtWidgets import QMenu, QSpinBox, QToolBar, QToolButton

from medview.core.annotations import (ANGLE, CALIBRATION, COBB, ELLIPSE, FREEHAND, LENGTH,
                                      POLYLINE, PROBE, RECT, TEXT)
from medview.qt.viewer.cine import MAX_FPS, MIN_FPS
from medview.qt.viewer.grid import LAYOUTS, ViewerGrid
from medview.qt.viewer.icons import ICONS, icon, layout_icon
from medview.qt.viewer.viewport import Viewport
from medview.view.model import MAGNIFIER, POINTER

TOOL_ACTIONS = (
    (POINTER, "&Pointer / Pan", "P", "Select, move and delete measurements; drag to pan"),
    (MAGNIFIER, "&Magnifier", "M",
     "A loupe that follows the pointer; click to change its zoom (2×, 4×, 8×)"),
    (LENGTH, "&Length", "L", "Measure a distance: click two points"),
    (POLYLINE, "Pol&yline", "Y",
     "Measure along a path: click the points, double-click (or Enter) to end"),
    (ANGLE, "&Angle", "A", "Measure an angle: click arm, vertex, arm"),
    (COBB, "&Cobb Angle", "C",
     "Cobb angle: click both ends of one end plate, then of the other"),
    (RECT, "&Rectangle ROI", "B", "Rectangle region statistics: click two corners"),
    (ELLIPSE, "&Ellipse ROI", "E", "Ellipse region statistics: click two corners"),
    (FREEHAND, "&Freehand ROI", "D",
     "Freehand region statistics: drag around the region (or click its corners and "
     "double-click)"),
    (PROBE, "Pixel Pro&be", "Shift+P",
     "Pin a pixel's value: HU on CT, SUV on PET when the header allows one"),
    (TEXT, "&Text", "T", "Put a text note on the image"),
    (CALIBRATION, "Calibrate from a &Known Length", "Shift+C",
     "Draw a line over an object of known size and type its length: "
     "the whole series measures with it"),
)
#: Toolbar groups of the tools (a separator between groups).
TOOL_GROUPS = ((POINTER, MAGNIFIER), (LENGTH, POLYLINE, ANGLE, COBB),
               (RECT, ELLIPSE, FREEHAND, PROBE), (TEXT, CALIBRATION))
#: Mouse gestures, listed in Help ▸ Shortcuts next to the actions.
GESTURES = (
    ("Mouse", "Scroll the stack", "Wheel (Shift: 10 % steps)"),
    ("Mouse", "Zoom about the cursor", "Ctrl+Wheel"),
    ("Mouse", "Window / level (horizontal: width, vertical: level)", "Right-drag"),
    ("Mouse", "Pan", "Middle-drag, or left-drag with the pointer"),
    ("Mouse", "Measure / draw an ROI", "Click the points, or drag"),
    ("Mouse", "End a polyline or freehand outline", "Double-click, or Enter"),
    ("Mouse", "Freehand ROI", "Drag around the region (closes on release)"),
    ("Mouse", "Edit a text or calibration", "Double-click it with the pointer"),
    ("Mouse", "Magnifier zoom 2× / 4× / 8×", "Click with the magnifier"),
    ("Mouse", "Move a measurement or one of its points", "Left-drag it with the pointer"),
    ("Mouse", "Fit to window", "Double-click"),
    ("Mouse", "Open files or folders", "Drop them on the window"),
    ("Mouse", "Open a series in a viewport", "Double-click it in the browser, or drag it"),
)
LAYOUT_KEYS = {"1x1": "Alt+1", "1x2": "Alt+2", "1x3": "Alt+3", "2x2": "Alt+4"}
LAYOUT_NAMES = {"1x1": "1 × 1", "1x2": "1 × 2", "1x3": "1 × 3", "2x2": "2 × 2"}


class ViewerActions(QObject):
    """Creates and wires every viewer action; ``all()`` lists them for Help ▸ Shortcuts."""

    fpsChanged = Signal(int)

    def __init__(self, grid: ViewerGrid, parent: QObject | None = None, fps: int = 10) -> None:
        super().__init__(parent)
        self.grid = grid
        self._list: list[QAction] = []
        self.preset_menu = QMenu("Window &Presets")
        self.preset_menu.aboutToShow.connect(self._fill_preset_menu)
        a = self._add
        self._area = "View"

        # view
        self.fit = a("&Fit to Window", "F", lambda m: m.fit())
        self.actual = a("&Actual Size (1:1)", "Ctrl+0", lambda m: m.actual_size())
        self.zoom_in = a("Zoom &In", QKeySequence.StandardKey.ZoomIn, lambda m: m.zoom_by(1.25))
        self.zoom_out = a("Zoom &Out", QKeySequence.StandardKey.ZoomOut, lambda m: m.zoom_by(0.8))
        self.rotate_cw = a("Rotate 90° &Clockwise", "]", lambda m: m.rotate(90))
        self.rotate_ccw = a("Rotate 90° Counter-clockwise", "[", lambda m: m.rotate(-90))
        self.flip_h = a("Flip &Horizontal", "H", lambda m: m.flip(True))
        self.flip_v = a("Flip &Vertical", "V", lambda m: m.flip(False))
        self.invert = a("&Invert", "I", lambda m: m.set_invert(not m.invert), checkable=True)
        self.scale_bar = QAction("Show &Scale Bar", self, checkable=True, checked=True)
        self.scale_bar.setShortcut("S")
        self.scale_bar.setToolTip("A scale bar that fits the view, naming the spacing it "
                                  "uses (S)")
        self.scale_bar.toggled.connect(self._set_scale_bar)
        self.scale_bar.setProperty("shortcutArea", self._area)
        self._list.append(self.scale_bar)
        self.reset = a("&Reset View", "Ctrl+R", lambda m: m.reset_view(),
                       tip="Fit, no rotation or flip, the image's own window")
        self.overlays = QAction("Show &Overlays", self, checkable=True, checked=True)
        self.overlays.setShortcut("O")
        self.overlays.setToolTip("Show the corner text, orientation and scale bar (O)")
        self.overlays.toggled.connect(self._set_overlays)
        self.overlays.setProperty("shortcutArea", self._area)
        self._list.append(self.overlays)

        # window / level
        self._area = "Window/Level"
        self.auto_window = a("&Auto Window", "W", lambda m: m.auto_window(),
                             tip="Window spanning the 0.5–99.5 % range of this image")
        self.image_window = a("Image's Own Window", "0", lambda m: m.reset_window())
        self.presets: list[QAction] = []
        for n in range(1, 10):
            act = a(f"Window Preset {n}", str(n), lambda m, n=n: m.apply_preset(n),
                    tip="Stored windows of the image first, then the modality presets")
            self.presets.append(act)

        # tools
        self._area = "Measure"
        self.tool_group = QActionGroup(self)
        self.tools: dict[str, QAction] = {}
        for tool, text, key, tip in TOOL_ACTIONS:
            act = QAction(icon(tool), text, self, checkable=True)
            act.setShortcut(key)
            act.setToolTip(f"{tip} ({key})")
            act.triggered.connect(lambda _=False, t=tool: self.set_tool(t))
            self.tool_group.addAction(act)
            self.tools[tool] = act
            act.setProperty("shortcutArea", self._area)
            self._list.append(act)
        self.tools[POINTER].setChecked(True)
        self.delete = a("&Delete Selected Measurement", "Del", lambda m: m.delete_selected(),
                        grid_only=True)
        self.clear_measurements = a("Clear Measurements on Image", "Ctrl+Del",
                                    lambda m: m.clear_annotations())
        self.key_image = a("Mark as &Key Image", "K", lambda m: m.toggle_key_image(),
                           tip="Mark or unmark this image as a key image (saved with the "
                               "study, exported as a Key Object Selection)")

        # cine
        self._area = "Stack"
        self.cine = QAction("&Play / Pause Cine", self, checkable=True)
        self.cine.setShortcut("Space")
        self.cine.setToolTip("Play or pause the stack as a movie (Space)")
        self.cine.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.cine.triggered.connect(self._toggle_cine)
        self.cine.setProperty("shortcutArea", self._area)
        grid.addAction(self.cine)
        self._list.append(self.cine)
        self.fps_spin = QSpinBox()
        self.fps_spin.setRange(MIN_FPS, MAX_FPS)
        self.fps_spin.setSuffix(" fps")
        self.fps_spin.setToolTip("Cine frame rate")
        self.fps_spin.setMinimumWidth(72)
        self.fps_spin.setValue(fps)
        self.fps_spin.valueChanged.connect(self._set_fps)
        self._set_fps(fps)

        # stack navigation (grid focus only, so item views keep their arrow keys)
        self.next_image = a("Next Image", "Down", lambda m: m.step(1), grid_only=True,
                            extra=("Right",))
        self.prev_image = a("Previous Image", "Up", lambda m: m.step(-1), grid_only=True,
                            extra=("Left",))
        self.page_down = a("Skip Forward 10 %", "PgDown", lambda m: m.step(m.page_size()),
                           grid_only=True)
        self.page_up = a("Skip Back 10 %", "PgUp", lambda m: m.step(-m.page_size()),
                         grid_only=True)
        self.first_image = a("First Image", "Home", lambda m: m.set_index(0), grid_only=True)
        self.last_image = a("Last Image", "End", lambda m: m.set_index(m.count - 1),
                            grid_only=True)
        # layouts
        self._area = "Layout"
        self.layout_group = QActionGroup(self)
        self.layouts: dict[str, QAction] = {}
        for name in LAYOUTS:
            act = QAction(layout_icon(*LAYOUTS[name]), f"Layout {LAYOUT_NAMES[name]}", self,
                          checkable=True)
            act.setShortcut(LAYOUT_KEYS[name])
            act.setToolTip(f"{LAYOUT_NAMES[name]} viewports ({LAYOUT_KEYS[name]})")
            act.triggered.connect(lambda _=False, n=name: grid.set_layout(n))
            self.layout_group.addAction(act)
            self.layouts[name] = act
            act.setProperty("shortcutArea", self._area)
            self._list.append(act)
        grid.layoutChanged.connect(lambda n: self.layouts[n].setChecked(True))
        self.layouts[grid.layout_name].setChecked(True)

        grid.activeChanged.connect(self._sync)
        for vp in grid._all:
            vp.model.events.invert.connect(lambda v=vp: self._sync(v) if v is grid.active else None)
            grid.cine(vp).playingChanged.connect(
                lambda on, v=vp: self.cine.setChecked(on) if v is grid.active else None)
        self._sync(grid.active)
        for act, name in ((self.fit, "fit"), (self.actual, "actual"), (self.rotate_cw, "rotate"),
                          (self.flip_h, "flip_h"), (self.flip_v, "flip_v"),
                          (self.invert, "invert"), (self.scale_bar, "scale_bar"),
                          (self.auto_window, "auto_window"), (self.reset, "reset"),
                          (self.cine, "cine")):
            act.setIcon(icon(name))

    # -- building

    def _add(self, text: str, key, fn, tip: str = "", checkable: bool = False,
             grid_only: bool = False, extra: tuple[str, ...] = ()) -> QAction:
        act = QAction(text, self, checkable=checkable)
        keys = [QKeySequence(key)] + [QKeySequence(k) for k in extra]
        act.setShortcuts(keys)
        act.setToolTip(f"{tip or text.replace('&', '')} "
                       f"({keys[0].toString(QKeySequence.SequenceFormat.NativeText)})")
        act.triggered.connect(lambda _=False: fn(self.grid.active.model))  # acts on the model
        act.setProperty("shortcutArea", self._area)
        if grid_only:
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.grid.addAction(act)
        self._list.append(act)
        return act

    def add_tool(self, tool: str, text: str, key: str, tip: str, area: str) -> QAction:
        """One more tool in the exclusive tool group (e.g. the cross-hair of linked views);
        the caller places it in its menus and toolbars."""
        act = QAction(icon(tool) if tool in ICONS else QIcon(), text, self, checkable=True)
        act.setShortcut(key)
        act.setToolTip(f"{tip} ({key})")
        act.triggered.connect(lambda _=False: self.set_tool(tool))
        self.tool_group.addAction(act)
        self.tools[tool] = act
        act.setProperty("shortcutArea", area)
        self._list.append(act)
        return act

    def all(self) -> list[QAction]:
        return list(self._list)

    def window_actions(self) -> list[QAction]:
        """Actions with window-wide shortcuts (to be added to the main window)."""
        grid_bound = set(self.grid.actions())
        return [a for a in self._list if a not in grid_bound]

    def fill_toolbar(self, tb: QToolBar) -> None:
        """Icons with tooltips; the short texts show where the toolbar shows text."""
        short = {self.fit: "Fit", self.actual: "1:1", self.rotate_cw: "Rotate",
                 self.flip_h: "Flip H", self.flip_v: "Flip V", self.invert: "Invert",
                 self.scale_bar: "Scale", self.auto_window: "Auto W/L", self.reset: "Reset",
                 self.cine: "Cine", self.tools[POINTER]: "Pointer", self.tools[RECT]: "Rect ROI",
                 self.tools[ELLIPSE]: "Ellipse ROI", self.tools[FREEHAND]: "Freehand",
                 self.tools[COBB]: "Cobb", self.tools[PROBE]: "Probe",
                 self.tools[CALIBRATION]: "Calibrate"}
        short.update({act: LAYOUT_NAMES[n] for n, act in self.layouts.items()})
        for act, text in short.items():
            act.setIconText(text)  # toolbar label; menus keep the full text
        for group in TOOL_GROUPS:
            for tool in group:
                tb.addAction(self.tools[tool])
            tb.addSeparator()
        for act in (self.fit, self.actual, self.rotate_cw, self.flip_h, self.flip_v, self.invert,
                    self.scale_bar):
            tb.addAction(act)
        tb.addSeparator()
        tb.addAction(self.auto_window)
        button = QToolButton(tb)
        button.setText("Presets")
        button.setIcon(icon("presets"))
        button.setToolTip("Window presets (1–9), auto window (W), image window (0)")
        button.setMenu(self.preset_menu)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        button.setToolButtonStyle(tb.toolButtonStyle())
        button.setIconSize(tb.iconSize())
        tb.toolButtonStyleChanged.connect(button.setToolButtonStyle)
        tb.iconSizeChanged.connect(button.setIconSize)
        tb.addWidget(button)
        tb.addAction(self.reset)
        tb.addSeparator()
        tb.addAction(self.cine)
        tb.addWidget(self.fps_spin)
        tb.addSeparator()
        for act in self.layouts.values():
            tb.addAction(act)

    # -- slots

    def set_tool(self, tool: str) -> None:
        self.tools[tool].setChecked(True)
        for vp in self.grid._all:
            vp.model.set_tool(tool)

    def _set_scale_bar(self, on: bool) -> None:
        for vp in self.grid._all:
            vp.model.set_scale_bar(on)

    def _set_overlays(self, on: bool) -> None:
        for vp in self.grid._all:
            vp.overlays_visible = on
            vp.update()

    def _toggle_cine(self) -> None:
        c = self.grid.cine()
        c.toggle()
        self.cine.setChecked(c.playing)

    def _set_fps(self, fps: int) -> None:
        for c in self.grid.cines.values():
            c.fps = fps
        self.fpsChanged.emit(fps)

    def _sync(self, vp: Viewport) -> None:
        self.invert.setChecked(vp.model.invert)
        self.cine.setChecked(self.grid.cine(vp).playing)

    def _fill_preset_menu(self) -> None:
        menu = self.preset_menu
        menu.clear()
        vp = self.grid.active
        presets = vp.model.presets()
        if not presets:
            act = menu.addAction("No presets for this image")
            act.setEnabled(False)
        for i, w in enumerate(presets, 1):
            key = f"&{i}  " if i <= 9 else "    "
            act = menu.addAction(f"{key}{w.name or 'Window'}   W {w.width:g} / L {w.center:g}")
            act.triggered.connect(lambda _=False, w=w: self.grid.active.model.set_window(w))
        menu.addSeparator()
        menu.addAction(self.auto_window)
        menu.addAction(self.image_window)
