"""One error boundary per CLI command: any failure is one line naming the file, exit 2.

Real files and real subprocesses: the damaged files below made ``medview export``
print a Rust panic's traceback, or libjpeg's own complaints, before the boundary.
"""

from __future__ import annotations

import subprocess
import sys

import pydicom
import pytest

from medview import cli
from tests.helpers.datafiles import find


def medview(*args):
    return subprocess.run([sys.executable, "-m", "medview", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def one_line(proc, name):
    assert proc.returncode == 2, proc
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and name in lines[0], proc.stderr
    return lines[0]


def test_rust_decoder_panic_is_one_line(tmp_path):
    # RLE segments shorter than Columns claims: pylibjpeg-rle panics (a BaseException)
    ds = pydicom.dcmread(find("rtdose_rle_1frame.dcm"))
    ds.Columns = 3
    path = tmp_path / "rle_panic.dcm"
    ds.save_as(path, enforce_file_format=False)
    line = one_line(medview("export", path, tmp_path / "out.png"), "rle_panic.dcm")
    assert "native decoder failed" in line
    assert not (tmp_path / "out.png").exists()


def test_bad_rle_never_reaches_gdcm(tmp_path):
    # RLE data shorter than Rows claims: every RLE decoder refuses it, and GDCM's own
    # reader (the 12-bit JPEG fallback) aborted the whole process on it (found by fuzzing)
    ds = pydicom.dcmread(find("rtdose_rle_1frame.dcm"))
    ds.Rows = 255
    path = tmp_path / "rle_rows.dcm"
    ds.save_as(path, enforce_file_format=False)
    one_line(medview("export", path, tmp_path / "out.png"), "rle_rows.dcm")


def test_native_decoder_noise_does_not_reach_the_user(tmp_path):
    # Pillow's libjpeg prints "Unsupported JPEG data precision 12" to fd 2 before
    # medview falls back to GDCM; the export itself succeeds
    proc = medview("export", find("JPGExtended.dcm"), tmp_path / "out.png")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert (tmp_path / "out.png").stat().st_size > 0


def test_damaged_jpeg_is_one_line_without_libjpeg_messages(tmp_path):
    data = bytearray(find("SC_rgb_small_odd_jpeg.dcm").read_bytes())
    data[-200:-150] = b"\xff" * 50  # corrupt the entropy-coded data, keep the markers
    path = tmp_path / "bad_jpeg.dcm"
    path.write_bytes(bytes(data))
    proc = medview("export", path, tmp_path / "out.png")
    assert proc.returncode in (0, 2), proc
    if proc.returncode == 2:
        one_line(proc, "bad_jpeg.dcm")
    else:
        assert proc.stderr == ""


@pytest.mark.parametrize("exc,words", [
    (MemoryError(), "not enough memory"),
    (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
    (type("PanicException", (BaseException,), {})("index out of bounds"), "native decoder failed"),
    (KeyError("Rows"), "a required value is missing"),
])
def test_boundary_turns_any_exception_into_one_line(monkeypatch, capsys, exc, words):
    import medview.commands.export as export

    def explode(*args, **kwargs):
        raise exc

    monkeypatch.setattr(export, "export_png", explode)
    path = find("CT_small.dcm")
    assert cli.main(["export", str(path), "out.png"]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and words in err[0], err


def test_stderr_is_restored_after_a_command(capsys):
    assert cli.main(["info", str(find("CT_small.dcm"))]) == cli.EXIT_OK
    print("after", file=sys.stderr)
    assert capsys.readouterr().err == "after\n"
