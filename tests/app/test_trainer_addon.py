"""Finding the trainer add-on, and what runs where without torch (the default bundle).

The frozen app is imitated: ``sys.frozen`` set, ``sys.executable`` inside a fake app folder,
and ``has_torch`` False as in a bundle that leaves torch out. The add-on is a shell script
that records its arguments, so forwarding is checked without building anything.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from medview.app import torch_commands, trainer_addon
from trainer import jobs

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="the fake add-on is a shell script")


@pytest.fixture
def bundle_app(tmp_path, monkeypatch) -> Path:
    """A frozen app at ``tmp_path/opt/medview/medview`` without torch; returns ``tmp_path/opt``."""
    opt = tmp_path / "opt"
    app = opt / "medview"
    app.mkdir(parents=True)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(app / "medview"))
    monkeypatch.setattr(trainer_addon, "has_torch", lambda: False)
    monkeypatch.delenv(trainer_addon.ENV_VAR, raising=False)
    return opt


def fake_addon(folder: Path, exit_status: int = 0) -> Path:
    """An add-on folder whose executable writes its arguments to ``args.txt`` beside it."""
    folder.mkdir(parents=True)
    exe = trainer_addon.addon_executable(folder)
    exe.write_text(f'#!/bin/sh\necho "$@" > "{folder / "args.txt"}"\nexit {exit_status}\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def test_missing_add_on_says_where_to_put_it(bundle_app):
    reason = trainer_addon.missing_reason()
    assert reason.startswith("The trainer add-on is not installed")
    assert str(bundle_app / "medview-trainer") in reason and trainer_addon.ENV_VAR in reason
    with pytest.raises(trainer_addon.AddonMissing, match="not installed"):
        torch_commands.medview_command("models", "import", "x")
    with pytest.raises(jobs.QueueError, match="not installed"):
        jobs.trainer_command()


@posix_only
@pytest.mark.parametrize("where", ["beside", "inside"])
def test_add_on_beside_or_inside_the_app_folder_runs_the_torch_commands(bundle_app, where):
    folder = bundle_app / ("medview-trainer" if where == "beside" else "medview/medview-trainer")
    exe = fake_addon(folder)
    assert trainer_addon.missing_reason() is None
    assert torch_commands.medview_command("register-model", "run") == [str(exe), "register-model", "run"]
    assert jobs.trainer_command() == [str(exe), "train"]
    assert jobs.search_command() == [str(exe), "search"]


@posix_only
def test_configured_add_on_wins_and_a_wrong_one_is_named(bundle_app, tmp_path, monkeypatch):
    fake_addon(bundle_app / "medview-trainer")
    elsewhere = fake_addon(tmp_path / "site" / "trainer")
    for value in (elsewhere.parent, elsewhere):  # its folder, or its executable
        monkeypatch.setenv(trainer_addon.ENV_VAR, str(value))
        assert trainer_addon.torch_medview() == [str(elsewhere)]
    monkeypatch.setenv(trainer_addon.ENV_VAR, str(tmp_path / "nowhere"))
    assert trainer_addon.missing_reason() == (
        f"{trainer_addon.ENV_VAR}={tmp_path / 'nowhere'}: no trainer add-on there "
        "(set it to the 'medview-trainer' folder or to its executable)")


def test_with_torch_the_program_runs_them_itself(monkeypatch):
    """A source install, or the add-on itself (frozen, with torch): no add-on needed."""
    monkeypatch.setattr(trainer_addon, "has_torch", lambda: True)
    monkeypatch.setenv(trainer_addon.ENV_VAR, "/nowhere")
    assert trainer_addon.missing_reason() is None
    assert trainer_addon.torch_medview() == [sys.executable, "-m", "medview"]
    assert jobs.trainer_command() == [sys.executable, "-m", "trainer"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert trainer_addon.torch_medview() == [sys.executable]
    assert jobs.trainer_command() == [sys.executable, "train"]


def test_which_commands_need_torch():
    needs = trainer_addon.needs_torch
    assert needs("train", ["job.json"]) and needs("search", ["job.json", "--out", "d"])
    assert needs("register-model", ["run"])
    assert not needs("train", ["job.json", "--queue"])  # queueing needs no torch
    for action in ("import", "make-graph", "export-onnx", "import-backbone"):
        assert needs("models", [action, "x"])
    for action in ("list", "show", "backbones"):
        assert not needs("models", [action])
    assert not needs("analyze", ["--model", "m", "x.dcm"]) and not needs("jobs", ["list"])


@posix_only
def test_the_cli_forwards_torch_commands_to_the_add_on(bundle_app, capsys):
    from medview import cli

    exe = fake_addon(bundle_app / "medview-trainer", exit_status=4)
    assert cli.main(["train", "job.json", "--register"]) == 4  # the add-on's status
    assert (exe.parent / "args.txt").read_text().split() == ["train", "job.json", "--register"]
    os.remove(exe.parent / "args.txt")
    assert cli.main(["models", "list"]) == 0  # runs here
    assert not (exe.parent / "args.txt").exists()


def test_the_cli_without_the_add_on_fails_in_one_line(bundle_app, capsys):
    from medview import cli

    assert cli.main(["models", "import", "folder"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("medview: The trainer add-on is not installed") and err.count("\n") == 1


def test_the_add_on_has_no_viewer(monkeypatch, capsys):
    import importlib.util

    from medview import cli

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "PySide6" else real(name, *a))
    assert cli.main([]) == 2
    assert "trainer add-on" in capsys.readouterr().err
