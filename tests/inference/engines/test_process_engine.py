"""The inference process: a real child process runs a shipped model in torch, agrees with
its ONNX graph, survives a crash and stops when its last model is closed; whether torch
can use CUDA is asked there once and kept.

Each test starts the process (torch's import: seconds), so there are few of them. That the
GUI process never imports torch while it uses the process is checked by
``tests/qt/analysis/test_no_torch.py``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from medview.inference.engines import PROB_TOLERANCE, EngineError, compare, cuda_probe
from medview.inference.engines.base import verification_input
from medview.inference.engines.process_engine import (InferenceProcess, ProcessEngine,
                                                      ProcessStopped)
from medview.inference.registry import Registry, open_graph
from medview.inference.engines import process_engine
from medview.inference.torch_process import TEST_CRASH_ENV, TEST_HANG_ENV


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:  # a zombie is not alive
        return fh.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_model_runs_in_the_process_like_its_graph_and_survives_a_crash(shipped, tmp_path,
                                                                          monkeypatch):
    from medview.inference.engines import create_graph_engine

    crash = tmp_path / "crash-on-next-run"
    monkeypatch.setenv(TEST_CRASH_ENV, str(crash))  # read by the process, which starts below
    entry = Registry().find("demo-lesion-classifier")
    notices: list[str] = []
    process = InferenceProcess()
    engine = ProcessEngine(entry.manifest, entry.path, device="cpu", engine="torch",
                           measure=False, cache_dir=tmp_path / "cache", on_notice=notices.append,
                           process=process)
    graph = create_graph_engine(open_graph(entry).graph, entry.manifest.input_shape,
                                task="classification", model_key=entry.manifest.key,
                                graph_sha256=entry.manifest.onnx.sha256, engine="onnxruntime",
                                measure=False, cache_dir=tmp_path / "cache")
    x = verification_input(entry.manifest.input_shape)
    pid = engine.pid
    assert pid is not None and pid != os.getpid() and _alive(pid)
    assert (engine.name, engine.device, engine.precision) == ("torch", "cpu", "fp32")
    assert engine.selection["source"] == "default"
    out = engine.run(x)
    check = compare(graph.run(x), out, "classification")
    assert check.ok, check.detail
    assert check.max_prob_delta <= PROB_TOLERANCE

    # the heat map by torch in the process: at the input size, as this process makes it
    # (a lesion map is explained by its own map, a ResNet by Grad-CAM)
    from medview.inference.gradcam import heat_map

    cam = engine.gradcam(x[0], 0)
    assert cam.shape == x.shape[2:] and cam.dtype == np.float32
    np.testing.assert_allclose(cam, heat_map(Registry().load(entry.name).module, x[0], 0), atol=1e-5)

    # a crash in the middle of a run: one line naming the model; the next run restarts it
    crash.touch()
    with pytest.raises(ProcessStopped) as err:
        engine.run(x)
    line = str(err.value)
    assert "\n" not in line and f"'demo-lesion-classifier' {entry.version}" in line
    assert "stopped" in line and "starts again" in line
    assert not crash.exists() and not _alive(pid)
    np.testing.assert_allclose(engine.run(x), out, rtol=1e-5, atol=1e-5)
    assert engine.pid not in (None, pid)

    # a run that hangs: the process is killed after the answer timeout, one line; next run works
    hang = tmp_path / "hang-on-next-run"
    monkeypatch.setenv(TEST_HANG_ENV, str(hang))
    engine.close()  # a fresh process that reads the hang hook
    engine = ProcessEngine(entry.manifest, entry.path, device="cpu", engine="torch",
                           measure=False, cache_dir=tmp_path / "cache", process=process)
    engine.run(x)
    pid = engine.pid
    hang.touch()
    monkeypatch.setattr(process_engine, "ANSWER_TIMEOUT_S", 2.0)
    with pytest.raises(ProcessStopped) as err:
        engine.run(x)
    assert "did not answer within 2 s" in str(err.value) and "\n" not in str(err.value)
    assert not _alive(pid)
    monkeypatch.setattr(process_engine, "ANSWER_TIMEOUT_S", 300.0)
    np.testing.assert_allclose(engine.run(x), out, rtol=1e-5, atol=1e-5)
    assert engine.pid not in (None, pid)

    # measuring happens in the process and switches the engine there
    assert engine.measure() is True
    assert engine.selection["source"] == "measured"
    assert compare(graph.run(x), engine.run(x), "classification").ok

    # a model the process cannot load: one line naming it; the process keeps the others
    with pytest.raises(EngineError) as err:
        ProcessEngine(entry.manifest, tmp_path, device="cpu", engine="torch", measure=False,
                      process=process)
    line = str(err.value)
    assert "\n" not in line and "'demo-lesion-classifier'" in line and "weights" in line
    assert engine.pid is not None

    # closing the last model stops the process
    second = engine.pid
    engine.close()
    assert process.pid is None and not _alive(second)
    with pytest.raises(EngineError, match="closed"):
        engine.run(x)
    assert notices == []


def test_cuda_is_asked_in_the_process_once_and_kept(isolated, tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(cuda_probe, "_answers", {})
    monkeypatch.setattr(cuda_probe, "gpu_present", lambda: False)
    monkeypatch.setattr(cuda_probe, "_ask_torch", lambda: pytest.fail("asked without a GPU"))
    assert cuda_probe.cuda_usable(tmp_path) is False  # no GPU: no process, no file
    assert not (tmp_path / cuda_probe.CACHE_NAME).exists()

    monkeypatch.undo()
    monkeypatch.setattr(cuda_probe, "_answers", {})
    monkeypatch.setattr(cuda_probe, "gpu_present", lambda: True)
    asked = []
    real = cuda_probe._ask_torch
    monkeypatch.setattr(cuda_probe, "_ask_torch", lambda: asked.append(1) or real())
    answer = cuda_probe.cuda_usable(tmp_path)
    assert answer is torch.cuda.is_available() and asked == [1]  # the real torch's answer
    from medview.inference.engines.process_engine import shared_process

    if not answer:
        assert shared_process().pid is None  # not kept running for nothing

    # a new session reads the answer from the file; a changed setup asks again
    monkeypatch.setattr(cuda_probe, "_answers", {})
    monkeypatch.setattr(cuda_probe, "_ask_torch", lambda: asked.append(2) or False)
    assert cuda_probe.cuda_usable(tmp_path) is answer and asked == [1]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert cuda_probe.cuda_usable(tmp_path) is False and asked == [1, 2]
    shared_process().stop_if_idle()


def test_without_torch_the_process_says_so_in_one_line(shipped, tmp_path, monkeypatch):
    fake = tmp_path / "no-torch" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named torch (a bundle "
                                      "without it)')\n")
    monkeypatch.syspath_prepend(str(fake.parent))  # the spawned process starts from our path
    entry = Registry().find("demo-lesion-classifier")
    process = InferenceProcess()
    with pytest.raises(EngineError) as err:
        ProcessEngine(entry.manifest, entry.path, engine="torch", process=process)
    line = str(err.value)
    assert "\n" not in line and "'demo-lesion-classifier'" in line
    assert "torch cannot be loaded" in line and "bundle without it" in line
    assert process.pid is None
