"""MPR in view models, without Qt: planes as frames, orientation letters, the 3-D cursor,
the shared window, slabs, the oblique plane and scrolling synchronised by position."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medview.core import geometry
from medview.core.mpr import rotation_about
from medview.core.volume import Volume
from medview.view.corners import view_corner_text
from medview.view.cursor import Cursor3D
from medview.view.links import ScrollSync, ViewLink, same_space
from medview.view.model import ViewModel
from medview.view.mpr_views import MprViews, oblique_start
from medview.view.orientation import Markers
from medview.view.reference_lines import reference_lines
from tests.helpers.series import load_series
from tests.helpers.volumes import SPHERE_CENTRE, write_ct

SIZE = 300.0   # canvas of each view (logical pixels)


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mprviews") / "ct"
    write_ct(folder, slices=20, size=32)
    series = load_series(folder)
    return series, Volume.from_series(series)


@pytest.fixture
def mpr(ct):
    series, volume = ct
    models = [ViewModel() for _ in range(4)]
    for m in models:
        m.set_canvas(SIZE, SIZE)
    link = ViewLink(models, rule=same_space)
    cursor = Cursor3D(link)
    views = MprViews(volume, series, models, cursor)
    return views, link, cursor


def test_each_view_shows_planes_of_its_kind_through_the_centre(mpr, ct):
    views, _, _ = mpr
    _, volume = ct
    names = [m.planes.name for m in views.models]
    assert names == ["Axial", "Coronal", "Sagittal", "Oblique"]
    for m in views.models:
        assert m.series is ct[0] and m.count == len(m.planes.positions)
        distance = (volume.centre - m.frame.plane.origin) @ m.frame.plane.normal
        assert abs(distance) <= m.planes.step_mm / 2 + 1e-9
    axial, coronal = views.models[:2]
    assert axial.count == 20 and axial.frame.shape == (32, 32)
    assert coronal.count == 32 and coronal.frame.shape == (68, 32)  # 47.5 mm at 0.7 mm
    assert view_corner_text(axial).bottom_left[0] == "Axial 10/20  Pos -1.2 mm"  # centre: 10 or 11


def test_scrolling_moves_the_plane_by_its_step_in_mm(mpr):
    axial, coronal = mpr[0].models[:2]
    for model, step in ((axial, 2.5), (coronal, 0.7)):
        before = model.frame.plane.origin @ model.planes.normal
        model.step(1)
        after = model.frame.plane.origin @ model.planes.normal
        assert after - before == pytest.approx(step)


def test_orientation_letters_of_the_three_planes_and_after_a_flip(mpr):
    axial, coronal, sagittal, oblique = mpr[0].models
    assert axial.orientation_markers() == Markers(left="R", right="L", top="A", bottom="P")
    assert coronal.orientation_markers() == Markers(left="R", right="L", top="H", bottom="F")
    assert sagittal.orientation_markers() == Markers(left="A", right="P", top="H", bottom="F")
    sagittal.flip(True)
    assert sagittal.orientation_markers() == Markers(left="P", right="A", top="H", bottom="F")
    coronal.rotate(90)
    assert coronal.orientation_markers() == Markers(left="F", right="H", top="R", bottom="L")
    # the oblique plane leans: each edge names both axes it leans along
    marks = oblique.orientation_markers()
    assert marks.top[0] == "A" and "F" in marks.top and marks.bottom[0] == "P"


def test_a_picked_point_lands_on_the_same_patient_coordinate_in_every_view(mpr):
    views, link, cursor = mpr
    axial = views.models[0]
    axial.set_index(axial.planes.index_through(SPHERE_CENTRE))
    where, _ = axial.patient_to_widget(SPHERE_CENTRE + (1.3, -2.1, 0))
    point = axial.widget_to_patient(where)
    axial.events.pick.emit(point)                    # what the cross-hair tool does
    assert np.allclose(cursor.point, point)
    for m in views.models:
        shown = cursor.where(m)
        assert shown is not None, m.planes.name       # the point lies on every plane
        back = m.widget_to_patient(shown)
        off = (point - back) @ m.frame.plane.normal   # only along the normal, within reach
        assert np.allclose(back + off * m.frame.plane.normal, point, atol=1e-6)
        assert abs(off) <= max(m.planes.step_mm / 2, 0.5) + 1e-9


def test_the_window_is_shared_and_each_view_keeps_its_own_slab(mpr, ct):
    views, link, _ = mpr
    axial, coronal, sagittal, oblique = views.models
    first = axial.current_window()
    assert all(m.current_window() == first for m in views.models)
    from medview.core.pixels import Window

    coronal.set_window(Window(40.0, 400.0))
    assert all(m.window == Window(40.0, 400.0) for m in views.models)

    views.set_slab(axial, 10.0, "mip")
    frame = axial.frame
    assert frame.slab_mm == 10.0 and axial.window == Window(40.0, 400.0)
    expected = ct[1].plane("axial", axial.planes.positions[axial.index], slab_mm=10.0)
    assert np.array_equal(frame.stored(), expected.pixels)
    assert view_corner_text(axial).bottom_left[1] == "MIP slab 10 mm"
    assert coronal.frame.slab_mm == 0.0
    # the slab's faces show as two more lines in the views it cuts
    (line,) = [r for r in reference_lines(coronal, link) if r.peer is axial]
    assert len(line.faces) == 2
    rows = sorted(face[0][0] for face in line.faces)
    assert (rows[1] - rows[0]) * 0.7 == pytest.approx(10.0)


def test_turning_in_another_view_turns_the_oblique_line_with_the_pointer(mpr):
    views, link, cursor = mpr
    coronal, oblique = views.models[1], views.models[3]
    cursor.move_to(SPHERE_CENTRE)
    centre, _ = coronal.patient_to_widget(SPHERE_CENTRE)

    def line_angle() -> float:
        (line,) = [r for r in reference_lines(coronal, link) if r.peer is oblique]
        (x0, y0), (x1, y1) = (coronal.rc_to_widget(rc) for rc in line.line)
        return math.degrees(math.atan2(y1 - y0, x1 - x0)) % 180

    before, rotation = line_angle(), oblique.planes.rotation
    start = (centre[0] + 60, centre[1])
    end = (centre[0] + 40, centre[1] + 40)             # an eighth of a turn clockwise on screen
    coronal.events.turn.emit(start, end)
    assert (line_angle() - before) % 180 == pytest.approx(45, abs=1e-6)
    turned = oblique.planes.rotation
    # coronal: screen right is the patient's left (+x), down is the feet (-z): clockwise
    # on screen turns +x toward -z, i.e. about +y by +45°
    assert np.allclose(turned, rotation_about((0, 1, 0), 45) @ rotation)
    # the oblique plane still goes through the cursor
    assert cursor.where(oblique) is not None
    views.reset_oblique()
    assert np.allclose(oblique.planes.rotation, oblique_start())


def test_tilting_the_oblique_view_itself(mpr):
    views, _, _ = mpr
    oblique = views.models[3]
    normal = oblique.planes.normal.copy()
    c = (SIZE / 2, SIZE / 2)
    oblique.events.turn.emit(c, (c[0] + 50, c[1]))    # 50 px right: 20° about screen down
    cos = float(normal @ oblique.planes.normal)
    assert math.degrees(math.acos(min(1.0, cos))) == pytest.approx(20, abs=1e-6)


def test_scrolling_syncs_by_position_with_the_acquired_series(ct):
    series, volume = ct
    acquired, axial, coronal = ViewModel(), ViewModel(), ViewModel()
    acquired.set_series(series, 0)
    link = ViewLink([acquired], rule=same_space)
    sync = ScrollSync(link)
    views = MprViews(volume, series, [axial, coronal], Cursor3D(link))
    link.add(axial)
    link.add(coronal)
    acquired.set_index(13)
    z = acquired.frame.plane.origin[2]
    assert axial.frame.plane.origin[2] == pytest.approx(z)
    coronal_before = coronal.index                     # another normal: it stays
    axial.step(-4)
    assert acquired.index == 9 and coronal.index == coronal_before
    sync.enabled = False
    axial.step(1)
    assert acquired.index == 9
    views.close()


def test_leaving_planes_for_a_series_ends_the_link(mpr, ct):
    views, _, _ = mpr
    axial, coronal = views.models[:2]
    coronal.set_series(ct[0], 3)                       # the acquired slices again
    assert coronal.planes is None and coronal.frame is ct[0].frames[3]
    assert not views.owns(coronal) and coronal not in views.shown
    from medview.core.pixels import Window

    axial.set_window(Window(10.0, 100.0))
    assert coronal.window != Window(10.0, 100.0)


def _rc(model, point) -> tuple[float, float]:
    row, col, distance = model.frame.image.from_patient(point)
    assert abs(distance) < 1e-6
    return row, col


def test_lengths_and_rois_on_a_coronal_plane_are_in_mm_of_the_plane(mpr):
    coronal = mpr[0].models[1]
    spacing = coronal.spacing()
    assert (spacing.row_mm, spacing.col_mm) == (pytest.approx(0.7), pytest.approx(0.7))
    start = coronal.frame.image.to_patient(20.0, 10.0)
    # 6 mm to the patient's left and 8 mm up (head): 10 mm in the plane
    end = start + np.array([6.0, 0.0, 8.0])
    length = coronal.add_annotation("length", [_rc(coronal, start), _rc(coronal, end)])
    m = length.result(coronal.frame)
    assert (m.value, m.unit) == (pytest.approx(10.0), "mm")
    assert m.source == spacing.source and "calibrated by user" not in length.label(coronal.frame)
    # 14 mm head-foot by 7 mm left-right: 20 × 10 pixels of 0.7 mm
    corner = coronal.frame.image.to_patient(10.0, 5.0)
    far = corner + np.array([7.0, 0.0, -14.0])
    roi = coronal.add_annotation("rect", [_rc(coronal, corner), _rc(coronal, far)])
    stats = roi.result(coronal.frame)
    assert stats.area.unit == "mm²"
    assert stats.area.value == pytest.approx(stats.n_pixels * 0.49)
    assert stats.n_pixels in (200, 231)   # the corners' pixels counted or not


def test_a_user_calibration_of_the_series_leaves_the_planes_at_their_true_spacing(mpr, ct):
    views, _, _ = mpr
    series, _ = ct
    coronal = views.models[1]
    own = ViewModel(annotations=coronal.annotations)
    own.set_canvas(SIZE, SIZE)
    own.set_series(series)
    line = own.add_annotation("calibration", [(5.0, 5.0), (5.0, 25.0)])   # 14 mm by the header
    own.set_known_length(line, 28.0)                                      # the reader says 28
    assert own.user_calibration() == (pytest.approx(1.4), pytest.approx(1.4))
    assert coronal.user_calibration() is None
    assert coronal.spacing().source != geometry.USER_CALIBRATION
    start = coronal.frame.image.to_patient(20.0, 10.0)
    a = coronal.add_annotation("length", [_rc(coronal, start),
                                          _rc(coronal, start + np.array([0.0, 0.0, 10.0]))])
    assert a.calibration is None and a.result(coronal.frame).value == pytest.approx(10.0)
    assert "calibrated by user" not in a.label(coronal.frame)
    # a calibration line drawn on a plane is refused: it would recalibrate the series
    drawn = coronal.add_annotation("calibration", [(5.0, 5.0), (5.0, 25.0)])
    with pytest.raises(ValueError, match="MPR"):
        coronal.set_known_length(drawn, 5.0)
    assert own.user_calibration() == (pytest.approx(1.4), pytest.approx(1.4))
