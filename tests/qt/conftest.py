"""Fixtures for GUI tests: real pydicom-data files to open and drop.

``window`` (an offscreen main window) and ``settings`` come from ``tests/conftest.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers.datafiles import PYDICOM_DATA_DIR

from tests.helpers.qt import CT_FILES, MR_MULTIFRAME, write_broken_last_frames


def _need_data() -> Path:
    if PYDICOM_DATA_DIR is None:
        pytest.skip("pydicom-data is not installed")
    return PYDICOM_DATA_DIR


@pytest.fixture
def drop_folder(tmp_path) -> Path:
    """A folder of real pydicom-data files plus things that must be skipped."""
    data = _need_data()
    folder = tmp_path / "dropped"
    (folder / "ct").mkdir(parents=True)
    (folder / "mr").mkdir()
    for name in CT_FILES:
        shutil.copy(data / name, folder / "ct" / name)
    shutil.copy(data / MR_MULTIFRAME, folder / "mr" / MR_MULTIFRAME)
    # the same MR with damaged RLE data: a readable header whose last frames cannot decode
    write_broken_last_frames(data / MR_MULTIFRAME, folder / "mr" / "broken_pixels.dcm")
    (folder / "notes.txt").write_text("not an image\n")
    (folder / "report.pdf").write_bytes(b"%PDF-1.4 not dicom")
    raw = (data / "693_UNCI.dcm").read_bytes()
    (folder / "truncated_header.dcm").write_bytes(raw[:300])
    return folder


@pytest.fixture
def ct_folder(tmp_path) -> Path:
    data = _need_data()
    folder = tmp_path / "ct"
    folder.mkdir()
    for name in CT_FILES:
        shutil.copy(data / name, folder / name)
    return folder


@pytest.fixture
def mr_file(tmp_path) -> Path:
    data = _need_data()
    target = tmp_path / MR_MULTIFRAME
    shutil.copy(data / MR_MULTIFRAME, target)
    return target


@pytest.fixture
def ct_view(qtbot, window, ct_folder):
    """The main window showing the 3-slice CT series; its active viewport."""
    from tests.helpers.qt import wait_loaded, wait_shown

    window.open_paths([str(ct_folder)])
    wait_loaded(qtbot, window)
    vp = window.grid.active
    wait_shown(qtbot, vp)
    return vp
