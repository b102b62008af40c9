"""The reading tools on the view model, without Qt: drawn by gestures, stored with what
they measure; calibration per series; the loupe and the scale bar."""

from __future__ import annotations

import pytest

from medview.core import geometry
from medview.view.gestures import LEFT, RIGHT, Gestures
from medview.view.hit_test import hit_test
from medview.view.model import ViewModel
from tests.helpers.series import load_series, write_series


@pytest.fixture
def ct(tmp_path):
    write_series(tmp_path / "ct", n=3, size=32, spacing=0.5)
    return load_series(tmp_path / "ct")


@pytest.fixture
def model(ct):
    """A 200 × 100 canvas showing the first (decoded) slice of the 32² CT."""
    m = ViewModel()
    m.set_canvas(200, 100)
    m.set_series(ct)
    for f in ct.frames:
        f.stored()
    return m


def click(g: Gestures, model, rc) -> None:
    pos = model.rc_to_widget(rc)
    g.press(LEFT, pos)
    g.release(pos)


def drag(g: Gestures, model, path) -> None:
    points = [model.rc_to_widget(rc) for rc in path]
    g.press(LEFT, points[0])
    for p in points[1:]:
        g.move(p)
    g.release(points[-1])


def test_cobb_angle_by_four_clicks(model):
    g = Gestures(model)
    model.set_tool("cobb")
    for rc in ((5, 5), (3, 25), (20, 5), (25, 25)):   # rising, then falling lines
        click(g, model, rc)
    (a,) = model.current_annotations()
    assert a.kind == "cobb" and model.draft is None
    import math
    expected = math.degrees(math.atan2(2, 20)) + math.degrees(math.atan2(5, 20))
    assert a.result(model.frame).value == pytest.approx(expected)
    assert hit_test(a, model.rc_to_widget((4, 15)), model.rc_to_widget) == ("body", -1)
    assert hit_test(a, model.rc_to_widget((12, 15)), model.rc_to_widget) is None  # between


def test_freehand_outline_traced_by_dragging_closes_on_release(model):
    g = Gestures(model)
    model.set_tool("freehand")
    square = [(4, 4), (4, 12), (4, 20), (12, 20), (20, 20), (20, 12), (20, 4), (12, 4)]
    drag(g, model, square)
    (a,) = model.current_annotations()
    assert a.kind == "freehand" and model.draft is None and len(a.points) >= 8
    stats = a.result(model.frame)
    assert stats.area.unit == "mm²" and stats.area.value == pytest.approx(16 * 16 * 0.25, rel=0.02)
    hu = model.frame.modality_values()[4:20, 5:21]   # centres on the outline: top, right
    assert stats.n_pixels == 256 and stats.units == "HU"
    assert (stats.min, stats.max, stats.mean) == (hu.min(), hu.max(), pytest.approx(hu.mean()))
    assert hit_test(a, model.rc_to_widget((12, 12)), model.rc_to_widget) == ("body", -1)
    # a click-click-double-click polygon; a stroke of two points is dropped
    model.set_tool("freehand")
    for rc in ((2, 2), (2, 10)):
        click(g, model, rc)
    assert g.double_click(LEFT) and model.draft is None
    assert len(model.current_annotations()) == 1


def test_polyline_by_clicks_ends_with_a_double_click_or_enter(model):
    g = Gestures(model)
    model.set_tool("polyline")
    for rc in ((2, 2), (2, 12), (12, 12)):
        click(g, model, rc)
    assert model.draft is not None and model.current_annotations() == []
    click(g, model, (12, 22))
    assert g.double_click(LEFT)               # the click before it placed the last point
    (a,) = model.current_annotations()
    assert len(a.points) == 4 and a.result(model.frame).value == pytest.approx(30 * 0.5)
    for rc in ((25, 2), (25, 12)):
        click(g, model, rc)
    assert g.finish() and len(model.current_annotations()) == 2
    assert not g.finish()


def test_probe_shows_hounsfield_units_and_text_asks_for_its_words(model):
    g = Gestures(model)
    asked = []
    model.events.input.connect(asked.append)
    model.set_tool("probe")
    click(g, model, (3, 5))
    (p,) = model.current_annotations()
    assert p.label(model.frame) == "-1016 HU" and asked == []
    model.set_tool("text")
    click(g, model, (10, 10))
    t = model.current_annotations()[-1]
    assert asked == [t] and t.kind == "text"
    model.set_text(t, "cyst")
    assert t.label(model.frame) == "cyst"
    model.set_tool("pointer")                  # a double click on it asks again
    click(g, model, (10, 10))
    assert model.selected is t and g.double_click(LEFT) and asked == [t, t]
    model.discard(t)
    assert model.current_annotations() == [p]


