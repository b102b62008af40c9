"""NaN and infinity: refused in weights, an error at run time, never a label, never bare in JSON."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from medview.inference.manifest import ModelError
from medview.inference.registry import Registry
from medview.inference.results import ClassificationResult
from medview.inference.weights import WeightsError, write_safetensors
from tests.helpers.datafiles import find
from tests.helpers.builders import CLASSIFIER, build_module, subprocess_env


def _strict_json(line: str):
    """``json.loads`` that refuses NaN, Infinity and -Infinity (as JavaScript and jq do)."""
    def refuse(name):
        raise ValueError(f"bare {name} is not JSON")
    return json.loads(line, parse_constant=refuse)


def _model_folder(folder: Path, change) -> Path:
    """The test classifier with ``change(state)`` applied to its random weights."""
    folder.mkdir(parents=True)
    (folder / "model.json").write_text(json.dumps(CLASSIFIER), encoding="utf-8")
    state = build_module(CLASSIFIER).state_dict()
    change(state)
    write_safetensors(state, folder / "weights.safetensors")
    return folder


def _poison(state) -> None:
    state["layer2.0.conv1.weight"][0, 0, 0, 0] = float("nan")
    state["layer2.0.conv1.weight"][1, 0, 0, 0] = float("inf")


def _overflowing(state) -> None:
    # Finite weights whose products overflow float32: every output is inf or NaN.
    state["fc.weight"].fill_(3e38)


def _medview(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medview", *map(str, args)], capture_output=True,
                          text=True, timeout=300, env=subprocess_env())


def test_import_refuses_nan_weights_naming_the_tensor(isolated, tmp_path):
    source = _model_folder(tmp_path / "src", _poison)
    with pytest.raises(WeightsError) as info:
        Registry().import_model(source)
    message = str(info.value)
    assert message.startswith("model 'chest-demo' weights 'weights.safetensors': ")
    assert "tensor 'layer2.0.conv1.weight' holds 2 NaN or infinite value(s)" in message
    assert not (isolated / "user" / "models").exists() or not any(
        (isolated / "user" / "models").iterdir())
    # the same through a legacy .pth state dict
    state = build_module(CLASSIFIER).state_dict()
    _poison(state)
    torch.save(state, tmp_path / "src" / "legacy.pth")
    with pytest.raises(WeightsError, match="tensor 'layer2.0.conv1.weight' holds 2 NaN"):
        Registry().import_model(tmp_path / "src" / "legacy.pth", tmp_path / "src" / "model.json")


def test_import_refuses_weights_whose_outputs_overflow(isolated, tmp_path):
    source = _model_folder(tmp_path / "src", _overflowing)
    with pytest.raises(ModelError, match="model 'chest-demo': the network answers NaN or infinity for a test"):
        Registry().import_model(source)


def test_an_installed_model_with_nan_weights_is_refused_in_one_line(isolated, tmp_path):
    _model_folder(isolated / "user" / "models" / "chest-demo-1.0.0", _poison)
    proc = _medview("analyze", "--model", "chest-demo", "--engine", "torch", "--device", "cpu",
                    find("CT_small.dcm"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "chest-demo" in line and "'layer2.0.conv1.weight' holds 2 NaN" in line


def test_nan_outputs_are_an_error_never_a_label(isolated):
    _model_folder(isolated / "user" / "models" / "chest-demo-1.0.0", _overflowing)
    ct = find("CT_small.dcm")
    proc = _medview("analyze", "--model", "chest-demo", "--engine", "torch", "--device", "cpu", ct)
    assert proc.stdout == "", "a NaN output was reported as a result"
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert str(ct) in line and "NaN or infinite" in line and "no result is given" in line
    assert not (isolated / "user" / "audit.jsonl").exists()  # nothing was analysed


def test_analyze_prints_strict_json(installed):
    proc = _medview("analyze", "--model", "chest-demo", "--engine", "torch", "--device", "cpu",
                    find("CT_small.dcm"), find("SC_rgb_small_odd.dcm"))
    assert proc.returncode == 0, proc.stderr
    lines = [_strict_json(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 2 and all(math.isfinite(p) for x in lines
                                   for p in x["probabilities"].values())


def test_result_json_has_null_for_non_finite_numbers():
    result = ClassificationResult(
        file="a.dcm", frame=1, sop_instance_uid=None, model="m", version="1", weights_sha256="",
        engine="torch", device="cpu", precision="fp32", ms=float("inf"), ms_inference=1.0,
        probabilities={"normal": float("nan"), "abnormal": 0.25}, label=None)
    text = json.dumps(result.to_json(), allow_nan=False)
    parsed = _strict_json(text)
    assert parsed["probabilities"] == {"normal": None, "abnormal": 0.25} and parsed["ms"] is None
