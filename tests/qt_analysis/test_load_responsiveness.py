"""Loading a model for the first time (torch import) never freezes the GUI.

Run in a fresh interpreter, so that torch is really imported, and with an empty engine
cache: the slowest first use there is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = r"""
import json, sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel

app = QApplication([])
label = QLabel("status"); label.show()
from medview.inference.registry import Registry
from medview.qt.analysis.jobs import AnalysisService

assert "torch" not in sys.modules
entry = Registry().find("chest-demo")
svc = AnalysisService()
messages, done = [], []
svc.modelStatus.connect(lambda k, m: (messages.append(m), label.setText(m)))
svc.modelReady.connect(lambda k, info: done.append(info))
svc.modelFailed.connect(lambda k, m: done.append({"error": m}))
ticks = [time.perf_counter()]
timer = QTimer(); timer.setInterval(10)
timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
timer.start()
svc.load_model(entry)
deadline = time.time() + 240
while not done and time.time() < deadline:
    app.processEvents(); time.sleep(0.002)
timer.stop()
gaps = [b - a for a, b in zip(ticks, ticks[1:])]
print(json.dumps({"info": done[0] if done else None, "messages": messages,
                  "seconds": ticks[-1] - ticks[0], "max_gap_ms": max(gaps) * 1000,
                  "ticks": len(ticks), "torch": "torch" in sys.modules}))
"""


@pytest.mark.slow
def test_first_model_load_keeps_the_event_loop_running(tmp_path, sources):
    models = tmp_path / "user" / "models"
    models.mkdir(parents=True)
    import shutil

    shutil.copytree(sources["classifier"], models / "chest-demo")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT),
               MEDVIEW_USER_DIR=str(tmp_path / "user"),
               MEDVIEW_MODELS_DIR=str(tmp_path / "shipped"),
               XDG_CACHE_HOME=str(tmp_path / "fresh-cache"))
    out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                         env=env, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    info = result["info"]
    assert info is not None and "error" not in info, result
    # a fresh profile runs on fp32 torch at once; the engines are measured later, when idle
    assert info["selection"] == "default" and result["torch"]
    assert any("AI runtime" in m and "AI runtime (about " in m for m in result["messages"])
    print(f"\nfirst load (torch import, model, default engine): {result['seconds']:.1f} s, "
          f"max event-loop gap {result['max_gap_ms']:.0f} ms, engine {info['describe']}")
    # Importing torch on the GUI thread would freeze it for ~4 s here. Off it, the
    # longest stall measured was ~0.3 s, in the one-time ONNX export of the engine
    # measurement (TorchScript tracing holds the GIL); the bound leaves room for a
    # loaded CI machine.
    assert result["max_gap_ms"] < 750
