"""Issue 11, scope 3 (GUI side): damaged files never take the viewer down.

Real files mutated the way the fuzzer found crashes (RescaleSlope = 1e308 made
``paintEvent`` raise "window centre and width must be finite"; a corrupt Rows made it
raise from ``int()``; a native decoder raised a ``BaseException`` that is not an
``Exception`` in a pool thread), opened in a real main window next to good files.
Every frame of every series is shown; a frame that cannot be shown says so in one
line naming its file; the good files still show.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataelem import DataElement

from tests.helpers.qt import CT_FILES, MR_MULTIFRAME, centre_mean, grab_array, wait_loaded

# "ValueError", "KeyError: ...", "PanicException" ...: what a user must never read
RAW_EXCEPTION = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b|Traceback")


class PanicException(BaseException):
    """What pyo3 raises when Rust code panics: not an ``Exception``."""


def _mutant(name: str, dst: Path, **changes) -> Path:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for keyword, value in changes.items():
        if isinstance(value, DataElement):
            ds[value.tag] = value
        else:
            setattr(ds, keyword, value)
    path = dst / name
    ds.save_as(path)
    return path


@pytest.fixture
def mixed_folder(tmp_path, ct_folder) -> tuple[Path, dict[str, str]]:
    """Good files (a 3-slice CT series, a 10-frame MR) beside damaged ones;
    returns the folder and, per damaged file, what was done to it."""
    from tests.helpers.datafiles import find

    folder = tmp_path / "mixed"
    shutil.copytree(ct_folder, folder / "good_ct")
    (folder / "good_mr").mkdir()
    shutil.copy(find(MR_MULTIFRAME), folder / "good_mr" / MR_MULTIFRAME)
    bad = folder / "bad"
    bad.mkdir()
    damaged = {
        "huge_slope.dcm": "RescaleSlope = 1e308",
        "rows_text.dcm": "Rows holds text",
        "rows_wrong.dcm": "Rows twice the pixel data",
        "panics.dcm": "the decoder raises a BaseException",
    }
    # distinct series, so that each is shown on its own
    _mutant("huge_slope.dcm", bad, RescaleSlope=1e308, SeriesInstanceUID="1.2.3.1")
    _mutant("rows_text.dcm", bad, Rows=DataElement(0x00280010, "LO", "12x"),
            SeriesInstanceUID="1.2.3.2")
    _mutant("rows_wrong.dcm", bad, Rows=256, SeriesInstanceUID="1.2.3.3")
    _mutant("panics.dcm", bad, SeriesInstanceUID="1.2.3.4")
    return folder, damaged


@pytest.fixture
def panicking_decoder(monkeypatch):
    """The native decoder of ``panics.dcm`` panics (raised where the decode runs)."""
    from medview.core.io import dicom

    real = dicom.decode_frame

    def decode_frame(path, index, header):
        if Path(path).name == "panics.dcm":
            raise PanicException("called `Option::unwrap()` on a `None` value")
        return real(path, index, header)

    monkeypatch.setattr(dicom, "decode_frame", decode_frame)


def _settle(qtbot, vp) -> None:
    """Until the frame on screen is decoded or has failed, then paint it now."""
    qtbot.waitUntil(lambda: vp.model.is_current_decoded()
                    or vp.loader.error_for(vp.model.frame) is not None,
                    timeout=30000)
    vp.repaint()  # a real paint event: an exception escaping it fails the test (pytest-qt)


def test_damaged_files_beside_good_ones_show_every_frame(qtbot, window, mixed_folder,
                                                        panicking_decoder):
    folder, damaged = mixed_folder
    window.open_paths([str(folder)])
    qtbot.waitUntil(lambda: not window.is_loading, timeout=60000)
    wait_loaded(qtbot, window, n_series=2)
    vp = window.grid.active
    skipped = {p.name: reason for p, reason in window.last_skipped}
    problems: dict[str, str] = {}
    for series in window.library.series():
        window.grid.show_series(series, vp)
        for i in range(len(series.frames)):
            vp.model.set_index(i)
            _settle(qtbot, vp)
            name = series.frames[i].path.name
            if name in damaged:
                assert vp.paint_error, f"{name}: shown as if nothing were wrong"
                problems[name] = vp.paint_error
            else:
                assert vp.paint_error is None, vp.paint_error
    # each damaged file was refused at reading or says in the viewport why it is not shown
    for name, what in damaged.items():
        line = problems.get(name) or skipped.get(name)
        assert line, f"{name} ({what}): neither skipped nor reported"
        assert "\n" not in line and not RAW_EXCEPTION.search(line), line
        if name in problems:
            assert line.startswith(f"Cannot show {name}"), line
    # the good files still show: every CT slice and MR frame decoded, pixels on screen
    good = [s for s in window.library.series()
            if all(f.path.name not in damaged for f in s.frames)]
    assert sorted(len(s.frames) for s in good) == [3, 10]
    for series in good:
        window.grid.show_series(series, vp)
        _settle(qtbot, vp)
        assert vp.model.is_current_decoded() and vp.paint_error is None
        assert centre_mean(grab_array(vp)) > 5  # an image, not the empty background
    assert {f.path.name for s in good for f in s.frames} == {*CT_FILES, MR_MULTIFRAME}


def test_a_panicking_decoder_fails_one_frame_not_the_pool(qtbot, window, mixed_folder,
                                                         panicking_decoder):
    folder, _ = mixed_folder
    window.open_paths([str(folder / "bad" / "panics.dcm"), str(folder / "good_ct")])
    wait_loaded(qtbot, window, n_series=2)
    loader = window.loader
    frames = window.library.frames()
    for f in frames:
        loader.request(f)
    qtbot.waitUntil(lambda: all(f.is_decoded or loader.error_for(f) for f in frames),
                    timeout=30000)
    (bad,) = [f for f in frames if f.path.name == "panics.dcm"]
    reason = loader.error_for(bad)
    assert reason and not RAW_EXCEPTION.search(reason)
    assert all(f.is_decoded for f in frames if f is not bad)


def _fuzz_module():
    import importlib.util
    import sys

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("medview_fuzz", root / "scripts" / "fuzz.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_folder_of_seeded_fuzz_mutants_beside_good_files(qtbot, window, tmp_path, ct_folder):
    """scripts/fuzz.py's mutants 0-29 of seed 5, each in its own series, opened with a good
    CT series: every frame of every series is shown or says why not, and the CT still shows."""
    fuzz = _fuzz_module()
    (tmp_path / "documents").mkdir()
    sources = [fuzz.load_source(p) for p in fuzz.corpus_paths(tmp_path / "documents")]
    folder = tmp_path / "mutants"
    shutil.copytree(ct_folder, folder / "good_ct")
    for i in range(30):
        data, _how, _src = fuzz.make_mutant(5, i, sources)
        (folder / f"m{i:02d}.dcm").write_bytes(data)
    window.open_paths([str(folder)])
    qtbot.waitUntil(lambda: not window.is_loading, timeout=120000)
    vp = window.grid.active
    for line in (r for _, r in window.last_skipped):
        assert "\n" not in line and not RAW_EXCEPTION.search(line), line
    shown = 0
    for series in window.library.series():
        window.grid.show_series(series, vp)
        for i in range(min(len(series.frames), 3)):  # first frames: multi-frame lies are long
            vp.model.set_index(i)
            _settle(qtbot, vp)
            if vp.paint_error:
                assert not RAW_EXCEPTION.search(vp.paint_error), vp.paint_error
            shown += 1
    assert shown >= 4  # the CT's 3 slices and at least one mutant got this far
    opened = {f.path.name for f in window.library.frames()}
    refused = {p.name for p, _ in window.last_skipped}
    assert {f"m{i:02d}.dcm" for i in range(30)} <= opened | refused  # each one accounted for
    print(f"\n{len(opened & {f'm{i:02d}.dcm' for i in range(30)})} mutants opened, "
          f"{len(refused)} refused with a reason, {shown} frames shown")
    good = next(s for s in window.library.series() if s.frames[0].path.parent.name == "good_ct")
    window.grid.show_series(good, vp)
    _settle(qtbot, vp)
    assert vp.model.is_current_decoded() and vp.paint_error is None
    assert centre_mean(grab_array(vp)) > 5
