"""Loading a model for the first time (torch import, engine measurement) never freezes the GUI.

Run in a fresh interpreter, so that torch is really imported, and with an empty engine
cache, so that the engines are really measured: the slowest first use there is. The
child is ``bench/gui_stall.py``'s; the bench prints the stall figures beside their
target (``python bench/gui_stall.py --first-load``). This test checks only what holds on
any machine, however loaded: the import and the measurement run off the GUI thread,
and the GUI thread's event loop keeps turning while they do.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("gui_stall", ROOT / "bench" / "gui_stall.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ticks_within(ticks: list[float], span: dict) -> int:
    return sum(span["t0"] < t < span["t1"] for t in ticks)


@pytest.mark.slow
def test_first_model_load_keeps_the_event_loop_running(tmp_path, sources):
    models = tmp_path / "user" / "models"
    models.mkdir(parents=True)
    shutil.copytree(sources["classifier"], models / "chest-demo")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               MEDVIEW_USER_DIR=str(tmp_path / "user"),
               MEDVIEW_MODELS_DIR=str(tmp_path / "shipped"),
               XDG_CACHE_HOME=str(tmp_path / "fresh-cache"))
    result = _bench().first_load("chest-demo", env)
    info = result["info"]
    assert info is not None and "error" not in info, result
    assert info["selection"] == "measured" and result["torch"]
    assert any("AI runtime" in m for m in result["messages"])
    assert any("fastest engine" in m for m in result["messages"])
    spans, gui, ticks = result["spans"], result["gui_thread"], result["ticks"]
    for step in ("import", "engine"):  # torch import; engine construction and measurement
        assert spans[step]["thread"] != gui, f"{step} ran on the GUI thread"
        turns = _ticks_within(ticks, spans[step])
        print(f"\n{step}: {spans[step]['t1'] - spans[step]['t0']:.1f} s off the GUI thread, "
              f"{turns} heartbeat ticks meanwhile")
        assert turns > 0, f"the event loop stood still during the {step}"
