"""Each engine reproduces the torch fp32 model within medview's tolerances."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medview.inference.engines import available_engines, compare, create_engine, physical_cores
from medview.inference.engines.torch_engine import TorchEngine
from tests.helpers.engines import SHAPE, torch_reference

ENGINES = ["torch", "onnxruntime", "openvino"]


def test_available_engines_lists_versions():
    found = available_engines()
    assert found["torch"] == torch.__version__
    for name in ("onnxruntime", "openvino"):
        assert name in found and found[name][0].isdigit(), found


@pytest.mark.parametrize("engine_name", ENGINES)
def test_engine_agrees_with_torch_fp32(engine_name, task_model, batch, tmp_path):
    task, module = task_model
    engine = create_engine(module, SHAPE, task=task, model_key=f"test-{task}", engine=engine_name,
                           precision="fp32", cache_dir=tmp_path)
    assert (engine.name, engine.device) == (engine_name, "cpu")
    assert engine.precision in ("fp32", "channels_last-fp32")  # torch measures both layouts
    out = engine.run(batch)
    ref = torch_reference(module, batch)
    assert out.dtype == np.float32 and out.shape == ref.shape
    assert out.shape == ((2, 5) if task == "classification" else (2, 3, *SHAPE[1:]))
    result = compare(ref, out, task)
    assert result.ok, result.detail
    # a different batch size works too (OpenVINO compiles a second static shape)
    one = engine.run(batch[:1])
    assert compare(ref[:1], one, task).ok


def test_torch_channels_last_agrees(task_model, batch):
    task, module = task_model
    import copy

    engine = TorchEngine(copy.deepcopy(module), SHAPE, task, variant="channels_last", threads=1)
    assert engine.precision == "channels_last-fp32"
    assert compare(torch_reference(module, batch), engine.run(batch), task).ok


def test_run_rejects_wrong_shape(classifier, tmp_path):
    engine = create_engine(classifier, SHAPE, task="classification", model_key="m", engine="torch",
                           precision="fp32", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="N×3×64×64"):
        engine.run(np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(ValueError):
        engine.run(np.zeros((3, 64, 64), np.float32))
    # float64 input is converted, not rejected
    assert engine.run(np.zeros((1, *SHAPE))).dtype == np.float32


def test_thread_settings_match_physical_cores(classifier, tmp_path):
    n = physical_cores()
    ort_engine = create_engine(classifier, SHAPE, task="classification", model_key="m",
                               engine="onnxruntime", precision="fp32", cache_dir=tmp_path)
    opts = ort_engine._session.get_session_options()
    assert opts.intra_op_num_threads == n and opts.inter_op_num_threads == 1
    assert ort_engine._session.get_providers() == ["CPUExecutionProvider"]
    ov_engine = create_engine(classifier, SHAPE, task="classification", model_key="m",
                              engine="openvino", precision="fp32", cache_dir=tmp_path)
    compiled = ov_engine._compiled[1][0]
    assert int(compiled.get_property("INFERENCE_NUM_THREADS")) == n
    assert "float32" in str(compiled.get_property("INFERENCE_PRECISION_HINT")).lower()
    create_engine(classifier, SHAPE, task="classification", model_key="m", engine="torch",
                  precision="fp32", cache_dir=tmp_path)
    assert torch.get_num_threads() == n


def test_create_engine_leaves_model_in_eval_mode(classifier, tmp_path):
    classifier.train()
    create_engine(classifier, SHAPE, task="classification", model_key="m", engine="onnxruntime",
                  precision="fp32", cache_dir=tmp_path)
    assert not classifier.training
    assert all(not m.training for m in classifier.modules())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"task": "detection"}, "unknown task"),
        ({"device": "tpu"}, "unknown device"),
        ({"engine": "tensorrt"}, "unknown engine"),
        ({"precision": "int8"}, "int8 is not offered"),
        ({"precision": "fp8"}, "unknown precision"),
    ],
)
def test_bad_arguments(classifier, tmp_path, kwargs, match):
    args = {"task": "classification", "model_key": "m", "cache_dir": tmp_path, **kwargs}
    with pytest.raises(ValueError, match=match):
        create_engine(classifier, SHAPE, **args)


def test_bf16_request_without_native_support_falls_back_with_notice(classifier, tmp_path, monkeypatch):
    from medview.inference.engines import factory
    from medview.inference.engines import openvino_engine

    monkeypatch.setattr(factory, "torch_cpu_bf16_supported", lambda: False)
    monkeypatch.setattr(openvino_engine, "cpu_bf16_supported", lambda: False)
    notices: list[str] = []
    engine = create_engine(classifier, SHAPE, task="classification", model_key="m", engine="openvino",
                           precision="bf16", cache_dir=tmp_path, on_notice=notices.append)
    assert engine.precision == "fp32"
    assert any("bf16" in n for n in notices)


def test_openvino_bf16_only_where_native(classifier, batch, tmp_path):
    from medview.inference.engines import EngineError, export_onnx
    from medview.inference.engines.openvino_engine import OpenVINOEngine, cpu_bf16_supported

    path = export_onnx(classifier, SHAPE, tmp_path / "m.onnx")
    if not cpu_bf16_supported():
        # the CPU plugin would quietly run f32; medview refuses to label that "bf16"
        with pytest.raises(EngineError, match="not bf16"):
            OpenVINOEngine(path, SHAPE, "classification", precision="bf16")
    else:
        engine = OpenVINOEngine(path, SHAPE, "classification", precision="bf16")
        assert engine.precision == "bf16"
        assert engine.run(batch).shape == (2, 5)
