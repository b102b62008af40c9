"""The engines never reach for the network: OpenVINO's telemetry is blocked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys
import torch
from medview.inference.engines import available_engines, create_engine
before = sorted(m for m in sys.modules if m.startswith(("openvino", "onnxruntime")))
versions = available_engines()
after_versions = sorted(m for m in sys.modules if m.startswith(("openvino", "onnxruntime")))
model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
engine = create_engine(model, (3, 32, 32), task="classification", model_key="offline",
                       engine="openvino", precision="fp32", cache_dir=sys.argv[1])
import openvino
openvino.convert_model  # touching the conversion API must not load telemetry either
print(json.dumps({
    "before": before, "after_versions": after_versions, "engine": engine.name,
    "telemetry": repr(sys.modules.get("openvino_telemetry")),
    "stub": "openvino.tools.ovc.telemetry_stub" in sys.modules,
}))
"""


def test_openvino_is_loaded_without_telemetry(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), USERPROFILE=str(home), APPDATA=str(home),
               XDG_CONFIG_HOME=str(home / ".config"), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "cache")], capture_output=True,
                         text=True, cwd=ROOT, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["engine"] == "openvino"
    assert result["before"] == [] and result["after_versions"] == []  # listing engines imports neither
    assert result["telemetry"] == "None"  # the package was blocked, never imported
    assert result["stub"]  # OpenVINO fell back to its no-op telemetry stub
    # OpenVINO's telemetry writes a client id and stats under ~/intel when it is active
    assert list(home.rglob("*")) == [], list(home.rglob("*"))
