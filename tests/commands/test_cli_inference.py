"""``medview analyze`` and ``medview models`` as a user runs them."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import torch
from PIL import Image

from medview import cli
from medview.core.io.folder import load_paths
from medview.inference.audit import AuditLog
from tests.helpers.datafiles import find
from tests.helpers.builders import CLASSIFIER, build_module
from tests.helpers.cli import medview_with_models as medview

COMMON_KEYS = {"file", "frame", "sop_instance_uid", "model", "version", "engine", "device",
               "precision", "ms", "ms_inference", "task", "label", "probabilities", "scope",
               "familiarity"}
AUDIT_KEYS = {"audit_format", "time", "user", "file", "frame", "sop_instance_uid", "task",
              "model", "version", "weights_sha256", "engine", "device", "precision", "label",
              "inside_scope", "run_anyway", "unlike_training"}


def run_cli(*args) -> int:
    """``medview`` in this process (fast: no interpreter start, torch already loaded)."""
    return cli.main([str(a) for a in args])


def _json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def _bad_file(folder: pathlib.Path) -> pathlib.Path:
    bad = folder / "bad.dcm"
    bad.write_bytes(b"DICM? no: just bytes " * 10)
    return bad


def _one_clean_line(stderr: str, *names: str) -> None:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and all(n in lines[0] for n in names), stderr


# ----------------------------------------------------------------------- analyze

def test_analyze_classifier_on_real_files(installed):
    ct, rgb, bad = find("CT_small.dcm"), find("SC_rgb_small_odd.dcm"), _bad_file(installed)
    proc = medview("analyze", "--model", "chest-demo", "--engine", "torch", "--device", "cpu",
                   ct, rgb, bad)
    assert proc.returncode == 0, proc.stderr
    _one_clean_line(proc.stderr, str(bad))
    lines = _json_lines(proc.stdout)
    assert [line["file"] for line in lines] == [str(ct), str(rgb)]
    for line in lines:
        assert set(line) == COMMON_KEYS | {"positives"}
        assert (line["model"], line["version"], line["engine"], line["device"]) == (
            "chest-demo", "1.0.0", "torch", "cpu")
        assert set(line["probabilities"]) == {"normal", "abnormal"}
        assert sum(line["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert line["label"] in ("normal", "abnormal") and line["ms"] > 0
    # The audit log holds one record per analysis, with identifiers and no pixels.
    log_path = installed / "user" / "audit.jsonl"
    records = AuditLog(log_path).read()
    assert len(records) == 2
    assert all(set(r) == AUDIT_KEYS for r in records)
    assert [r["sop_instance_uid"] for r in records] == [line["sop_instance_uid"] for line in lines]
    assert all(isinstance(v, (str, int, type(None))) for r in records for v in r.values())
    assert max(len(line) for line in log_path.read_text().splitlines()) < 800
    assert oct(log_path.stat().st_mode & 0o777) == "0o600"


def test_analyze_segmenter_writes_frame_sized_masks(installed, capsys):
    out = installed / "masks"
    ct, mr = find("CT_small.dcm"), find("MR_small.dcm")
    assert run_cli("analyze", "--model", "prostate-demo", "--engine", "torch", "--out", out,
                   ct, mr) == 0
    lines = _json_lines(capsys.readouterr().out)
    assert len(lines) == 2
    for line, path in zip(lines, (ct, mr)):
        assert set(line) == COMMON_KEYS | {"mask", "mask_values", "areas"}
        assert line["mask_values"] == {"1": "prostate"}
        mask = np.array(Image.open(line["mask"]))
        frame = load_paths([path]).frames()[0]
        assert pathlib.Path(line["mask"]).parent == out
        assert mask.shape == frame.shape and set(np.unique(mask)) <= {0, 1}
        area = line["areas"]["prostate"]
        assert area["unit"] == "mm²"
        sp = frame.spacing
        assert area["value"] == pytest.approx((mask == 1).sum() * sp.row_mm * sp.col_mm, rel=1e-3)
    assert len(AuditLog(installed / "user" / "audit.jsonl").read()) == 2


def test_analyze_exit_2_when_nothing_could_be_analyzed(installed, capsys):
    bad, missing = _bad_file(installed), installed / "missing.dcm"
    assert run_cli("analyze", "--model", "chest-demo", "--engine", "torch", bad, missing) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 2
    assert str(missing) in lines[0] and "file not found" in lines[0]
    assert str(bad) in lines[1]
    assert not (installed / "user" / "audit.jsonl").exists()


def test_analyze_without_models_says_how_to_import(isolated, capsys):
    assert run_cli("analyze") == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1
    assert "no AI model is installed" in message and "medview models import" in message


def test_analyze_with_unknown_model_or_no_choice(installed, capsys):
    ct = find("CT_small.dcm")
    assert run_cli("analyze", "--model", "lung", ct) == 2
    assert "model 'lung' not found; installed: chest-demo 1.0.0, prostate-demo 0.1" in \
        capsys.readouterr().err
    assert run_cli("analyze", ct) == 2
    assert "choose a model with --model NAME" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a CPU machine")
def test_cuda_request_without_gpu_is_one_clean_line(installed, capsys):
    assert run_cli("analyze", "--model", "chest-demo", "--device", "cuda",
                     find("CT_small.dcm")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--device cuda" in err and "CUDA" in err


# ----------------------------------------------------------------------- models

def test_models_list_and_show(installed, capsys):
    assert run_cli("models", "list") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["NAME", "VERSION", "TASK"]
    assert any(row.split()[:4] == ["chest-demo", "1.0.0", "classification", "resnet18"]
               for row in table)
    assert run_cli("models", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert {m["name"] for m in listed} == {"chest-demo", "prostate-demo"}
    assert run_cli("models", "show", "prostate-demo") == 0
    text = capsys.readouterr().out
    assert "prostate-demo 0.1 (segmentation)" in text and "intended use: Software testing" in text
    assert '"diffusion"' in text
    assert run_cli("models", "show", "prostate-demo", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["manifest"]["card"]["date"] == "2025-01-31"


def test_models_list_when_empty(isolated, capsys):
    assert run_cli("models", "list") == 0
    assert "no AI model is installed" in capsys.readouterr().out


def test_models_import_folder_and_legacy_pth(isolated, sources, tmp_path, capsys):
    assert run_cli("models", "import", sources["classifier"]) == 0
    assert "imported chest-demo 1.0.0" in capsys.readouterr().out
    assert run_cli("models", "import", sources["classifier"]) == 2
    assert "already installed" in capsys.readouterr().err
    torch.save(build_module(CLASSIFIER, seed=3).state_dict(), tmp_path / "legacy.pth")
    assert run_cli("models", "import", tmp_path / "legacy.pth", "--manifest",
                   sources["classifier"] / "model.json", "--replace") == 0
    capsys.readouterr()


class Evil:
    """Unpickling this would create the marker file: proof that code ran."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_models_import_refuses_pickled_code(isolated, sources, tmp_path, capsys):
    marker = tmp_path / "pwned"
    torch.save({"w": torch.zeros(1), "x": Evil(marker)}, tmp_path / "evil.pth")
    assert run_cli("models", "import", tmp_path / "evil.pth", "--manifest",
                   sources["classifier"] / "model.json") == 2
    _one_clean_line(capsys.readouterr().err, "evil.pth", "pickled code", "chest-demo")
    assert not marker.exists()


def test_models_export_onnx_runs_in_onnxruntime(installed, tmp_path, capsys):
    import onnxruntime

    out = tmp_path / "chest.onnx"
    assert run_cli("models", "export-onnx", "chest-demo", out) == 0
    assert "N×1×64×64" in capsys.readouterr().out
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(3, 1, 64, 64)).astype(np.float32)
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    from medview.inference.registry import Registry

    with torch.inference_mode():
        expected = Registry().load("chest-demo").module(torch.from_numpy(x)).numpy()
    assert got.shape == (3, 2) and np.allclose(got, expected, atol=1e-4)
    assert run_cli("models", "export-onnx", "chest-demo", tmp_path / "x.txt") == 2
    assert "must be an .onnx file" in capsys.readouterr().err
