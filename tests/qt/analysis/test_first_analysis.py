"""The first analysis in a fresh profile (issue 10, 4): the image is checked before any
engine work, the engines are not measured while the user waits, loading shows an estimate.

The time itself is measured by ``bench/first_analysis.py``; these tests check the order
of things. Real files (pydicom's CT_small.dcm and a damaged RLE copy of it).
"""

from __future__ import annotations

import json

import pytest

from medview.analysis.pool_jobs import ModelId
from tests.helpers.datafiles import find
from tests.helpers.engines import CountCalls
from tests.helpers.qt_analysis import damaged_rle, open_and_show, select_model


@pytest.fixture
def fresh_cache(isolated, monkeypatch):
    """No engine choice, ONNX export or load time cached yet (before the window is made)."""
    cache = isolated / "fresh-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache / "medview"


@pytest.fixture
def measure_counter(monkeypatch):
    from medview.inference.engines import selection

    monkeypatch.setattr(selection, "TIME_BUDGET_S", 0.3)  # tiny models: few rounds
    monkeypatch.setattr(selection, "MAX_ROUNDS", 6)
    counter = CountCalls(selection.measure_candidates)
    monkeypatch.setattr(selection, "measure_candidates", counter)
    return counter


def test_a_damaged_file_fails_before_any_model_or_engine_is_made(
        qtbot, window, installed, engines, tmp_path):
    panel = window.analysis
    window.open_paths([str(damaged_rle(tmp_path))])
    qtbot.waitUntil(lambda: window.grid.active.model.frame is not None, timeout=15000)
    select_model(panel, "chest-demo")
    failed = []
    panel.service.failed.connect(lambda r, m: failed.append(m))
    panel.analyze()
    qtbot.waitUntil(lambda: bool(failed), timeout=30000)
    assert failed[0].startswith("damaged_rle.dcm: cannot decode pixel data")
    assert engines.built == 0  # no engine was made for it
    assert panel.service.model_state(ModelId.of(panel.current_entry())) == "absent"


def test_fresh_profile_first_result_comes_before_the_engines_are_measured(
        qtbot, fresh_cache, measure_counter, window, installed):
    panel, sv = window.analysis, window.analysis.service
    open_and_show(qtbot, window, [find("CT_small.dcm")])
    select_model(panel, "chest-demo")
    said, etas, results, changed = [], [], [], []
    sv.modelStatus.connect(lambda k, m: said.append(m))
    sv.modelEta.connect(lambda k, s: etas.append(s))
    sv.finished.connect(lambda r, a: results.append((a, measure_counter.calls)))
    sv.engineChanged.connect(lambda k, info: changed.append(info))
    panel.analyze()
    qtbot.waitUntil(lambda: bool(results) or panel.state == "idle", timeout=120000)
    assert results, panel.status_label.full_text()
    analysis, calls_at_result = results[0]
    # the result came from fp32 torch, with nothing measured on the request path
    assert calls_at_result == 0
    assert (analysis.result.engine, analysis.result.precision) == ("torch", "fp32")
    assert sv.model_info(ModelId.of(panel.current_entry()))["selection"] == "default"
    # loading said how long it would take
    assert etas and all(s > 0 for s in etas)
    assert any("(about " in m for m in said) and not any("fastest engine" in m for m in said)
    assert (fresh_cache / "load_times.json").is_file()

    # then, with nothing else to do, the engines were measured and the choice cached
    qtbot.waitUntil(lambda: bool(changed), timeout=180000)
    assert measure_counter.calls == 1 and changed[0]["selection"] == "measured"
    entries = json.loads((fresh_cache / "engines.json").read_text())["entries"]
    assert len(entries) == 1
    # the next image runs on the measured engine
    vp = window.grid.active
    vp.model.set_index(0)
    results.clear()
    sv.cache.clear()
    panel.analyze()
    qtbot.waitUntil(lambda: bool(results), timeout=60000)
    assert results[0][0].result.engine == changed[0]["engine"]
