"""Fixtures for the AI panel tests: isolated model folders, tiny models, a test engine.

Every test runs with ``MEDVIEW_USER_DIR`` / ``MEDVIEW_MODELS_DIR`` in its own temporary
folder (nothing touches the real user folder) and one engine-choice cache per session.
Models are the random-weight builders of ``tests/inference``. ``engines`` replaces the
engine factory with the plain torch fp32 engine (no measuring, seconds saved per test)
wrapped so that a test can make it slow (real repeated forward passes, as a big model
would be), count its runs, or fix its output. ``window`` and ``settings`` come from
``tests/conftest.py``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.builders import install


@pytest.fixture(autouse=True)
def isolated(isolated) -> Path:
    """Empty shipped and user model folders and the session's engine-choice cache (the
    suite's ``isolated``), for every test here."""
    return isolated


@pytest.fixture
def installed(isolated, sources) -> Path:
    """Both tiny models installed in the user folder."""
    return install(isolated, sources["classifier"], sources["segmenter"])


class EngineControl:
    """What the test engine does: ``delay`` s of extra real forward passes per run,
    ``runs`` counted, ``square`` (segmentation: a centre square, for a known mask),
    ``logits`` (classification: fixed logits); ``spans`` records (thread id, start,
    end) of each run."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.runs = 0
        self.spans: list[tuple[int, float, float]] = []
        self.square = False
        self.logits = None
        self.built = 0


@pytest.fixture
def engines(monkeypatch) -> EngineControl:
    import medview.inference.engines as engines_pkg
    from medview.inference.engines.base import Engine
    from medview.inference.engines.torch_engine import TorchEngine

    control = EngineControl()

    class TestEngine(Engine):
        def __init__(self, module, input_shape, task):
            self.inner = TorchEngine(module, input_shape, task, variant="fp32", threads=2)
            self.name, self.device, self.precision = "torch", "cpu", "fp32"
            self.input_shape, self.task = tuple(input_shape), task
            self.selection = {"source": "fixed", "choice": "torch:fp32"}

        def _run(self, batch):
            control.runs += 1
            start = time.perf_counter()
            out = self.inner.run(batch)
            end = time.perf_counter() + control.delay
            while time.perf_counter() < end:  # a slow model: real work, GIL released
                self.inner.run(batch)
            control.spans.append((threading.get_ident(), start, time.perf_counter()))
            if self.task == "segmentation" and control.square:
                h, w = out.shape[-2:]
                out = np.full(out.shape, -10.0, np.float32)
                out[:, 0, h // 4: 3 * h // 4, w // 4: 3 * w // 4] = 10.0
            if self.task == "classification" and control.logits is not None:
                out = np.tile(np.asarray(control.logits, np.float32), (len(batch), 1))
            return out

    def create_engine(module, input_shape, *, task, model_key, **kwargs):
        control.built += 1
        return TestEngine(module, input_shape, task)

    monkeypatch.setattr(engines_pkg, "create_engine", create_engine)
    return control


@pytest.fixture
def ct_series_dir(tmp_path) -> Path:
    """A 4-slice CT series, 64², 0.7 mm pixels, slices 2.5 mm apart (synthetic)."""
    from medview.demo.synth import write_ct_series

    rng = np.random.default_rng(1)
    vol = rng.integers(-1000, 400, size=(4, 64, 64)).astype(np.int16)
    vol[:, 20:44, 20:44] = 60
    folder = tmp_path / "ct4"
    write_ct_series(vol, folder, spacing=(0.7, 0.7), thickness=2.5, compress=None,
                    uid_seed="medview-ai-tests")
    return folder



@pytest.fixture
def window(window):
    """The main window with hanging protocols off: these tests analyse the series they open
    in the viewport it opens in (a protocol would lay a CT volume out as MPR planes)."""
    window.hanging_action.setChecked(False)
    return window
