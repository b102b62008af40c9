"""Loading a model for the first time (torch import) never freezes the GUI.

Run in a fresh interpreter, so that torch is really imported, and with an empty engine
cache: the slowest first use there is (a fresh profile runs on fp32 torch at once; the
engines are measured later, when idle). The child is ``bench/gui_stall.py``'s; the bench
prints the stall figures beside their target (``python bench/gui_stall.py --first-load``).
This test checks only what holds on any machine, however loaded: the import and the
engine's construction run off the GUI thread, and the GUI thread's event loop keeps
turning while they do.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


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
    assert info["selection"] == "default" and result["torch"]
    assert any("AI runtime (about " in m for m in result["messages"])  # with an estimate
    spans, gui, ticks = result["spans"], result["gui_thread"], result["ticks"]
    for step in ("import", "engine"):  # torch import; engine construction
        assert spans[step]["thread"] != gui, f"{step} ran on the GUI thread"
        turns = _ticks_within(ticks, spans[step])
        print(f"\n{step}: {spans[step]['t1'] - spans[step]['t0']:.1f} s off the GUI thread, "
              f"{turns} heartbeat ticks meanwhile")
        assert turns > 0, f"the event loop stood still during the {step}"
