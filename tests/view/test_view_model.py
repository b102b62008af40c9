"""The view model without Qt: position, window, camera, tools and layers, and their events."""

from __future__ import annotations

import numpy as np
import pytest

from medview.view.camera import Affine, Camera, from_rc, to_rc
from medview.view.events import Events
from medview.view.gestures import LEFT, MIDDLE, RIGHT, Gestures
from medview.view.model import ViewModel
from tests.helpers.series import load_series, write_series


@pytest.fixture
def ct(tmp_path):
    write_series(tmp_path / "ct", n=5, size=32, spacing=0.5)
    return load_series(tmp_path / "ct")


@pytest.fixture
def model(ct):
    """A 200 × 100 canvas showing the first (decoded) slice of the 32² CT."""
    m = ViewModel()
    m.set_canvas(200, 100)
    m.set_series(ct)
    ct.frames[0].stored()
    return m


def record(model) -> list:
    seen = []
    model.events.connect_all(seen.append)
    return seen


def test_position_steps_clamp_and_announce(model):
    seen = record(model)
    model.step(2)
    assert model.index == 2 and model.frame is model.frames[2]
    model.set_index(99)
    assert model.index == 4
    model.step(-10)
    assert model.index == 0
    assert seen == ["frame", "frame", "frame"]
    model.set_index(0)  # no change, no event
    assert seen == ["frame", "frame", "frame"]
    assert model.page_size() == 1


def test_a_new_series_resets_the_view_and_says_so(model, ct):
    model.set_window(None)
    model.rotate(90)
    model.set_invert(True)
    seen = record(model)
    model.set_series(ct, index=3)
    assert model.index == 3 and not model.invert and model.camera.rotation == 0
    assert not model.window_set
    assert seen[:3] == ["series", "frame", "window"]
    model.clear()
    assert model.series is None and model.frame is None and model.count == 0


def test_the_first_render_sets_the_image_window(model):
    windows = []
    model.events.window.connect(windows.append)
    r = model.renderer()
    assert r is not None and model.window_set
    assert windows == [model.window] and model.current_window() == r.default_window()
    model.auto_window()
    assert model.current_window().name == "Auto"
    model.reset_window()
    assert model.current_window() == r.default_window()
    names = [w.name for w in model.presets()]
    assert "Lung" in names
    assert model.apply_preset(names.index("Lung") + 1)
    assert model.current_window().center == -600
    assert not model.apply_preset(99)


def test_an_undecoded_frame_has_no_renderer(model):
    model.set_index(3)
    assert not model.is_current_decoded() and model.renderer() is None


def test_fit_zoom_about_a_point_and_one_to_one(model):
    # 32 × 32 image in a 200 × 100 canvas: fitted to the height
    assert model.scale() == pytest.approx(100 / 32)
    assert model.image_to_widget((0, 0)) == pytest.approx((50, 0))
    anchor = (60.0, 30.0)
    under = model.widget_to_image(anchor)
    model.zoom_by(2.0, anchor)
    assert model.scale() == pytest.approx(200 / 32)
    assert model.image_to_widget(under) == pytest.approx(anchor)
    model.set_canvas(200, 100, dpr=2.0)
    model.actual_size()
    assert model.zoom_percent() == pytest.approx(1.0)
    model.fit()
    assert model.camera.fit and model.scale() == pytest.approx(100 / 32)


def test_rotate_and_flip_move_the_first_pixel(model):
    top_left = model.rc_to_widget((0, 0))
    model.rotate(90)  # clockwise: the first pixel goes to the top right
    x, y = model.rc_to_widget((0, 0))
    assert x > 100 and y == pytest.approx(top_left[1])
    model.rotate(-90)
    model.flip(True)
    assert model.rc_to_widget((0, 0))[0] > 100
    model.flip(True)
    assert model.rc_to_widget((0, 0)) == pytest.approx(top_left)


def test_affine_composes_and_inverts_like_qtransform():
    t = Affine.translate(-16, -16).then(Affine.rotate(90)).then(Affine.scale(2, 2))
    assert t.map((16, 16)) == (0, 0)
    assert t.map((17, 16)) == pytest.approx((0, 2))   # +x turns into +y (down): clockwise
    back = t.inverted()
    assert back.map(t.map((3.5, -7.0))) == pytest.approx((3.5, -7.0))
    assert Affine.scale(0, 1).inverted() is None
    assert to_rc(from_rc((3.0, 4.0))) == (3.0, 4.0)


