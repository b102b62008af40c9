"""Fixtures shared by the whole suite, and the one place that makes Qt run offscreen.

This file applies to every test folder, the headless ones (``tests/trainer``,
``tests/test_layers.py``, …) included, so nothing here imports Qt or medview's Qt layer
at import time: the Qt fixtures import what they need when a test asks for them.

``isolated`` is not autouse here; a folder that wants it for every test re-declares it
with ``autouse=True`` in its own conftest (``tests/qt/analysis``, ``tests/qt/trainer_tab``).
"""

from __future__ import annotations

import os

# Qt must never need a display in tests; set before any test imports Qt (this conftest
# is loaded before every folder's own, so those need not repeat it).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture
def isolated(tmp_path, monkeypatch, engine_cache) -> Path:
    """``MEDVIEW_USER_DIR`` / ``MEDVIEW_MODELS_DIR`` in this test's temporary folder
    (``user`` and ``shipped``): an empty job queue and model registry, and nothing
    touches the real user folder; ``XDG_CACHE_HOME`` is the session's :func:`engine_cache`.
    Returns ``tmp_path``."""
    monkeypatch.setenv("MEDVIEW_USER_DIR", str(tmp_path / "user"))
    monkeypatch.setenv("MEDVIEW_MODELS_DIR", str(tmp_path / "shipped"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(engine_cache))
    return tmp_path


@pytest.fixture(scope="session")
def sources(tmp_path_factory) -> dict[str, Path]:
    """Random-weight model folders (a classifier and a segmenter) outside any registry
    root, built once per session (``tests/helpers/builders.py``)."""
    from tests.helpers.builders import CLASSIFIER, SEGMENTER, write_model

    root = tmp_path_factory.mktemp("model-sources")
    return {"classifier": write_model(root / "chest-demo", CLASSIFIER),
            "segmenter": write_model(root / "prostate-demo", SEGMENTER)}


@pytest.fixture(scope="session")
def engine_cache(tmp_path_factory) -> Path:
    """One engine-choice cache for the session: each model's engines are measured once."""
    return tmp_path_factory.mktemp("engine-cache")


@pytest.fixture
def installed(isolated, sources) -> Path:
    """Both random-weight models (:func:`sources`) installed in the user folder (copied);
    returns ``isolated``."""
    from tests.helpers.builders import install

    install(isolated, *sources.values())
    return isolated


@pytest.fixture
def settings(tmp_path):
    """medview's settings in this test's own ini file (never the user's QSettings)."""
    from medview.qt.settings import Settings

    return Settings(tmp_path / "medview.ini")


@pytest.fixture
def window(qtbot, settings, tmp_path, monkeypatch):
    """The main window, 1200 × 800, offscreen (see :func:`tests.helpers.qt.main_window`), with the user
    data folder in ``tmp_path / "user"`` (as :func:`isolated`): the window saves
    measurements and reads hanging protocols there, never in the real one."""
    from tests.helpers.qt import main_window

    monkeypatch.setenv("MEDVIEW_USER_DIR", str(tmp_path / "user"))
    with main_window(qtbot, settings) as win:
        yield win


@pytest.fixture(scope="session")
def cli_demo_run(tmp_path_factory):
    """``medview demo-data OUT --n 8 --size 128 --seed 7`` as a subprocess: (process, OUT)."""
    from tests.helpers.cli import medview
    from tests.helpers.trainer_files import DEMO_N, DEMO_SEED, DEMO_SIZE

    out = tmp_path_factory.mktemp("demo") / "data"
    proc = medview("demo-data", out, "--n", DEMO_N, "--size", DEMO_SIZE, "--seed", DEMO_SEED, timeout=180)
    return proc, out


@pytest.fixture(scope="session")
def cli_demo(cli_demo_run) -> Path:
    """Root of the data set :func:`cli_demo_run` wrote (the CLI run must have succeeded)."""
    proc, out = cli_demo_run
    assert proc.returncode == 0, proc.stderr
    return out
