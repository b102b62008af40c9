"""Atomic writes: all or nothing, readable permissions."""

import errno
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


def test_trainer_run_files_go_through_the_same_writer(tmp_path, monkeypatch):
    from trainer.checkpoints import WriteError, write_text

    target = tmp_path / "state.json"
    old = os.umask(0o027)
    try:
        write_text(target, "a\nb\n")
    finally:
        os.umask(old)
    assert target.read_bytes() == b"a\nb\n"  # line ends as given, on every OS
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the umask's, like any medview file

    def fsync_fails(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", fsync_fails)  # data that may not be on disk is a failure
    with pytest.raises(WriteError, match="could not write .*state.json"):
        write_text(target, "new")
    assert target.read_bytes() == b"a\nb\n"
    assert [x.name for x in tmp_path.iterdir()] == ["state.json"]
