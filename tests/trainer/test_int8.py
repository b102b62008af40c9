"""The int8 graph at registration: calibrated on the run's validation images, checked on
its test images, recorded in the manifest whether kept or refused; no torch needed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from medview.inference.manifest import read_manifest
from medview.inference.registry import Registry
from medview.inference.weights import sha256_file
from tests.helpers.builders import CLASSIFIER, manifest_data, subprocess_env, write_model
from tests.helpers.paths import ROOT

#: the demo data's classes, in the order discovery gives them
MODEL = manifest_data(CLASSIFIER, name="lesion-test", classes=["lesion", "normal"],
                      thresholds={"lesion": 0.5})


@pytest.fixture(scope="module")
def run(demo, tmp_path_factory) -> Path:
    """A finished run's folder: ``model/`` (random weights) and ``split.json`` of the demo data."""
    from trainer.data.datasets import discover
    from trainer.data.splits import stratified_split
    from trainer.run_split import split_json

    folder = tmp_path_factory.mktemp("run")
    write_model(folder / "model", MODEL)
    ds = discover(demo / "labels.csv")
    s = stratified_split(ds.strata(), ds.groups(), val_fraction=0.25, test_fraction=0.3, seed=0)
    parts = {"train": s.train.tolist(), "val": s.val.tolist(), "test": s.test.tolist()}
    spec = SimpleNamespace(seed=0, val=0.25, test=0.3)
    (folder / "split.json").write_text(json.dumps(split_json(ds, spec, parts)), encoding="utf-8")
    return folder


def _parts(run: Path) -> dict[str, int]:
    parts = json.loads((run / "split.json").read_text(encoding="utf-8"))["parts"]
    return {k: len(v) for k, v in parts.items()}


def test_registration_records_a_refused_int8_graph_and_can_skip_it(isolated, run, monkeypatch):
    from medview.inference import quantize
    from trainer.register import register

    entry = register(run, int8=False)
    assert entry.manifest.int8 is None
    monkeypatch.setattr(quantize, "METRIC_DROP_MAX", -1.0)  # any AUC "drops" too far
    said: list[str] = []
    entry = register(run, replace_existing=True, progress=said.append)
    spec = read_manifest(entry.path).int8
    assert spec is not None and not spec.kept and "AUC drops" in spec.refused
    assert spec.calibration_images == _parts(run)["val"] and spec.test_images == _parts(run)["test"]
    assert entry.int8_path is None and not (entry.path / "model.int8.onnx").exists()
    assert any(line.startswith("int8 graph refused") for line in said)


def test_a_kept_int8_graph_is_in_the_folder_with_its_sha256(isolated, run, monkeypatch):
    from medview.inference import quantize
    from trainer.int8 import quantize_entry

    entry = Registry().import_model(run / "model")
    monkeypatch.setattr(quantize, "refusal", lambda *a: "")
    entry, spec = quantize_entry(entry, run)
    assert spec.kept and entry.int8_path == entry.path / "model.int8.onnx"
    assert sha256_file(entry.int8_path) == read_manifest(entry.path).int8.sha256
    assert spec.metric == "auc" and 0.0 <= spec.int8 <= 1.0 and spec.max_probability_delta >= 0.0


def test_quantize_command_needs_no_torch(isolated, run):
    shutil.copytree(run / "model", isolated / "model")
    Registry().import_model(isolated / "model")
    code = ("import sys; from medview.cli import main; "
            f"rc = main(['models', 'quantize', {MODEL['name']!r}, '--run', {str(run)!r}]); "
            "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=subprocess_env(), cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"{MODEL['name']} 1.0.0: int8 graph" in proc.stdout


def test_quantize_command_names_a_missing_split(isolated, run, tmp_path):
    Registry().import_model(run / "model")
    proc = subprocess.run([sys.executable, "-m", "medview", "models", "quantize", MODEL["name"],
                           "--run", str(tmp_path)], capture_output=True, text=True,
                          env=subprocess_env(), cwd=ROOT, timeout=600)
    assert proc.returncode == 2 and "split.json" in proc.stderr and "Traceback" not in proc.stderr