def test_camera_flip_is_about_the_screen_axis_whatever_the_rotation():
    c = Camera()
    c.rotate(90)
    c.flip(horizontal=True)
    assert (c.flip_h, c.flip_v) == (False, True)


def test_right_drag_windows_and_middle_drag_pans(model):
    g = Gestures(model)
    w0 = model.current_window()
    g.press(RIGHT, (100, 50))
    g.move((100, 90))          # down: higher level
    g.release((100, 90))
    assert model.current_window().center > w0.center and model.current_window().width == w0.width
    g.press(MIDDLE, (100, 50))
    g.move((130, 60))
    assert g.release((130, 60)) == "pan"
    assert (model.camera.pan_x, model.camera.pan_y) == (30, 10) and not model.camera.fit


def test_wheel_notches_scroll_and_ctrl_zooms(model):
    g = Gestures(model)
    g.wheel(-1, (100, 50))
    assert model.index == 1
    g.wheel(-0.5, (100, 50))
    assert model.index == 1      # half a notch: not yet
    g.wheel(-0.5, (100, 50))
    assert model.index == 2
    s = model.scale()
    g.wheel(1, (100, 50), ctrl=True)
    assert model.scale() == pytest.approx(s * 1.15) and model.index == 2


def test_a_length_drawn_by_two_clicks_is_stored_and_can_be_moved_and_deleted(model):
    g = Gestures(model)
    model.set_tool("length")
    changes = []
    model.events.annotations.connect(lambda: changes.append(len(model.current_annotations())))
    p0, p1 = model.rc_to_widget((10, 4)), model.rc_to_widget((10, 24))
    g.press(LEFT, p0)
    g.release(p0)
    assert model.draft is not None and model.current_annotations() == []
    g.press(LEFT, p0)          # the same spot again: ignored
    g.release(p0)
    assert len(model.draft.points) == 1
    g.press(LEFT, p1)
    g.release(p1)
    (a,) = model.current_annotations()
    assert model.draft is None and changes == [1]
    assert a.result(model.frame).value == pytest.approx(20 * 0.5, abs=0.2)   # mm
    model.set_tool("pointer")
    mid = model.rc_to_widget((10, 14))
    g.press(LEFT, mid)
    assert model.selected is a
    g.move((mid[0], mid[1] + model.scale() * 3))
    g.release((mid[0], mid[1] + model.scale() * 3))
    assert a.points[0][0] == pytest.approx(13) and changes == [1, 1]
    assert model.delete_selected() and model.current_annotations() == [] and changes[-1] == 0
    with pytest.raises(ValueError, match="valid: pointer"):
        model.set_tool("laser")


def test_image_layers_follow_their_frame_and_carry_captions(model):
    rgba = np.zeros((32, 32, 4), np.uint8)
    names = []
    model.events.layers.connect(names.append)
    model.set_image_overlay("ai", rgba, frame_key=model.frame.key, caption="model 1.0")
    assert model.overlay_captions() == ["model 1.0"] and names == ["ai"]
    model.step(1)
    assert model.layers_shown() == [] and model.overlay_captions() == []
    model.step(-1)
    model.set_image_overlay_opacity("ai", 0.0)
    assert model.layers_shown() == []
    with pytest.raises(ValueError, match="RGBA"):
        model.set_image_overlay("bad", np.zeros((4, 4, 3), np.uint8))
    model.set_image_overlay("ai", None)
    assert model.layers == {}


def test_readout_names_the_pixel_and_its_hounsfield_value(model):
    model.update_readout(model.rc_to_widget((3, 5)))
    assert model.readout.startswith("X 5  Y 3") and "= -1016 HU" in model.readout
    model.update_readout(None)
    assert model.readout == ""


def test_a_failing_listener_does_not_silence_the_others():
    ev = Events("changed")
    calls = []

    def broken():
        raise RuntimeError("listener bug")

    ev.changed.connect(broken)
    ev.changed.connect(lambda: calls.append(1))
    with pytest.raises(RuntimeError, match="listener bug"):
        ev.changed.emit()
    assert calls == [1]
