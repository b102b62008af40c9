"""MPR and linked views in the main window, under real mouse and wheel events: the 2 × 2
layout, the 3-D cursor, slabs, the shared window, reference lines, synchronised scrolling
between two series of one study, and the refusal of what is not a volume."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor

from medview.qt import theme
from tests.helpers.datafiles import PYDICOM_DATA_DIR
from tests.helpers.qt import grab_array, wait_loaded, wait_shown
from tests.helpers.mpr_screenshot import CLICK_POINT, grab, show_mpr
from tests.helpers.qt_input import right_drag, wheel
from tests.helpers.series import CORONAL, write_series
from tests.helpers.volumes import write_ct


@pytest.fixture
def ct_folder(tmp_path):
    folder = tmp_path / "ct"
    write_ct(folder, slices=24, size=48)
    return folder


@pytest.fixture
def mpr_window(qtbot, window, ct_folder):
    """The window showing the MPR of the synthetic CT."""
    window.hanging_action.setChecked(False)  # the MPR action's 2 × 2, not the protocol's 1 × 3
    window.open_paths([str(ct_folder)])
    wait_loaded(qtbot, window)
    wait_shown(qtbot, window.grid.active)
    qtbot.waitUntil(lambda: window.mpr.mpr_action.isEnabled())
    window.mpr.mpr_action.trigger()
    qtbot.waitUntil(lambda: window.mpr.showing and not window.mpr.building, timeout=15000)
    return window


def _colour_pixels(arr: np.ndarray, colour: str, tolerance: int = 40) -> int:
    c = QColor(colour)
    target = np.array([c.red(), c.green(), c.blue()])
    return int((np.abs(arr.astype(int) - target).max(axis=2) <= tolerance).sum())


def test_mpr_shows_axial_coronal_sagittal_and_oblique_with_lines(qtbot, mpr_window):
    win = mpr_window
    assert win.grid.layout_name == "2x2" and win.mpr.mpr_action.isChecked()
    views = win.grid.viewports
    assert [vp.model.planes.name for vp in views] == ["Axial", "Coronal", "Sagittal", "Oblique"]
    assert "MPR of" in win._status_label.text()
    for slot, vp in enumerate(views):
        vp.repaint()
        arr = grab_array(vp)
        others = [s for s in range(4) if s != slot]
        # every other view's line is drawn in its colour, and the cursor ring
        for other in others:
            assert _colour_pixels(arr, theme.REFERENCE_SLOTS[other]) > 20, (slot, other)
        assert _colour_pixels(arr, theme.CURSOR_3D) > 10
    win.links.lines_action.trigger()                          # lines off
    views[0].repaint()
    assert _colour_pixels(grab_array(views[0]), theme.REFERENCE_SLOTS[1]) == 0


def test_a_click_with_the_cross_hair_lands_on_one_patient_point_in_every_view(qtbot, mpr_window):
    win = mpr_window
    win.viewer_actions.tools["crosshair"].trigger()
    sagittal = win.grid.viewports[2]
    pos = QPointF(sagittal.width() * 0.45, sagittal.height() * 0.6)
    qtbot.mouseClick(sagittal, Qt.MouseButton.LeftButton, pos=pos.toPoint())
    point = sagittal.model.widget_to_patient((pos.toPoint().x(), pos.toPoint().y()))
    assert np.allclose(win.links.cursor.point, point)
    for vp in win.grid.viewports:
        m = vp.model
        where = win.links.cursor.where(m)
        assert where is not None, m.planes.name
        back = m.widget_to_patient(where)
        normal = m.frame.plane.normal
        off = (point - back) @ normal
        assert np.allclose(back + off * normal, point, atol=1e-6)   # the same patient point
        assert abs(off) <= max(m.planes.step_mm / 2, 0.5) + 1e-9
        # and the ring is drawn there
        vp.repaint()
        arr = grab_array(vp)
        dpr = vp.devicePixelRatioF()
        x, y = round((where[0] + 7) * dpr), round(where[1] * dpr)
        ring = arr[y - 2:y + 3, x - 2:x + 3]
        assert _colour_pixels(ring, theme.CURSOR_3D, 60) > 0, m.planes.name


def test_the_wheel_moves_a_plane_by_its_spacing_and_the_lines_follow(qtbot, mpr_window):
    axial, coronal = mpr_window.grid.viewports[:2]
    before = coronal.model.frame.plane.origin @ coronal.model.planes.normal
    line_before = _line_rows(axial.model, mpr_window, coronal.model)
    wheel(coronal, -3)                                  # three notches: three planes on
    after = coronal.model.frame.plane.origin @ coronal.model.planes.normal
    assert after - before == pytest.approx(3 * 0.7)
    # the coronal line in the axial view moved 3 pixels down (0.7 mm pixels)
    assert _line_rows(axial.model, mpr_window, coronal.model) == pytest.approx(line_before + 3)


def _line_rows(model, window, peer) -> float:
    from medview.view.reference_lines import reference_lines

    (ref,) = [r for r in reference_lines(model, window.links.link) if r.peer is peer]
    return ref.line[0][0]


def test_window_level_is_shared_and_the_slab_controls_act_on_the_active_view(qtbot, mpr_window):
    win = mpr_window
    axial, coronal, sagittal, _ = win.grid.viewports
    right_drag(sagittal, QPointF(100, 100), QPointF(160, 140))
    window = sagittal.model.window
    assert window.width != 3400.0
    assert all(vp.model.window == window for vp in win.grid.viewports)

    qtbot.mouseClick(coronal, Qt.MouseButton.MiddleButton, pos=coronal.rect().center())
    assert win.grid.active is coronal
    win.mpr.mode.setCurrentIndex(win.mpr.mode.findData("minip"))
    win.mpr.slab.setValue(7.0)
    assert coronal.model.planes.slab_mm == 7.0 and coronal.model.planes.mode == "minip"
    assert axial.model.planes.slab_mm == 0.0
    assert "MinIP slab 7 mm" in " ".join(_corner_lines(coronal))
    qtbot.mouseClick(axial, Qt.MouseButton.MiddleButton, pos=axial.rect().center())
    assert win.mpr.slab.value() == 0.0                  # the controls show the active view


def _corner_lines(vp) -> list[str]:
    from medview.view.corners import view_corner_text

    return view_corner_text(vp.model).bottom_left


def test_rotate_plane_tool_turns_the_oblique_view(qtbot, mpr_window):
    from tests.helpers.qt_input import mouse

    win = mpr_window
    assert win.mpr.rotate_action.isEnabled()
    win.mpr.rotate_action.trigger()
    coronal, oblique = win.grid.viewports[1], win.grid.viewports[3]
    rotation = oblique.model.planes.rotation.copy()
    centre, _ = coronal.model.patient_to_widget(win.links.cursor.point)
    start, end = QPointF(centre[0] + 40, centre[1]), QPointF(centre[0], centre[1] + 40)
    mouse(coronal, mouse_type("press"), start, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
    mouse(coronal, mouse_type("move"), end, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton)
    mouse(coronal, mouse_type("release"), end, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)
    turned = oblique.model.planes.rotation
    assert not np.allclose(turned, rotation)
    angle = np.degrees(np.arccos((np.trace(turned @ rotation.T) - 1) / 2))
    assert angle == pytest.approx(90, abs=1.5)          # widget points are whole pixels
    win.mpr.reset_oblique_action.trigger()
    assert np.allclose(oblique.model.planes.rotation, rotation)


def mouse_type(kind: str):
    from PySide6.QtGui import QMouseEvent

    return {"press": QMouseEvent.Type.MouseButtonPress, "move": QMouseEvent.Type.MouseMove,
            "release": QMouseEvent.Type.MouseButtonRelease}[kind]


def test_leaving_mpr_puts_back_the_layout_and_series(qtbot, mpr_window):
    win = mpr_window
    series = win.library.series()[0]
    win.mpr.mpr_action.trigger()
    assert win.grid.layout_name == "1x1" and not win.mpr.showing
    m = win.grid.active.model
    assert m.planes is None and m.series is series
    assert not win.mpr.mpr_action.isChecked() and win.mpr.mpr_action.isEnabled()
    assert win.links.cursor.point is None


def test_a_series_that_is_not_a_volume_disables_mpr_and_says_why(qtbot, window, tmp_path):
    if PYDICOM_DATA_DIR is None:
        pytest.skip("pydicom-data is not installed")
    shutil.copy(PYDICOM_DATA_DIR / "RG3_UNCR.dcm", tmp_path / "cr.dcm")
    window.open_paths([str(tmp_path / "cr.dcm")])
    wait_loaded(qtbot, window)
    wait_shown(qtbot, window.grid.active)
    act = window.mpr.mpr_action
    assert not act.isEnabled()
    assert act.toolTip().startswith("MPR unavailable: not a volume: 1 image(s)")
    assert act.statusTip() == act.toolTip()
    assert window.mpr.enter() is False
    assert "not a volume" in window._status_label.text()


@pytest.fixture
def two_series(tmp_path):
    """One study, one frame of reference: axial slices 2 mm apart from z = 0, coronal ones
    2 mm apart from y = 1 reaching from z = 12 down to -3.5."""
    write_series(tmp_path / "axial", n=9, step_mm=2.0, origin=(0, 0, 0), study_uid="1.2.77")
    write_series(tmp_path / "coronal", n=8, step_mm=2.0, orientation=CORONAL,
                 origin=(0, 1, 12), study_uid="1.2.77")
    return tmp_path


def test_two_series_of_one_study_scroll_together_and_share_the_cursor(qtbot, window, two_series):
    window.open_paths([str(two_series / "axial"), str(two_series / "coronal")])
    wait_loaded(qtbot, window, n_series=2)
    window.grid.set_layout("1x2")
    axial_series, coronal_series = sorted(window.library.series(),
                                          key=lambda s: s.frames[0].plane.normal[2], reverse=True)
    left, right = window.grid.viewports
    window.grid.show_series(axial_series, left)
    window.grid.show_series(coronal_series, right)
    wait_shown(qtbot, left)
    wait_shown(qtbot, right)
    # the coronal slices cut the axial image and vice versa: lines drawn both ways
    for vp, other in ((left, 1), (right, 0)):
        vp.repaint()
        assert _colour_pixels(grab_array(vp), theme.REFERENCE_SLOTS[other]) > 10

    # a second axial view of the same study, scrolled with the first once synced
    window.grid.set_layout("2x2")
    third = window.grid.viewports[2]
    window.grid.show_series(axial_series, third)
    wait_shown(qtbot, third)
    wheel(left, -4)
    assert (left.model.index, third.model.index) == (4, 0)   # not synced yet
    window.links.sync_action.trigger()
    wheel(left, -2)
    assert left.model.index == 6 and third.model.index == 6
    assert right.model.index == 0                            # stacked otherwise: stays

    # the cross-hair in the axial view moves the coronal view to the slice through it
    window.viewer_actions.tools["crosshair"].trigger()
    pos = left.model.rc_to_widget((10.0, 12.0))              # y = 5 mm, x = 6 mm
    qtbot.mouseClick(left, Qt.MouseButton.LeftButton, pos=QPointF(*pos).toPoint())
    point = window.links.cursor.point
    assert point[1] == pytest.approx(5.0, abs=0.3)
    coronal_y = right.model.frame.plane.origin[1]
    assert abs(coronal_y - point[1]) <= 1.0 + 1e-9           # the nearest slice, 2 mm apart
    assert window.links.cursor.where(right.model) is not None


def test_the_screenshot_of_the_layout(qtbot, window, ct_folder, tmp_path):
    show_mpr(window, ct_folder)
    out = grab(window, tmp_path / "mpr_layout.png")
    from PIL import Image

    arr = np.asarray(Image.open(out).convert("RGB"))
    for colour in theme.REFERENCE_SLOTS + (theme.CURSOR_3D,):
        assert _colour_pixels(arr, colour) > 20, colour
    axial = window.grid.viewports[0]
    assert axial.model.planes.slab_mm == 10.0
    assert window.links.cursor.where(axial.model) is not None
    # clicked on the axial slice nearest the point (2.5 mm apart), to the nearest pixel
    assert np.allclose(window.links.cursor.point[:2], CLICK_POINT[:2], atol=0.5)
    assert abs(window.links.cursor.point[2] - CLICK_POINT[2]) <= 1.25