def test_calibration_line_calibrates_the_whole_series_and_every_label_says_so(model):
    g = Gestures(model)
    before = model.add_annotation("length", [(5, 5), (5, 25)])   # 20 px: 10 mm
    model.step(1)
    other_slice = model.add_annotation("length", [(0, 0), (0, 10)])
    model.step(-1)
    asked = []
    model.events.input.connect(asked.append)
    model.set_tool("calibration")
    click(g, model, (10, 4))
    click(g, model, (10, 24))                   # 20 px, 10 mm by Pixel Spacing
    (line,) = asked
    assert "type the known length" in line.label(model.frame)
    with pytest.raises(ValueError, match="positive"):
        model.set_known_length(line, 0)
    model.set_known_length(line, 20.0)          # it is really 20 mm: 1 mm per pixel
    assert model.user_calibration() == (pytest.approx(1.0), pytest.approx(1.0))
    assert model.spacing().source == geometry.USER_CALIBRATION
    for a, mm in ((before, 20.0), (other_slice, 10.0)):
        frame = model.frame if a is before else model.frames[1]
        m = a.result(frame)
        assert (m.value, m.source) == (pytest.approx(mm), geometry.USER_CALIBRATION)
        assert "calibrated by user" in a.label(frame) and a.calibration == (1.0, 1.0)
    model.set_tool("length")
    click(g, model, (20, 0))
    click(g, model, (20, 5))
    new = model.current_annotations()[-1]
    assert new.result(model.frame).value == pytest.approx(5) and new.calibration == (1.0, 1.0)
    # the bar and the corner name the calibration
    assert "calibrated by user" in model.current_scale_bar().source
    # moving the line's end recalibrates; a new line replaces it; deleting it un-calibrates
    line.set_point(1, (10, 14))
    model.events.annotations.emit()
    assert before.result(model.frame).value == pytest.approx(40)
    model.set_tool("calibration")
    click(g, model, (15, 4))
    click(g, model, (15, 14))
    second = asked[-1]
    model.set_known_length(second, 5.0)
    assert [a.kind for a in model.current_annotations()].count("calibration") == 1
    assert before.result(model.frame).value == pytest.approx(10)
    model.select(second)
    model.delete_selected()
    assert model.user_calibration() is None and before.calibration is None
    m = before.result(model.frame)
    assert (m.value, m.source) == (pytest.approx(10), geometry.PIXEL_SPACING)


def test_magnifier_loupe_follows_the_pointer_and_steps_its_zoom(model):
    g = Gestures(model)
    model.set_tool("magnifier")
    pos = model.rc_to_widget((10, 20))
    g.move(pos)
    loupe = model.loupe(g.hover)
    assert loupe.factor == 2 and loupe.centre == pos
    assert loupe.transform.map(model.widget_to_image(pos)) == pytest.approx(pos)  # same spot
    one_pixel = loupe.transform.map_vector((1, 0))
    assert one_pixel[0] == pytest.approx(model.scale() * 2)
    g.press(LEFT, pos)
    g.release(pos)
    assert model.loupe(pos).factor == 4 and model.current_annotations() == []
    for _ in range(2):
        model.next_magnifier_factor()
    assert model.magnifier_factor == 2
    g.press(RIGHT, pos)                          # W/L still works under the loupe
    g.move((pos[0] + 30, pos[1]))
    g.release((pos[0] + 30, pos[1]))
    assert model.window_set
    assert model.loupe((1, 1)) is None           # off the image
    model.set_tool("pointer")
    assert model.loupe(pos) is None


def test_scale_bar_of_the_view(model):
    bar = model.current_scale_bar()
    # fitted: 3.125 px per 0.5 mm pixel; a quarter of 200 px is 8 mm: a 5 mm bar
    assert bar.mm == 5 and bar.pixels == pytest.approx(5 / 0.5 * 3.125)
    assert bar.source == "Pixel Spacing"
    model.zoom_by(4)
    assert model.current_scale_bar().mm == 2
    model.set_scale_bar(False)
    assert model.current_scale_bar() is None


def test_readout_adds_the_suv_on_pet(tmp_path):
    from tests.helpers.pet import pet_header

    header = pet_header()
    extra = {k: header[k].value for k in ("Units", "DecayCorrection", "PatientWeight",
                                          "SeriesDate", "SeriesTime", "AcquisitionDate",
                                          "AcquisitionTime",
                                          "RadiopharmaceuticalInformationSequence")}
    write_series(tmp_path / "pet", n=1, size=16, modality="PT",
                 extra={**extra, "RescaleSlope": 100, "RescaleIntercept": 0})
    m = ViewModel()
    m.set_canvas(100, 100)
    m.set_series(load_series(tmp_path / "pet"))
    m.frame.stored()
    m.update_readout(m.rc_to_widget((2, 3)))      # stored 5: 500 Bq/mL
    assert m.readout.startswith("X 3  Y 2  SV 5 = 500")
    assert m.readout.endswith("SUVbw 0.15")       # 500 × 2.96e-4 g/mL
