"""The reading tools under real mouse events on a real CT: the model's state and the
rendered pixels; the toolbar's icons at a device pixel ratio of 2."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QMouseEvent
from PySide6.QtWidgets import QApplication, QInputDialog

from medview.core import geometry
from medview.qt import theme
from tests.helpers.qt import CT_SPACING_MM, grab_array
from tests.helpers.qt_input import mouse

ROOT = Path(__file__).resolve().parents[2]
LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton


def click(vp, rc) -> QPointF:
    pos = vp.rc_to_widget(rc)
    mouse(vp, QMouseEvent.Type.MouseMove, pos)
    mouse(vp, QMouseEvent.Type.MouseButtonPress, pos, LEFT, LEFT)
    mouse(vp, QMouseEvent.Type.MouseButtonRelease, pos, LEFT, NONE)
    return pos


def double_click(vp, rc) -> None:
    pos = click(vp, rc)
    mouse(vp, QMouseEvent.Type.MouseButtonDblClick, pos, LEFT, LEFT)
    mouse(vp, QMouseEvent.Type.MouseButtonRelease, pos, LEFT, NONE)


def drag(vp, path) -> None:
    points = [vp.rc_to_widget(rc) for rc in path]
    mouse(vp, QMouseEvent.Type.MouseButtonPress, points[0], LEFT, LEFT)
    for p in points[1:]:
        mouse(vp, QMouseEvent.Type.MouseMove, p, NONE, LEFT)
    mouse(vp, QMouseEvent.Type.MouseButtonRelease, points[-1], LEFT, NONE)


def colour_near(arr: np.ndarray, vp, pos: QPointF, colour: str, tol: int = 60,
                reach: int = 2) -> bool:
    """Whether a pixel within ``reach`` device pixels of widget point ``pos`` has ``colour``."""
    dpr = vp.devicePixelRatioF()
    x, y = int(pos.x() * dpr), int(pos.y() * dpr)
    patch = arr[y - reach: y + reach + 1, x - reach: x + reach + 1].astype(int)
    c = QColor(colour)
    want = np.array([c.red(), c.green(), c.blue()])
    return bool((np.abs(patch - want).max(axis=2) <= tol).any())


def answer_dialogs(answers: list) -> QTimer:
    """Answer the next input dialogs (text or number) with ``answers``, in order, as a
    reader typing and pressing OK would."""
    timer = QTimer()

    def answer() -> None:
        dlg = QApplication.activeModalWidget()
        if not isinstance(dlg, QInputDialog) or not dlg.isVisible():
            return
        value = answers.pop(0)
        if isinstance(value, str):
            dlg.setTextValue(value)
        else:
            dlg.setDoubleValue(value)
        dlg.accept()
        if not answers:
            timer.stop()

    timer.timeout.connect(answer)
    timer.start(20)
    return timer


def test_cobb_polyline_freehand_and_probe_drawn_with_the_mouse(qtbot, window, ct_view):
    vp, va = ct_view, window.viewer_actions
    m = vp.model
    va.tools["cobb"].trigger()
    assert m.tool == "cobb"
    for rc in ((100, 100), (80, 220), (300, 100), (330, 220)):
        click(vp, rc)
    (cobb,) = m.current_annotations()
    up = math.degrees(math.atan2(20, 120))
    down = math.degrees(math.atan2(30, 120))
    tolerance = 4 / m.scale()   # each click within half a screen pixel of its point
    assert cobb.result(m.frame).value == pytest.approx(up + down, abs=tolerance)

    va.tools["polyline"].trigger()
    for rc in ((400, 60), (400, 160)):
        click(vp, rc)
    double_click(vp, (460, 160))
    polyline = m.current_annotations()[-1]
    assert polyline.kind == "polyline" and len(polyline.points) == 3 and m.draft is None
    assert polyline.result(m.frame).value == pytest.approx(160 * CT_SPACING_MM, rel=0.02)

    va.tools["freehand"].trigger()
    centre, radius = (200, 330), 40
    circle = [(centre[0] + radius * math.sin(t), centre[1] + radius * math.cos(t))
              for t in np.linspace(0, 2 * math.pi, 60)]
    drag(vp, circle)
    roi = m.current_annotations()[-1]
    stats = roi.result(m.frame)
    assert roi.kind == "freehand" and stats.units == "HU"
    assert stats.area.value == pytest.approx(math.pi * (radius * CT_SPACING_MM) ** 2, rel=0.05)

    va.tools["probe"].trigger()
    click(vp, (256, 256))
    probe = m.current_annotations()[-1]
    hu = m.frame.modality_values()[256, 256]
    assert probe.label(m.frame) == f"{hu:.0f} HU"

    vp.repaint()
    arr = grab_array(vp)
    mid = lambda a, b: (a + b) / 2   # noqa: E731
    assert colour_near(arr, vp, mid(vp.rc_to_widget((100, 100)), vp.rc_to_widget((80, 220))),
                       theme.MEASURE)
    assert colour_near(arr, vp, mid(vp.rc_to_widget((400, 60)), vp.rc_to_widget((400, 160))),
                       theme.MEASURE)
    assert colour_near(arr, vp, vp.rc_to_widget((centre[0], centre[1] + radius)), theme.ROI)
    assert colour_near(arr, vp, vp.rc_to_widget((256, 256)) + QPointF(5, 0), theme.MEASURE)
    # the Cobb construction: dashed perpendiculars from the lines' middles, meeting
    # between them on the concave side, drawn
    (mid, apex), _ = m.guides(cobb)
    assert mid == pytest.approx((90, 160)) and 90 < apex[0] < 315 and apex[1] > 160
    on_guide = vp.rc_to_widget(((mid[0] + apex[0]) / 2, (mid[1] + apex[1]) / 2))
    assert colour_near(arr, vp, on_guide, theme.MEASURE, reach=3)


def test_text_and_calibration_ask_and_the_series_measures_with_it(qtbot, window, ct_view):
    vp, va = ct_view, window.viewer_actions
    m = vp.model
    before = grab_array(vp)
    timer = answer_dialogs(["Left kidney", 50.0])
    va.tools["text"].trigger()
    click(vp, (60, 60))
    qtbot.waitUntil(lambda: m.current_annotations() and
                    m.current_annotations()[-1].text == "Left kidney", timeout=5000)

    va.tools["calibration"].trigger()
    click(vp, (450, 100))
    click(vp, (450, 300))          # 200 px: 95.7 mm by Pixel Spacing
    qtbot.waitUntil(lambda: m.user_calibration() is not None, timeout=5000)
    timer.stop()
    line = m.current_annotations()[-1]
    assert line.kind == "calibration" and line.known_mm == 50.0
    mm_per_px = 50.0 / math.dist(line.points[0], line.points[1])
    assert m.user_calibration() == (pytest.approx(mm_per_px), pytest.approx(mm_per_px))

    va.tools["length"].trigger()
    click(vp, (200, 100))
    click(vp, (200, 300))
    length = m.current_annotations()[-1]
    r = length.result(m.frame)
    assert r.source == geometry.USER_CALIBRATION
    assert r.value == pytest.approx(math.dist(*length.points) * mm_per_px)
    assert "calibrated by user" in length.label(m.frame)
    bar = m.current_scale_bar()
    assert bar is not None and "calibrated by user" in bar.source

    vp.repaint()
    arr = grab_array(vp)
    text_at = vp.rc_to_widget((60, 60)) + QPointF(30, 12)
    assert colour_near(arr, vp, text_at, theme.OVERLAY_TEXT, tol=40, reach=10)
    assert not colour_near(before, vp, text_at, theme.OVERLAY_TEXT, tol=40, reach=10)
    assert colour_near(arr, vp, vp.rc_to_widget((450, 200)), theme.CALIBRATION)
    from medview.view.corners import view_corner_text
    assert any(s.startswith("Calibrated by user") for s in view_corner_text(m).bottom_right)

    # cancelling the dialog of a new calibration line removes the line
    va.tools["calibration"].trigger()
    timer = QTimer()
    timer.timeout.connect(lambda: isinstance(QApplication.activeModalWidget(), QInputDialog)
                          and QApplication.activeModalWidget().reject())
    timer.start(20)
    n = len(m.current_annotations())
    click(vp, (480, 100))
    click(vp, (480, 200))
    qtbot.waitUntil(lambda: len(m.current_annotations()) == n and m.draft is None, timeout=5000)
    timer.stop()
    assert m.user_calibration() == (pytest.approx(mm_per_px), pytest.approx(mm_per_px))


def test_magnifier_shows_the_pixels_under_the_pointer_enlarged(qtbot, window, ct_view):
    vp, va = ct_view, window.viewer_actions
    m = vp.model
    window.smooth_action.setChecked(False)   # nearest pixels: comparable one by one
    va.tools["magnifier"].trigger()
    target = (256.0, 200.0)
    pos = vp.rc_to_widget(target)
    mouse(vp, QMouseEvent.Type.MouseMove, pos)
    vp.repaint()
    with_loupe = grab_array(vp)
    loupe = m.loupe(vp.gestures.hover)
    assert loupe is not None and loupe.factor == 2
    full = vp.render_image()     # the full-resolution rendered image the loupe draws from
    checked = 0
    for dr, dc in ((0, 10), (-12, 3), (8, -9), (15, 15)):
        rc = (target[0] + dr, target[1] + dc)
        in_loupe = QPointF(*loupe.transform.map((rc[1] + 0.5, rc[0] + 0.5)))
        if math.dist((in_loupe.x(), in_loupe.y()), loupe.centre) > loupe.radius - 8:
            continue
        checked += 1
        dpr = vp.devicePixelRatioF()
        seen = with_loupe[int(in_loupe.y() * dpr), int(in_loupe.x() * dpr)]
        rendered = QColor(full.pixel(int(rc[1]), int(rc[0])))   # that image pixel
        assert np.abs(seen.astype(int) - rendered.red()).max() <= 2
    assert checked >= 3
    ring = QPointF(loupe.centre[0] + loupe.radius, loupe.centre[1])
    assert colour_near(with_loupe, vp, ring, theme.ACCENT, tol=40)
    mouse(vp, QMouseEvent.Type.MouseButtonPress, pos, LEFT, LEFT)
    mouse(vp, QMouseEvent.Type.MouseButtonRelease, pos, LEFT, NONE)
    assert m.magnifier_factor == 4 and m.current_annotations() == []
    exported = vp.grab_view()   # the loupe is for the screen, never in an export
    assert exported.pixelColor(int(ring.x()), int(ring.y())) != QColor(theme.ACCENT)


def test_scale_bar_is_drawn_to_length_and_can_be_hidden(qtbot, window, ct_view):
    vp, va = ct_view, window.viewer_actions
    m = vp.model
    bar = m.current_scale_bar()
    assert bar.source == "Pixel Spacing"
    assert bar.mm in (1, 2, 5, 10, 20, 50, 100, 200)
    assert bar.pixels == pytest.approx(bar.mm / (CT_SPACING_MM / m.scale()))
    vp.repaint()
    shown = grab_array(vp)
    va.scale_bar.trigger()
    assert not m.show_scale_bar and m.current_scale_bar() is None
    vp.repaint()
    hidden = grab_array(vp)
    changed = np.abs(shown.astype(int) - hidden.astype(int)).max(axis=2) > 40
    rows = np.flatnonzero(changed.sum(axis=1) > bar.pixels * 0.8)   # the bar's line
    assert rows.size
    cols = np.flatnonzero(changed[rows[0]])
    dpr = vp.devicePixelRatioF()
    assert (cols.max() - cols.min()) / dpr == pytest.approx(bar.pixels, abs=2)
    assert abs((cols.max() + cols.min()) / 2 / dpr - vp.width() / 2) <= 2


def test_toolbar_icons_have_tooltips_and_stay_sharp_at_twice_the_pixels(qtbot, window):
    tb = window.toolbar
    assert tb.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly
    actions = [a for a in tb.actions() if not a.isSeparator()
               and type(tb.widgetForAction(a)).__name__ == "QToolButton"
               and tb.widgetForAction(a).defaultAction() is a]
    assert len(actions) >= 25
    for act in actions:
        assert not act.icon().isNull(), act.text()
        tip = act.toolTip()
        keys = act.shortcut().toString()
        assert tip and tip != act.text().replace("&", ""), act.text()   # says what it does
        assert not keys or f"({keys})" in tip, tip

    size = QSize(24, 24)
    for act in actions:
        sharp = act.icon().pixmap(size, 2.0)
        assert (sharp.width(), sharp.height(), sharp.devicePixelRatio()) == (48, 48, 2.0)
        small = act.icon().pixmap(size, 1.0).toImage()
        upscaled = small.scaled(48, 48, Qt.AspectRatioMode.IgnoreAspectRatio,
                                Qt.TransformationMode.SmoothTransformation)
        # drawn at 48 px, the edges are half as soft as a 24 px drawing blown up
        assert _soft_edge(sharp.toImage()) < 0.75 * _soft_edge(upscaled), act.text()

    # on a screen of twice the pixels, a tool button paints its icon at twice the pixels
    result = subprocess.run([sys.executable, "-c", _BUTTON_AT_DPR_2], capture_output=True,
                            text=True, timeout=120, cwd=ROOT,
                            env={**os.environ, "QT_SCALE_FACTOR": "2",
                                 "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    dpr, at_2, blown_up = json.loads(result.stdout.strip().splitlines()[-1])
    assert dpr == 2.0 and at_2 < 0.75 * blown_up


_BUTTON_AT_DPR_2 = """
import json
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication, QToolButton
from medview.qt.viewer.icons import icon
from tests.helpers.qt import soft_edge_on
app = QApplication([])
button = QToolButton()
button.setIcon(icon("length"))
button.setIconSize(QSize(24, 24))
button.resize(32, 32)
at_2 = button.grab().toImage()
button.setIcon(icon("length").pixmap(QSize(24, 24), 1.0))   # a 1x bitmap, blown up
blown_up = button.grab().toImage()
print(json.dumps([at_2.devicePixelRatio(), soft_edge_on(at_2), soft_edge_on(blown_up)]))
"""


def _soft_edge(img: QImage) -> float:
    """Pixels of partial coverage per fully covered pixel."""
    img = img.convertToFormat(QImage.Format.Format_ARGB32)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.width(), 4)
    alpha = arr[..., 3].astype(int)
    return ((alpha > 20) & (alpha < 235)).sum() / max(1, (alpha >= 235).sum())
