"""The GUI analyses a study with both shipped models, heat map included, and never imports
torch, also where torch runs the model (in the inference process, as with a CUDA GPU).

Each check runs in a fresh pytest process (other tests import torch into this one): an
outer test starts it and the inner one, which only runs there, drives the real window.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.paths import ROOT
_CHILD = "MEDVIEW_NO_TORCH_CHILD"


def _in_a_fresh_process(inner: str, tmp_path) -> None:
    env = dict(os.environ, **{_CHILD: "1"}, PYTHONPATH=str(ROOT),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
         f"{Path(__file__).relative_to(ROOT)}::{inner}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout[-4000:]


def test_gui_never_imports_torch(tmp_path):
    _in_a_fresh_process("test_inner_analyses_without_torch", tmp_path)


def test_torch_runs_in_the_inference_process(tmp_path):
    _in_a_fresh_process("test_inner_torch_in_the_inference_process", tmp_path)


def _explains_its_answer(analysis) -> None:
    """The demo classifier is a lesion map: its heat map marks the lesion it found, and
    for 'normal' (its background class) no place supports the answer."""
    assert analysis.heatmap is not None
    top = float(analysis.heatmap.max())
    assert top > 0.9 if analysis.result.label == "lesion" else top == 0.0, (analysis.result.label, top)


@pytest.mark.skipif(not os.environ.get(_CHILD), reason="runs in the child of "
                    "test_gui_never_imports_torch")
def test_inner_analyses_without_torch(qtbot, window, monkeypatch):
    from tests.helpers.qt_analysis import analyze, open_and_show, select_model, wait_idle

    assert "torch" not in sys.modules
    monkeypatch.setenv("MEDVIEW_MODELS_DIR", str(ROOT / "models"))
    panel = window.analysis
    panel.refresh_models()
    open_and_show(qtbot, window, [ROOT / "resources" / "samples" / "chest_xray"])
    panel.gradcam_check.setChecked(True)
    select_model(panel, "demo-lesion-classifier")
    _, analysis = analyze(qtbot, panel, timeout=240000)
    _explains_its_answer(analysis)
    select_model(panel, "demo-lesion-segmenter")
    _, analysis = analyze(qtbot, panel, timeout=240000)
    assert analysis.result.mask is not None
    wait_idle(qtbot, panel)
    # the engines are measured in the background once idle: that must not load torch either
    qtbot.waitUntil(lambda: panel.service._measuring is None and not panel.service._unmeasured,
                    timeout=240000)
    assert "torch" not in sys.modules


@pytest.mark.skipif(not os.environ.get(_CHILD), reason="runs in the child of "
                    "test_torch_runs_in_the_inference_process")
def test_inner_torch_in_the_inference_process(qtbot, window, monkeypatch, tmp_path):
    """Torch chosen by name (as a CUDA GPU chooses it): the model runs in the inference
    process and agrees with its graph; that process crashing costs one analysis one line
    naming the model, the next analysis starts it again; closing the window stops it."""
    from PySide6.QtCore import Qt

    from medview.inference.engines import PROB_TOLERANCE
    from medview.inference.engines.process_engine import shared_process
    from medview.inference.torch_process import TEST_CRASH_ENV
    from tests.helpers.qt_analysis import analyze, open_and_show, select_model, wait_idle

    crash = tmp_path / "crash-on-next-run"
    monkeypatch.setenv(TEST_CRASH_ENV, str(crash))
    monkeypatch.setenv("MEDVIEW_MODELS_DIR", str(ROOT / "models"))
    panel, service = window.analysis, window.analysis.service
    panel.refresh_models()
    open_and_show(qtbot, window, [ROOT / "resources" / "samples" / "chest_xray"])
    panel.gradcam_check.setChecked(True)
    select_model(panel, "demo-lesion-classifier")
    _, on_graph = analyze(qtbot, panel, timeout=240000)
    assert on_graph.result.engine in ("onnxruntime", "openvino")

    def analyze_in_torch():
        service.cache.clear()
        return analyze(qtbot, panel, timeout=240000)[1]

    service.forget_models()
    service.options["engine"] = "torch"  # the setting inference/engine = torch
    analysis = analyze_in_torch()
    result = analysis.result
    assert (result.engine, result.device) == ("torch", "cpu")
    _explains_its_answer(analysis)
    np.testing.assert_allclose(analysis.heatmap, on_graph.heatmap, atol=1e-3)  # the same map
    for name, p in on_graph.result.probabilities.items():
        assert abs(result.probabilities[name] - p) <= PROB_TOLERANCE
    pid = shared_process().pid
    assert pid is not None and pid != os.getpid()

    failures = []
    service.failed.connect(lambda request, line: failures.append(line))
    crash.touch()
    service.cache.clear()
    qtbot.mouseClick(panel.analyze_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(failures), timeout=240000)
    assert "\n" not in failures[0] and "'demo-lesion-classifier'" in failures[0]
    assert "stopped" in failures[0]
    assert window.isVisible()
    wait_idle(qtbot, panel)
    assert analyze_in_torch().result.engine == "torch"
    again = shared_process().pid
    assert again not in (None, pid)

    window.close()
    assert shared_process().pid is None
    assert "torch" not in sys.modules
