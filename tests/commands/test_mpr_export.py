"""``medview export --plane``: MPR planes rendered headless as the viewer renders them,
checked against a plain numpy reslice of the written slices windowed by PS3.3 C.11.2.1.2."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from medview.cli import main
from tests.helpers.cli import assert_clean_failure, medview
from tests.helpers.volumes import INTERCEPT, WINDOW, resample_rows, write_ct


def linear_window(hu: np.ndarray, centre: float, width: float) -> np.ndarray:
    """The LINEAR VOI function of PS3.3 C.11.2.1.2.1, to 0..255."""
    y = ((hu - (centre - 0.5)) / (width - 1) + 0.5) * 255
    return np.clip(y, 0, 255)


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    return write_ct(tmp_path_factory.mktemp("mpr") / "ct")


def export(*args) -> np.ndarray:
    assert main(["export", *map(str, args)]) == 0
    return np.asarray(Image.open(args[1])).astype(float)


def test_coronal_and_sagittal_exports_equal_a_windowed_numpy_reslice(ct, tmp_path):
    out = tmp_path / "plane.png"
    hu = ct.stored.astype(float) + INTERCEPT
    # coronal plane 21 (ascending y = array row 20): head up, slices 2.5 mm -> 0.7 mm pixels
    got = export(ct.folder, out, "--plane", "coronal", "--slice", 21)
    expected = linear_window(resample_rows(hu[::-1, 20, :], 2.5, 0.7), *WINDOW)
    assert got.shape == expected.shape == (140, 64)
    assert np.abs(got - expected).max() <= 1
    # sagittal plane 41 (ascending along -x = array column 63 - 40), anterior on the left
    got = export(ct.folder, out, "--plane", "sagittal", "--slice", 41)
    expected = linear_window(resample_rows(hu[::-1, :, 23], 2.5, 0.7), *WINDOW)
    assert np.abs(got - expected).max() <= 1
    # a window given on the command line is applied as to any image
    got = export(ct.folder, out, "--plane", "sagittal", "--slice", 41, "--window", 200, 600)
    expected = linear_window(resample_rows(hu[::-1, :, 23], 2.5, 0.7), 200, 600)
    assert np.abs(got - expected).max() <= 1


def test_axial_slice_is_the_series_image_and_slab_is_its_mip(ct, tmp_path):
    plane, frame = tmp_path / "plane.png", tmp_path / "frame.png"
    np.testing.assert_array_equal(export(ct.folder, plane, "--plane", "axial", "--slice", 7),
                                  export(ct.folder, frame, "--frame", 7))
    got = export(ct.folder, plane, "--plane", "axial", "--slice", 7, "--slab", 10)
    hu = ct.stored[4:9].astype(float).max(axis=0) + INTERCEPT   # ±5 mm: slices 5..9
    assert np.abs(got - linear_window(hu, *WINDOW)).max() <= 1
    got = export(ct.folder, plane, "--plane", "axial", "--slice", 7, "--slab", 10,
                 "--slab-mode", "avg")
    hu = ct.stored[4:9].astype(float).mean(axis=0) + INTERCEPT
    assert np.abs(got - linear_window(hu, *WINDOW)).max() <= 1


def test_corrections_are_noted_on_stderr(tmp_path, capsys):
    written = write_ct(tmp_path / "gap", slices=6, skip={3})
    assert main(["export", str(written.folder), str(tmp_path / "g.png"), "--plane",
                 "coronal"]) == 0
    assert capsys.readouterr().err == (f"medview: note: {written.folder}: uneven slice "
                                       "spacing 2.50–5.00 mm: resampled to 2.50 mm\n")


def test_not_a_volume_exits_2_with_one_line_naming_the_folder(tmp_path):
    written = write_ct(tmp_path / "pair", slices=2)
    proc = medview("export", written.folder, tmp_path / "out.png", "--plane", "coronal")
    assert_clean_failure(proc, str(written.folder))
    assert "MPR needs at least 3 parallel slices" in proc.stderr
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("args,message", [
    (["--plane", "axial", "--slice", "41"], "--slice 41 out of range (1–40)"),
    (["--plane", "axial", "--frame", "2"], "--frame and --plane cannot be combined"),
    (["--slice", "2"], "--slice and --slab need --plane"),
    (["--plane", "axial", "--slab", "-1"], "--slab must be 0 mm or more"),
])
def test_bad_plane_arguments(ct, tmp_path, capsys, args, message):
    assert main(["export", str(ct.folder), str(tmp_path / "x.png"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
