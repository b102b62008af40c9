"""The GUI analyses a study with both shipped models, heat map included, and never imports torch.

The check runs in a fresh pytest process (other tests import torch into this one): the
outer test starts it and the inner one, which only runs there, drives the real window.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT
_CHILD = "MEDVIEW_NO_TORCH_CHILD"


def test_gui_never_imports_torch(tmp_path):
    env = dict(os.environ, **{_CHILD: "1"}, PYTHONPATH=str(ROOT),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
         f"{Path(__file__).relative_to(ROOT)}::test_inner_analyses_without_torch"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout[-4000:]


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
    assert analysis.heatmap is not None and analysis.heatmap.max() > 0.9
    select_model(panel, "demo-lesion-segmenter")
    _, analysis = analyze(qtbot, panel, timeout=240000)
    assert analysis.result.mask is not None
    wait_idle(qtbot, panel)
    # the engines are measured in the background once idle: that must not load torch either
    qtbot.waitUntil(lambda: panel.service._measuring is None and not panel.service._unmeasured,
                    timeout=240000)
    assert "torch" not in sys.modules
