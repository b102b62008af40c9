"""export_onnx writes atomically and the file runs in ONNX Runtime."""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
import pytest
import torch

from medview.inference import onnx_export
from medview.inference.onnx_export import export_onnx
from tests.helpers.engines import SHAPE, torch_reference


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_export_loads_in_onnxruntime_and_matches(task_model, batch, tmp_path):
    task, module = task_model
    path = export_onnx(module, SHAPE, tmp_path / "sub" / "model.onnx")
    assert path == tmp_path / "sub" / "model.onnx" and path.stat().st_size > 0
    sess = _session(path)
    assert [i.name for i in sess.get_inputs()] == ["input"]
    assert [o.name for o in sess.get_outputs()] == ["output"]
    out = sess.run(None, {"input": batch})[0]  # batch of 2: dynamic batch dimension
    np.testing.assert_allclose(out, torch_reference(module, batch), rtol=1e-3, atol=1e-4)
    assert sorted(os.listdir(path.parent)) == ["model.onnx"]  # no temporary file left


def test_static_batch_and_opset(classifier, tmp_path):
    path = export_onnx(classifier, SHAPE, tmp_path / "m.onnx", dynamic_batch=False, opset=13)
    import onnx

    model = onnx.load(str(path))
    assert model.opset_import[0].version == 13
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, *SHAPE]


def test_write_goes_through_a_temporary_file_and_os_replace(classifier, tmp_path, monkeypatch):
    calls = []
    real_replace = os.replace

    def spy(src, dst):
        calls.append((os.fspath(src), os.fspath(dst), os.path.getsize(src)))
        return real_replace(src, dst)

    monkeypatch.setattr(onnx_export.os, "replace", spy)
    target = tmp_path / "m.onnx"
    export_onnx(classifier, SHAPE, target)
    assert len(calls) == 1
    src, dst, size = calls[0]
    assert dst == os.fspath(target) and size > 0
    assert os.path.dirname(src) == os.fspath(tmp_path) and src != dst  # same folder: atomic rename


def test_failed_export_keeps_the_old_file(classifier, tmp_path, monkeypatch):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"previous model")

    def failing_export(model, args, f, **kwargs):
        with open(f, "wb") as fh:
            fh.write(b"half a model")
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(torch.onnx, "export", failing_export)
    with pytest.raises(RuntimeError, match="exporter crashed"):
        export_onnx(classifier, SHAPE, target)
    assert target.read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_dict_output_and_eval_mode(tmp_path):
    class DictOut(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 2, 3, padding=1)
            self.bn = torch.nn.BatchNorm2d(2)

        def forward(self, x):
            return {"out": self.bn(self.conv(x)), "aux": x}

    model = DictOut()
    model.train()
    path = export_onnx(model, SHAPE, tmp_path / "d.onnx")
    assert not model.training and not model.bn.training  # stays in eval after export
    x = np.random.default_rng(0).standard_normal((1, *SHAPE)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x))["out"].numpy()
    np.testing.assert_allclose(_session(path).run(None, {"input": x})[0], ref, rtol=1e-4, atol=1e-5)
