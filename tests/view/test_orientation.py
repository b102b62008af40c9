"""Orientation markers from Image Orientation (Patient) or Patient Orientation, through
rotations and flips, and the laterality of radiographs. No Qt."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset

from medview.core.geometry import image_orientation
from medview.view.camera import Camera
from medview.view.corners import corner_text
from medview.view.model import ViewModel
from medview.view.orientation import (Markers, Orientation, direction_letters,
                                      letters_direction, markers)
from tests.helpers.series import AXIAL, CORONAL, SAGITTAL, load_series, write_series


def _markers(orientation, rotate: int = 0, flips: tuple[bool, ...] = ()) -> Markers:
    row, col = (np.asarray(v, float) for v in orientation)
    camera = Camera()
    camera.rotate(rotate)
    for horizontal in flips:
        camera.flip(horizontal)
    return markers(Orientation(row, col, "ImageOrientationPatient"), camera.orientation())


def test_letters_of_a_direction():
    assert [direction_letters(v) for v in np.eye(3)] == ["L", "P", "H"]
    assert [direction_letters(-v) for v in np.eye(3)] == ["R", "A", "F"]
    assert direction_letters((0.9, 0.1, 0.0)) == "L"            # 6° off: one letter
    assert direction_letters((0.8, -0.6, 0.0)) == "LA"          # 37° off: both, strongest first
    assert direction_letters((0, 0, 0)) == ""
    for text in ("L", "PF", "AFR", "HL"):
        assert direction_letters(letters_direction(text)) == text
    assert letters_direction("X") is None and letters_direction("") is None


@pytest.mark.parametrize("orientation, expected", [
    (AXIAL, Markers(left="R", right="L", top="A", bottom="P")),
    (CORONAL, Markers(left="R", right="L", top="H", bottom="F")),
    (SAGITTAL, Markers(left="A", right="P", top="H", bottom="F")),
])
def test_standard_planes(orientation, expected):
    assert _markers(orientation) == expected


def test_rotation_turns_the_letters_with_the_image():
    # axial turned 90° clockwise: anterior (was at the top) is now on the right
    assert _markers(AXIAL, rotate=90) == Markers(left="P", right="A", top="R", bottom="L")
    assert _markers(AXIAL, rotate=180) == Markers(left="L", right="R", top="P", bottom="A")
    # sagittal turned counter-clockwise: the head (was at the top) is now on the left
    assert _markers(SAGITTAL, rotate=-90) == Markers(left="H", right="F", top="P", bottom="A")


def test_flips_swap_the_letters_of_their_axis():
    assert _markers(AXIAL, flips=(True,)) == Markers(left="L", right="R", top="A", bottom="P")
    assert _markers(CORONAL, flips=(False,)) == Markers(left="R", right="L", top="F", bottom="H")
    # a horizontal flip after a turn flips about the screen's vertical axis
    assert _markers(AXIAL, rotate=90, flips=(True,)) == Markers(left="A", right="P", top="R",
                                                               bottom="L")


def test_an_oblique_plane_gets_two_letters():
    tilt = np.radians(30)  # axial tilted about the patient's left-right axis
    oblique = ((1, 0, 0), (0, np.cos(tilt), -np.sin(tilt)))
    assert _markers(oblique) == Markers(left="R", right="L", top="AH", bottom="PF")


def test_the_view_model_reads_the_frame_and_follows_rotate_and_flip(tmp_path):
    write_series(tmp_path / "cor", n=2, orientation=CORONAL)
    m = ViewModel()
    m.set_series(load_series(tmp_path / "cor"))
    assert m.orientation_markers() == Markers(left="R", right="L", top="H", bottom="F")
    m.rotate(90)
    assert m.orientation_markers() == Markers(left="F", right="H", top="R", bottom="L")
    m.flip(False)  # vertical, about the screen's horizontal axis
    assert m.orientation_markers() == Markers(left="F", right="H", top="L", bottom="R")
    m.reset_view()
    assert m.orientation_markers().right == "L"


def test_a_radiograph_uses_patient_orientation_and_shows_its_laterality(tmp_path):
    write_series(tmp_path / "cr", n=1, modality="DX", extra={
        "ImageOrientationPatient": None, "PatientOrientation": ["R", "F"],
        "ImageLaterality": "R"})
    m = ViewModel()
    m.set_series(load_series(tmp_path / "cr"))
    assert m.orientation_markers() == Markers(left="L", right="R", top="H", bottom="F")
    m.flip(True)
    assert m.orientation_markers() == Markers(left="R", right="L", top="H", bottom="F")
    text = corner_text(m.series, m.frame, 0, None, 1.0, [])
    assert "Laterality R (right)" in text.top_right


def test_no_orientation_no_markers_and_no_laterality_outside_radiographs(tmp_path):
    write_series(tmp_path / "ct", n=1, extra={"ImageOrientationPatient": None,
                                              "Laterality": "L"})
    m = ViewModel()
    m.set_series(load_series(tmp_path / "ct"))
    assert m.orientation_markers() is None
    text = corner_text(m.series, m.frame, 0, None, 1.0, [])
    assert not any("Laterality" in line for line in text.top_right)
    assert ViewModel().orientation_markers() is None


def test_enhanced_multiframe_orientation_comes_from_the_functional_groups():
    ds = Dataset()
    item, shared = Dataset(), Dataset()
    item.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    shared.PlaneOrientationSequence = [item]
    ds.SharedFunctionalGroupsSequence = [shared]
    row, col = image_orientation(ds, 0)
    assert list(row) == [0, 1, 0] and list(col) == [0, 0, -1]
    ds.ImageOrientationPatient = [1, 0, 0, 1, 0, 0]   # top level ignored; and not orthogonal
    del ds.SharedFunctionalGroupsSequence
    assert image_orientation(ds, 0) is None
