"""CUDA: a clear error without a GPU, and a CPU fallback (with a notice) on out-of-memory.

This machine has no GPU, so the CUDA path is exercised with the CUDA device replaced by
the CPU (``factory._cuda_device``) and out-of-memory injected by the model itself.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medview.inference.engines import OOM_NOTICE, EngineError, compare, create_engine, factory, selection
from tests.helpers.engines import SHAPE, torch_reference


def test_cuda_without_gpu_is_a_clear_error(classifier, tmp_path, monkeypatch):
    monkeypatch.setattr(factory, "_cuda_available", lambda: False)
    with pytest.raises(EngineError, match=r"device='cuda'.*no usable CUDA GPU.*device='cpu'"):
        create_engine(classifier, SHAPE, task="classification", model_key="m", device="cuda", cache_dir=tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_real_cuda_request_fails_here(classifier, tmp_path):
    with pytest.raises(EngineError, match="no usable CUDA GPU"):
        create_engine(classifier, SHAPE, task="classification", model_key="m", device="cuda", cache_dir=tmp_path)


def test_auto_device_without_gpu_is_cpu(classifier, tmp_path, monkeypatch):
    monkeypatch.setattr(factory, "_cuda_available", lambda: False)
    engine = create_engine(classifier, SHAPE, task="classification", model_key="m", engine="torch",
                           precision="fp32", cache_dir=tmp_path)
    assert engine.device == "cpu"


def test_cuda_with_a_cpu_only_engine_is_refused(classifier, tmp_path, monkeypatch):
    monkeypatch.setattr(factory, "_cuda_available", lambda: True)
    with pytest.raises(ValueError, match="CPU-only"):
        create_engine(classifier, SHAPE, task="classification", model_key="m", device="cuda",
                      engine="openvino", cache_dir=tmp_path)
    # with device="auto", naming a CPU engine simply runs it on the CPU
    engine = create_engine(classifier, SHAPE, task="classification", model_key="m", engine="openvino",
                           precision="fp32", cache_dir=tmp_path)
    assert (engine.name, engine.device) == ("openvino", "cpu")


class OOMOnFirstCall(torch.nn.Module):
    """Wraps a model; the first forward (of any copy) raises CUDA out-of-memory."""

    raised = {"count": 0}  # class-level: shared by deep copies

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        if self.raised["count"] == 0:
            self.raised["count"] += 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
        return self.inner(x)


@pytest.fixture
def fake_cuda(monkeypatch):
    """Pretend CUDA is present; the 'CUDA' device is really the CPU."""
    monkeypatch.setattr(factory, "_cuda_available", lambda: True)
    monkeypatch.setattr(factory, "_cuda_device", lambda: torch.device("cpu"))


def test_oom_at_run_falls_back_to_cpu_with_notice(classifier, batch, tmp_path, fake_cuda):
    OOMOnFirstCall.raised["count"] = 0
    model = OOMOnFirstCall(classifier).eval()
    notices: list[str] = []
    engine = create_engine(model, SHAPE, task="classification", model_key="oom", device="cuda",
                           engine="torch", precision="fp32", cache_dir=tmp_path, on_notice=notices.append)
    assert (engine.name, engine.device) == ("torch", "cuda")
    out = engine.run(batch)  # first forward raises OOM -> CPU engine runs the same batch
    assert notices == [OOM_NOTICE]
    assert engine.device == "cpu" and engine.fell_back
    assert compare(torch_reference(classifier, batch), out, "classification").ok
    # later runs stay on the CPU without further notices
    engine.run(batch[:1])
    assert notices == [OOM_NOTICE]


def test_oom_while_building_falls_back_to_cpu(classifier, tmp_path, fake_cuda, monkeypatch):
    def oom():
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")

    monkeypatch.setattr(factory, "_cuda_candidates",
                        lambda *a, **k: [selection.Candidate("torch", "fp32", oom),
                                         selection.Candidate("torch", "fp16", oom)])
    notices: list[str] = []
    engine = create_engine(classifier, SHAPE, task="classification", model_key="oom", device="cuda",
                           cache_dir=tmp_path, on_notice=notices.append)
    assert notices == [OOM_NOTICE]
    assert engine.device == "cpu"
    assert engine.run(np.zeros((1, *SHAPE), np.float32)).shape == (1, 5)


def test_other_errors_are_not_swallowed(classifier, tmp_path, fake_cuda):
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("CUDA error: an illegal memory access was encountered")

    engine = create_engine(Broken(), SHAPE, task="classification", model_key="b", device="cuda",
                           engine="torch", precision="fp32", cache_dir=tmp_path)
    with pytest.raises(RuntimeError, match="illegal memory access"):
        engine.run(np.zeros((1, *SHAPE), np.float32))


def test_oom_recognised_in_runtime_errors():
    assert factory._is_cuda_oom(torch.cuda.OutOfMemoryError("x"))
    assert factory._is_cuda_oom(RuntimeError("CUDA out of memory. Tried to allocate"))
    assert factory._is_cuda_oom(RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"))
    assert not factory._is_cuda_oom(RuntimeError("shape mismatch"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_real_cuda_agrees(task_model, batch, tmp_path):
    task, module = task_model
    engine = create_engine(module, SHAPE, task=task, model_key=f"cuda-{task}", device="cuda", cache_dir=tmp_path)
    assert engine.device == "cuda"
    assert compare(torch_reference(module, batch), engine.run(batch), task).ok


def test_cuda_auto_measures_precisions_and_caches(classifier, batch, tmp_path, fake_cuda):
    engine = create_engine(classifier, SHAPE, task="classification", model_key="c", device="cuda",
                           cache_dir=tmp_path)
    assert engine.device == "cuda" and engine.name == "torch"
    info = engine.selection
    assert info["source"] == "measured"
    assert {"torch:fp32", "torch:fp16"} <= set(info["first_run_ms"]) | set(info["rejected"])
    assert compare(torch_reference(classifier, batch), engine.run(batch), "classification").ok
    import json

    (entry,) = json.loads((tmp_path / "engines.json").read_text())["entries"].values()
    assert entry["fields"]["device"] == "cuda" and "gpu" in entry["fields"]
    again = create_engine(classifier, SHAPE, task="classification", model_key="c", device="cuda",
                          cache_dir=tmp_path)
    assert again.selection["source"] == "cache" and again.precision == engine.precision
