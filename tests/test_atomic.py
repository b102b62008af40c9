"""Atomic writes: all or nothing, readable permissions."""

import os
import stat

import pytest

from medview.core import atomic


def test_replaces_whole_file(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("old")
    atomic.write_text(p, "new")
    assert p.read_text() == "new"
    assert [x.name for x in tmp_path.iterdir()] == ["a.txt"]


def test_failure_leaves_original_and_no_temp(tmp_path):
    p = tmp_path / "a.bin"
    p.write_bytes(b"good")
    with pytest.raises(OSError):
        with atomic.atomic_open(p) as fh:
            fh.write(b"half")
            raise OSError(28, "No space left on device")
    assert p.read_bytes() == b"good"
    assert [x.name for x in tmp_path.iterdir()] == ["a.bin"]


def test_new_file_gets_umask_permissions_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        atomic.write_bytes(tmp_path / "b.bin", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "b.bin").stat().st_mode) == 0o644
