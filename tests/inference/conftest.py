"""Fixtures: tiny models in temporary folders; no real user folder is ever touched.

Every test that reaches the registry, the audit log or the engine cache uses
``isolated``: ``MEDVIEW_USER_DIR`` and ``MEDVIEW_MODELS_DIR`` point into its own
temporary folder, ``XDG_CACHE_HOME`` (engine choices) into one for the session.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers.paths import SHIPPED


@pytest.fixture
def isolated(isolated, monkeypatch, engine_cache) -> Path:
    """Empty shipped and user model folders for this test (the suite's ``isolated``);
    the session's engine cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(engine_cache))
    return isolated


@pytest.fixture
def installed(isolated, sources) -> Path:
    """Both demo models installed in the user folder (copied; import is tested apart)."""
    models = isolated / "user" / "models"
    models.mkdir(parents=True)
    for folder in sources.values():
        shutil.copytree(folder, models / folder.name)
    return isolated


@pytest.fixture
def shipped(isolated, monkeypatch) -> Path:
    """The real shipped demo models, an empty user folder."""
    monkeypatch.setenv("MEDVIEW_MODELS_DIR", str(SHIPPED))
    return isolated


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """``write_demo_data(n=2, size=64, seed=1)``: a few chest radiographs (DICOM and PNG)."""
    from medview.demo.demo_data import write_demo_data

    out = tmp_path_factory.mktemp("demo")
    write_demo_data(out, n=2, size=64, seed=1)
    return out
