"""The viewport under real mouse, wheel and key events: state and rendered pixels."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest

from tests.helpers.qt import (CT_SPACING_MM, centre_mean, grab_array, send_drop, wait_loaded,
                              wait_shown)
from tests.helpers.qt_input import mouse, right_drag, wheel


@pytest.fixture
def mr_view(qtbot, window, mr_file):
    window.open_paths([str(mr_file)])
    wait_loaded(qtbot, window)
    vp = window.grid.active
    wait_shown(qtbot, vp)
    return vp


def test_wheel_and_keys_scroll_the_stack(qtbot, mr_view):
    vp = mr_view
    n = vp.model.count
    assert n == 10 and vp.model.index == 0
    before = grab_array(vp)

    wheel(vp, -1)  # one notch towards the user: next image
    assert vp.model.index == 1
    wheel(vp, -3)
    assert vp.model.index == 4
    wheel(vp, 2)
    assert vp.model.index == 2
    wait_shown(qtbot, vp)
    after = grab_array(vp)
    assert np.abs(after.astype(int) - before.astype(int)).sum() > 0  # a different slice

    QTest.keyClick(vp, Qt.Key.Key_End)
    assert vp.model.index == n - 1
    QTest.keyClick(vp, Qt.Key.Key_Home)
    assert vp.model.index == 0
    QTest.keyClick(vp, Qt.Key.Key_Down)
    QTest.keyClick(vp, Qt.Key.Key_Right)
    assert vp.model.index == 2
    QTest.keyClick(vp, Qt.Key.Key_Up)
    assert vp.model.index == 1
    QTest.keyClick(vp, Qt.Key.Key_PageDown)
    assert vp.model.index == 1 + vp.model.page_size()
    QTest.keyClick(vp, Qt.Key.Key_PageUp)
    assert vp.model.index == 1
    wheel(vp, 50)  # clamped at the first image
    assert vp.model.index == 0


def test_right_drag_changes_window_and_rendered_pixels(qtbot, ct_view):
    vp = ct_view
    w0 = vp.model.current_window()
    assert w0 is not None
    before = grab_array(vp)
    start = QPointF(vp.width() / 2, vp.height() / 2)
    # down: higher level (darker); right: wider window
    right_drag(vp, start, start + QPointF(0, 120))
    w1 = vp.model.current_window()
    assert w1.center > w0.center + 50
    assert w1.width == pytest.approx(w0.width)
    wait_shown(qtbot, vp)
    after = grab_array(vp)
    assert centre_mean(after) < centre_mean(before) - 5

    right_drag(vp, start, start + QPointF(150, 0))
    w2 = vp.model.current_window()
    assert w2.width > w1.width + 50 and w2.center == pytest.approx(w1.center)

    # many moves between two paints render once (coalesced by update())
    count = vp.render_count
    mouse(vp, QMouseEvent.Type.MouseButtonPress, start, Qt.MouseButton.RightButton,
          Qt.MouseButton.RightButton)
    for i in range(30):
        mouse(vp, QMouseEvent.Type.MouseMove, start + QPointF(i, i), Qt.MouseButton.NoButton,
              Qt.MouseButton.RightButton)
    mouse(vp, QMouseEvent.Type.MouseButtonRelease, start + QPointF(29, 29),
          Qt.MouseButton.RightButton, Qt.MouseButton.NoButton)
    vp.repaint()
    assert vp.render_count - count <= 2


def test_presets_auto_window_invert_and_reset(qtbot, window, ct_view):
    vp = ct_view
    presets = vp.model.presets()
    names = [w.name for w in presets]
    assert "Lung" in names and "Bone" in names  # CT modality presets in HU
    lung = names.index("Lung") + 1
    assert vp.model.apply_preset(lung)
    assert vp.model.current_window().center == -600
    vp.model.auto_window()
    assert vp.model.current_window().name == "Auto"

    before = grab_array(vp)
    window.viewer_actions.invert.trigger()
    assert vp.model.invert
    vp.repaint()
    inverted = grab_array(vp)
    h, w = before.shape[:2]
    c = (slice(h // 3, 2 * h // 3), slice(w // 3, 2 * w // 3))
    # inverted image pixels: v -> 255 - v (overlay text kept away from the centre)
    assert np.abs(inverted[c].astype(int) + before[c].astype(int) - 255).mean() < 3

    window.viewer_actions.reset.trigger()
    assert not vp.model.invert and vp.model.camera.fit and vp.model.camera.rotation == 0


def test_user_presets_persist(qtbot, window, ct_view, settings, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    vp = ct_view
    vp.model.set_window(vp.model.current_window().__class__(123, 456, "LINEAR", ""))
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("My liver", True))
    window.save_preset_action.trigger()
    assert settings.user_presets("CT") == [("My liver", 123.0, 456.0)]
    assert "My liver" in [w.name for w in vp.model.presets()]


def test_ctrl_wheel_zooms_about_cursor_and_pan(qtbot, ct_view):
    vp = ct_view
    s0 = vp.model.scale()
    anchor = QPointF(vp.width() * 0.3, vp.height() * 0.4)
    image_pt = vp.widget_to_image(anchor)
    before = grab_array(vp)
    wheel(vp, 2, anchor, Qt.KeyboardModifier.ControlModifier)
    assert vp.model.scale() == pytest.approx(s0 * 1.15 ** 2)
    moved = vp.image_to_widget(image_pt)
    assert abs(moved.x() - anchor.x()) < 1e-6 and abs(moved.y() - anchor.y()) < 1e-6
    assert vp.model.index == 0  # Ctrl+wheel does not scroll
    vp.repaint()
    assert np.abs(grab_array(vp).astype(int) - before.astype(int)).mean() > 1

    vp.model.actual_size()
    assert vp.model.zoom_percent() == pytest.approx(1.0)
    vp.model.fit()
    assert vp.model.camera.fit

    # middle-drag pans
    p0 = QPointF(vp.width() / 2, vp.height() / 2)
    mouse(vp, QMouseEvent.Type.MouseButtonPress, p0, Qt.MouseButton.MiddleButton,
          Qt.MouseButton.MiddleButton)
    mouse(vp, QMouseEvent.Type.MouseMove, p0 + QPointF(40, 25), Qt.MouseButton.NoButton,
          Qt.MouseButton.MiddleButton)
    mouse(vp, QMouseEvent.Type.MouseButtonRelease, p0 + QPointF(40, 25),
          Qt.MouseButton.MiddleButton, Qt.MouseButton.NoButton)
    assert (vp.model.camera.pan_x, vp.model.camera.pan_y) == (40, 25)


def test_rotate_and_flip_move_pixels(qtbot, ct_view):
    vp = ct_view
    top_left = vp.rc_to_widget((0, 0))
    vp.model.rotate(90)
    # after a clockwise turn the first pixel is at the top-right of the image
    rotated = vp.rc_to_widget((0, 0))
    assert rotated.x() > top_left.x() and abs(rotated.y() - top_left.y()) < 1
    vp.model.rotate(-90)
    vp.model.flip(True)
    flipped = vp.rc_to_widget((0, 0))
    assert flipped.x() > vp.width() / 2
    vp.model.flip(True)
    assert vp.rc_to_widget((0, 0)).x() == pytest.approx(top_left.x())


def test_length_by_two_clicks_in_mm(qtbot, window, ct_view):
    vp = ct_view
    window.viewer_actions.set_tool("length")
    p0 = vp.rc_to_widget((100.0, 100.0))
    p1 = vp.rc_to_widget((100.0, 300.0))
    before = grab_array(vp)
    QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p0.toPoint())
    mouse(vp, QMouseEvent.Type.MouseMove, QPointF(p1))
    QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p1.toPoint())

    anns = vp.model.current_annotations()
    assert len(anns) == 1
    m = anns[0].result(vp.model.frame)
    assert m.unit == "mm" and m.source == "PixelSpacing"
    expected = 200 * CT_SPACING_MM
    # each click lands within half a screen pixel of the intended point
    tolerance = 2 * 0.5 / vp.model.scale() * CT_SPACING_MM + 1e-6
    assert m.value == pytest.approx(expected, abs=tolerance)
    label = anns[0].label(vp.model.frame)
    assert "mm" in label and "Pixel Spacing" in label

    # drawn: the pixels along the line turned measurement-yellow
    vp.repaint()
    after = grab_array(vp)
    mid = vp.rc_to_widget((100.0, 200.0))
    dpr = vp.devicePixelRatioF()
    x, y = int(mid.x() * dpr), int(mid.y() * dpr)
    patch_before = before[y - 2: y + 3, x - 2: x + 3].astype(int)
    patch = after[y - 2: y + 3, x - 2: x + 3].astype(int)
    r, g, b = patch[..., 0], patch[..., 1], patch[..., 2]
    assert ((r > 180) & (g > 150) & (b < 120)).any()
    assert np.abs(patch - patch_before).max() > 50

    # measurements are kept per image: gone on the next slice, back on return
    vp.model.step(1)
    assert vp.model.current_annotations() == []
    vp.model.step(-1)
    assert len(vp.model.current_annotations()) == 1


def test_select_move_delete_measurement(qtbot, window, ct_view):
    vp = ct_view
    a = vp.model.add_annotation("length", [(100, 100), (100, 300)])
    window.viewer_actions.set_tool("pointer")
    vp.model.select(None)
    on_line = vp.rc_to_widget((100, 200))
    target = on_line + QPointF(0, 30)
    mouse(vp, QMouseEvent.Type.MouseButtonPress, on_line, Qt.MouseButton.LeftButton,
          Qt.MouseButton.LeftButton)
    assert vp.model.selected is a
    mouse(vp, QMouseEvent.Type.MouseMove, target, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton)
    mouse(vp, QMouseEvent.Type.MouseButtonRelease, target, Qt.MouseButton.LeftButton,
          Qt.MouseButton.NoButton)
    moved_row = a.points[0][0]
    assert moved_row == pytest.approx(100 + 30 / vp.model.scale(), abs=0.01)
    assert a.result(vp.model.frame).value == pytest.approx(200 * CT_SPACING_MM, rel=1e-6)
    QTest.keyClick(vp, Qt.Key.Key_Delete)
    assert vp.model.current_annotations() == []


def test_angle_and_roi_statistics_in_hu(qtbot, window, ct_view):
    vp = ct_view
    window.viewer_actions.set_tool("angle")
    for rc in ((100, 300), (100, 100), (300, 100)):
        QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         vp.rc_to_widget(rc).toPoint())
    angle = vp.model.current_annotations()[-1].result(vp.model.frame)
    assert angle.unit == "°" and angle.value == pytest.approx(90, abs=1.0)

    rect = vp.model.add_annotation("rect", [(200, 200), (260, 280)])
    stats = rect.result(vp.model.frame)
    hu = vp.model.frame.modality_values()[200:261, 200:281]
    assert stats.units == "HU"
    assert stats.mean == pytest.approx(float(hu.mean()))
    assert stats.max == pytest.approx(float(hu.max()))
    assert stats.area.unit == "mm²"
    assert stats.area.value == pytest.approx(61 * 81 * CT_SPACING_MM ** 2, rel=1e-4)
    ellipse = vp.model.add_annotation("ellipse", [(200, 200), (260, 280)])
    e = ellipse.result(vp.model.frame)
    assert e.n_pixels < stats.n_pixels
    assert "HU" in ellipse.label(vp.model.frame)


def test_uncalibrated_length_in_px(qtbot, window, mr_view):
    vp = mr_view
    a = vp.model.add_annotation("length", [(10, 10), (10, 40)])
    m = a.result(vp.model.frame)
    assert m.unit == "px" and m.value == pytest.approx(30)
    assert "px" in a.label(vp.model.frame)


def test_pixel_readout_in_stored_and_modality_units(qtbot, ct_view):
    vp = ct_view
    pos = vp.rc_to_widget((256, 256))
    mouse(vp, QMouseEvent.Type.MouseMove, pos)
    stored = vp.model.frame.stored()[256, 256]
    hu = vp.model.frame.modality_values()[256, 256]
    assert f"SV {int(stored)}" in vp.model.readout
    assert f"{hu:.0f} HU" in vp.model.readout


def test_overlays_can_be_hidden(qtbot, window, ct_view):
    vp = ct_view
    with_overlay = grab_array(vp)
    window.viewer_actions.overlays.setChecked(False)
    vp.repaint()
    without = grab_array(vp)
    h, w = without.shape[:2]
    corner = (slice(4, h // 10), slice(4, w // 4))  # inside the active-viewport frame

    def text_pixels(a):  # light grey overlay text on the black background
        c = a[corner].astype(int)
        return int(((c.min(axis=2) > 150) & (np.ptp(c, axis=2) < 30)).sum())

    assert text_pixels(with_overlay) > 20   # patient name
    assert text_pixels(without) == 0


def test_cine_plays_and_stops(qtbot, window, mr_view):
    vp = mr_view
    window.viewer_actions.fps_spin.setValue(30)
    cine = window.grid.cine()
    window.viewer_actions.cine.trigger()
    assert cine.playing
    qtbot.waitUntil(lambda: vp.model.index >= 3, timeout=5000)
    window.viewer_actions.cine.trigger()
    assert not cine.playing
    assert cine.fps == 30


def test_layouts_and_series_drag_into_viewport(qtbot, window, ct_folder, mr_file):
    from medview.qt.viewer.viewport import SERIES_MIME

    window.open_paths([str(ct_folder), str(mr_file)])
    wait_loaded(qtbot, window, 2)
    window.viewer_actions.layouts["2x2"].trigger()
    assert len(window.grid.viewports) == 4 and all(v.isVisible() for v in window.grid.viewports)
    # empty viewports are filled with series not yet shown
    shown = {v.model.series.id for v in window.grid.viewports if v.model.series is not None}
    assert len(shown) == 2
    target = window.grid.viewports[3]
    mr = next(s for s in window.library.series() if s.modality == "MR")
    md = window.browser.tree.mimeData([window.browser.item_for(mr.id)])
    assert md.hasFormat(SERIES_MIME)
    assert send_drop(target, md).isAccepted()
    assert target.model.series is mr and window.grid.active is target
    window.viewer_actions.layouts["1x2"].trigger()
    assert len(window.grid.viewports) == 2
    assert not target.isVisible()
    # double-click (activate) in the browser opens in the active viewport
    ct = next(s for s in window.library.series() if s.modality == "CT")
    window.browser.tree.itemActivated.emit(window.browser.item_for(ct.id), 0)
    assert window.grid.active.model.series is ct


def test_calibration_source_names_cover_geometry():
    from medview.core import geometry
    from medview.core.annotations import SOURCE_NAMES

    assert set(SOURCE_NAMES) == {geometry.PIXEL_SPACING, geometry.IMAGER_PIXEL_SPACING,
                                 geometry.MAGNIFICATION_CORRECTED,
                                 geometry.NOMINAL_SCANNED_PIXEL_SPACING,
                                 geometry.USER_CALIBRATION}


def test_large_image_drag_renders_a_proxy_then_full_quality(qtbot, window, tmp_path):
    import shutil

    from tests.helpers.datafiles import PYDICOM_DATA_DIR

    shutil.copy(PYDICOM_DATA_DIR / "RG1_UNCR.dcm", tmp_path / "cr.dcm")  # 1955 × 1841 CR
    window.open_paths([str(tmp_path / "cr.dcm")])
    wait_loaded(qtbot, window)
    vp = window.grid.active
    wait_shown(qtbot, vp)
    assert vp.model.zoom_percent() < 0.5
    start = QPointF(vp.width() / 2, vp.height() / 2)
    mouse(vp, QMouseEvent.Type.MouseButtonPress, start, Qt.MouseButton.RightButton,
          Qt.MouseButton.RightButton)
    mouse(vp, QMouseEvent.Type.MouseMove, start + QPointF(40, 40), Qt.MouseButton.NoButton,
          Qt.MouseButton.RightButton)
    assert vp._proxy_step() >= 2
    vp.repaint()
    dragging = grab_array(vp)
    assert vp._proxy is not None and vp._proxy_surface.key[1] == vp.model.current_window()
    mouse(vp, QMouseEvent.Type.MouseButtonRelease, start + QPointF(40, 40),
          Qt.MouseButton.RightButton, Qt.MouseButton.NoButton)
    qtbot.waitUntil(lambda: not vp._interacting, timeout=3000)
    vp.repaint()
    settled = grab_array(vp)
    assert vp._surface.key[1] == vp.model.current_window()  # full resolution, same window
    # the proxy looked like the final image (same window), only coarser
    assert abs(centre_mean(dragging) - centre_mean(settled)) < 3
