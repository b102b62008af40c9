"""engine="auto": measure once, keep the fastest verified engine, cache the choice."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from medview.inference.engines import compare, create_engine, factory, selection
from medview.inference.engines.base import Engine
from tests.helpers.engines import SHAPE, CountCalls, torch_reference


@pytest.fixture
def measure_counter(monkeypatch):
    counter = CountCalls(selection.measure_candidates)
    monkeypatch.setattr(selection, "measure_candidates", counter)
    return counter


def _auto(module, cache_dir, task="classification", **kwargs):
    return create_engine(module, SHAPE, task=task, model_key=f"tiny-{task}", cache_dir=cache_dir, **kwargs)


def _entries(cache_dir):
    return json.loads((cache_dir / "engines.json").read_text())["entries"]


def test_auto_picks_a_verified_engine_and_caches_it(task_model, batch, tmp_path, measure_counter):
    task, module = task_model
    engine = _auto(module, tmp_path, task)
    assert measure_counter.calls == 1
    info = engine.selection
    assert info["source"] == "measured"
    assert info["choice"] == f"{engine.name}:{engine.precision.replace('channels_last-fp32', 'channels_last')}"
    # every installed engine was a candidate and none was rejected on these models
    labels = set(info["first_run_ms"]) | set(info["rejected"])
    assert {"torch:fp32", "torch:channels_last", "onnxruntime:fp32", "openvino:fp32"} <= labels
    assert info["timings_ms"][info["choice"]] == min(info["timings_ms"].values())
    assert compare(torch_reference(module, batch), engine.run(batch), task).ok

    entries = _entries(tmp_path)
    assert len(entries) == 1
    (entry,) = entries.values()
    assert entry["choice"] == info["choice"]
    fields = entry["fields"]
    assert fields["model_key"] == f"tiny-{task}" and fields["input_shape"] == list(SHAPE)
    assert {"torch", "onnxruntime", "openvino"} <= set(fields["versions"])
    assert fields["cpu"] and fields["weights"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # atomic write left nothing


def test_second_load_uses_the_cache_without_measuring(classifier, tmp_path, measure_counter):
    first = _auto(classifier, tmp_path)
    cache_file = tmp_path / "engines.json"
    stamp = cache_file.stat().st_mtime_ns
    assert measure_counter.calls == 1

    second = _auto(classifier, tmp_path)
    assert measure_counter.calls == 1  # no second measurement
    assert second.selection["source"] == "cache"
    assert (second.name, second.precision) == (first.name, first.precision)
    assert cache_file.stat().st_mtime_ns == stamp  # cache not rewritten


def test_without_measuring_fp32_torch_runs_at_once_and_a_later_call_measures(
        classifier, batch, tmp_path, measure_counter):
    # a fresh profile: nothing cached; the first use must not wait for the measurement
    first = _auto(classifier, tmp_path, measure=False)
    assert measure_counter.calls == 0
    assert first.selection["source"] == "default" and (first.name, first.precision) == ("torch", "fp32")
    assert not (tmp_path / "engines.json").exists()
    assert np.allclose(first.run(batch), torch_reference(classifier, batch), atol=1e-5)  # the model itself

    measured = _auto(classifier, tmp_path)  # later, in the background
    assert measure_counter.calls == 1 and measured.selection["source"] == "measured"
    again = _auto(classifier, tmp_path, measure=False)  # once measured, the choice is used
    assert measure_counter.calls == 1 and again.selection["source"] == "cache"
    assert (again.name, again.precision) == (measured.name, measured.precision)


def test_a_cancelled_measurement_caches_nothing(classifier, tmp_path):
    asked = []
    with pytest.raises(selection.MeasureCancelled):
        _auto(classifier, tmp_path, cancelled=lambda: asked.append(1) or len(asked) > 2)
    assert not (tmp_path / "engines.json").exists()
    assert _auto(classifier, tmp_path, measure=False).selection["source"] == "default"


def test_changed_weights_are_measured_again(tmp_path, measure_counter):
    import torch
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=5).eval()
    _auto(model, tmp_path)
    with torch.no_grad():
        model.fc.bias.add_(1.0)
    _auto(model, tmp_path)
    assert measure_counter.calls == 2
    assert len(_entries(tmp_path)) == 2


def _rewrite_choice(cache_dir, choice):
    path = cache_dir / "engines.json"
    data = json.loads(path.read_text())
    (key,) = data["entries"]
    data["entries"][key]["choice"] = choice
    path.write_text(json.dumps(data))
    return key


def test_cached_choice_of_unknown_engine_is_measured_again(classifier, tmp_path, measure_counter):
    _auto(classifier, tmp_path)
    key = _rewrite_choice(tmp_path, "tensorrt:fp16")
    engine = _auto(classifier, tmp_path)
    assert measure_counter.calls == 2 and engine.selection["source"] == "measured"
    assert _entries(tmp_path)[key]["choice"] == engine.selection["choice"]


def test_cached_engine_that_no_longer_builds_is_measured_again(classifier, tmp_path, measure_counter, monkeypatch):
    _auto(classifier, tmp_path)
    key = _rewrite_choice(tmp_path, "openvino:fp32")
    from medview.inference.engines import openvino_engine

    def broken(*args, **kwargs):
        raise RuntimeError("OpenVINO CPU plugin missing")

    monkeypatch.setattr(openvino_engine.OpenVINOEngine, "__init__", broken)
    engine = _auto(classifier, tmp_path)
    assert measure_counter.calls == 2
    assert engine.name != "openvino"
    entry = _entries(tmp_path)[key]
    assert entry["choice"] == engine.selection["choice"]
    assert "openvino:fp32" in entry["rejected"]


def test_uninstalled_engine_changes_the_key_and_is_not_chosen(classifier, tmp_path, measure_counter, monkeypatch):
    _auto(classifier, tmp_path)
    _rewrite_choice(tmp_path, "openvino:fp32")
    real = factory.available_engines
    monkeypatch.setattr(factory, "available_engines", lambda: {k: v for k, v in real().items() if k != "openvino"})
    engine = _auto(classifier, tmp_path)
    assert measure_counter.calls == 2 and engine.name != "openvino"
    assert not any(k.startswith("openvino") for k in engine.selection["timings_ms"])


def test_corrupt_cache_file_is_replaced(classifier, tmp_path, measure_counter):
    (tmp_path / "engines.json").write_text("{not json")
    _auto(classifier, tmp_path)
    assert measure_counter.calls == 1
    assert len(_entries(tmp_path)) == 1


class _FastButWrong(Engine):
    """Instant, and wrong: must never be chosen."""

    name = "onnxruntime"
    precision = "fp32"

    def __init__(self, input_shape, task):
        self.input_shape = input_shape
        self.task = task

    def _run(self, batch):
        rng = np.random.default_rng(0)
        return rng.standard_normal((batch.shape[0], 5)).astype(np.float32) * 5


def test_candidate_outside_tolerance_is_rejected_even_if_fastest(classifier, tmp_path, monkeypatch):
    real = factory._cpu_candidates

    def with_cheat(module, input_shape, task, **kwargs):
        cands = real(module, input_shape, task, **kwargs)
        cands.insert(0, selection.Candidate("onnxruntime", "cheat", lambda: _FastButWrong(input_shape, task)))
        return cands

    monkeypatch.setattr(factory, "_cpu_candidates", with_cheat)
    engine = _auto(classifier, tmp_path)
    assert not isinstance(engine, _FastButWrong)
    assert "onnxruntime:cheat" in engine.selection["rejected"]
    assert "outside tolerance" in engine.selection["rejected"]["onnxruntime:cheat"]


def test_explicit_engine_outside_tolerance_falls_back_to_torch(classifier, tmp_path, monkeypatch):
    monkeypatch.setattr(
        factory, "_cpu_candidates",
        lambda module, input_shape, task, **kw: [
            selection.Candidate("onnxruntime", "fp32", lambda: _FastButWrong(input_shape, task))
        ] if kw["engine"] == "onnxruntime" else [
            selection.Candidate("torch", "fp32", lambda: factory.TorchEngine(module, input_shape, task), True)
        ],
    )
    notices = []
    engine = create_engine(classifier, SHAPE, task="classification", model_key="m", engine="onnxruntime",
                           precision="fp32", cache_dir=tmp_path, on_notice=notices.append)
    assert engine.name == "torch" and notices and "using torch" in notices[0]


def test_unwritable_cache_still_gives_an_engine(classifier, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")  # a file where the cache folder should be
    engine = _auto(classifier, blocker)
    assert engine.selection["source"] == "measured"
    assert engine.run(np.zeros((1, *SHAPE), np.float32)).shape == (1, 5)


def test_measurement_time_is_recorded(classifier, tmp_path):
    # Short by construction: rounds stop at the time budget and losers are pruned
    # (test_measure_candidates_picks_the_fastest_and_prunes_losers); how long it takes
    # on a machine is bench/inference.py's figure, not a unit test's bound.
    engine = _auto(classifier, tmp_path)
    assert engine.selection["source"] == "measured" and engine.selection["measure_s"] > 0


def test_onnx_export_is_reused_between_loads(classifier, tmp_path, monkeypatch):
    _auto(classifier, tmp_path, engine="onnxruntime", precision="fp32")
    files = list((tmp_path / "onnx").glob("*.onnx"))
    assert len(files) == 1
    counter = CountCalls(factory.export_onnx)
    monkeypatch.setattr(factory, "export_onnx", counter)
    _auto(classifier, tmp_path, engine="openvino", precision="fp32")
    assert counter.calls == 0


def test_default_cache_dir_is_platformdirs(monkeypatch, tmp_path):
    import platformdirs

    assert selection.default_cache_dir() == __import__("pathlib").Path(
        platformdirs.user_cache_dir("medview", appauthor=False))
    assert os.fspath(selection.default_cache_dir()).endswith("medview")


class _Sleepy(Engine):
    """Returns the reference output after sleeping a fixed time."""

    def __init__(self, seconds, output):
        self.seconds = seconds
        self.output = output
        self.input_shape = SHAPE
        self.runs = 0

    def _run(self, batch):
        import time

        self.runs += 1
        time.sleep(self.seconds)
        return self.output


def test_measure_candidates_picks_the_fastest_and_prunes_losers():
    out = np.zeros((1, 5), np.float32)
    engines = {"slow": _Sleepy(0.040, out), "fast": _Sleepy(0.002, out), "mid": _Sleepy(0.012, out)}
    cands = [selection.Candidate("torch", k, (lambda e=e: e)) for k, e in engines.items()]
    x = np.zeros((1, *SHAPE), np.float32)
    m = selection.measure_candidates(cands, x, out, "classification", budget_s=0.5, min_rounds=3, max_rounds=20)
    assert m.candidate.variant == "fast"
    t = m.timings_ms
    assert t["torch:fast"] < t["torch:mid"] < t["torch:slow"]
    # 20× and 6× slower: dropped after the first timed round (check run + warm-up + one
    # block: an untimed run after the switch, then BLOCK_RUNS timed)
    block = 1 + selection.BLOCK_RUNS
    assert engines["slow"].runs == 2 + block and engines["mid"].runs == 2 + block
    assert engines["fast"].runs <= 20 * block + 2  # max_rounds blocks + check + warm-up


def test_measure_candidates_reference_callable_only_when_needed():
    out = np.ones((1, 5), np.float32)
    calls = CountCalls(lambda: out)
    ref = selection.Candidate("torch", "fp32", lambda: _Sleepy(0.001, out), is_reference=True)
    other = selection.Candidate("openvino", "fp32", lambda: _Sleepy(0.001, out))
    x = np.zeros((1, *SHAPE), np.float32)
    selection.measure_candidates([ref, other], x, calls, "classification", budget_s=0.05)
    assert calls.calls == 0  # the reference candidate's own first run was used
    selection.measure_candidates([other], x, calls, "classification")
    assert calls.calls == 1


def test_measure_candidates_with_nothing_valid_raises():
    out = np.zeros((1, 5), np.float32)
    bad = selection.Candidate("openvino", "fp32", lambda: _Sleepy(0.0, np.full((1, 5), np.nan, np.float32)))
    with pytest.raises(selection.NoCandidateError, match="outside tolerance"):
        selection.measure_candidates([bad], np.zeros((1, *SHAPE), np.float32), out, "classification")


def _slow_to_build(seconds, engine):
    import time

    def build():
        time.sleep(seconds)
        return engine
    return build


def test_few_runs_build_the_engine_with_the_least_build_plus_run_time(tmp_path):
    """The cached winner runs fastest; for one input the engine that builds fastest wins
    (``medview analyze`` on one image), for many the winner again."""
    out = np.zeros((1, 5), np.float32)
    quick_run = _Sleepy(0.002, out)   # fastest per run, 0.3 s to build
    quick_build = _Sleepy(0.012, out)  # 6x slower per run, builds at once

    def candidates():
        return [selection.Candidate("onnxruntime", "fp32", lambda: quick_build, is_reference=True),
                selection.Candidate("openvino", "fp32", _slow_to_build(0.3, quick_run))]

    def choose(runs=None):
        return selection.choose(candidates(), input_shape=SHAPE, task="classification",
                                key_fields={"k": 1}, runs=runs, reference=lambda _: out,
                                cache=selection.EngineCache(tmp_path / "engines.json"))

    first = choose()
    assert first is quick_run and first.selection["source"] == "measured"
    assert set(first.selection["build_ms"]) == {"onnxruntime:fp32", "openvino:fp32"}
    assert choose(runs=1).selection["choice"] == "onnxruntime:fp32"
    assert choose(runs=1000).selection["choice"] == "openvino:fp32"
    again = choose().selection  # the app: the fastest per run
    assert (again["source"], again["choice"]) == ("cache", "openvino:fp32")
