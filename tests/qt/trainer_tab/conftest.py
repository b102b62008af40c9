"""Fixtures for the Trainer tab tests: isolated user folders, a tiny demo data set, the tab.

Every test runs with ``MEDVIEW_USER_DIR`` / ``MEDVIEW_MODELS_DIR`` in its own temporary
folder, so the job queue and the model registry start empty and nothing touches the
real user folder. ``settings`` and ``isolated`` come from ``tests/conftest.py``; fake jobs
and other helpers from ``tests/helpers/trainer_tab.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.trainer_tab import make_tab


@pytest.fixture(autouse=True)
def isolated(isolated) -> Path:
    """The suite's ``isolated`` user and model folders, for every test here."""
    return isolated


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """``write_demo_data(n=6, size=64)``: 12 classification images (DICOM + PNG) and 6 masks."""
    from medview.demo.demo_data import write_demo_data

    out = tmp_path_factory.mktemp("trainer-demo") / "data"
    write_demo_data(out, n=6, size=64, seed=3)
    return out


@pytest.fixture
def tab(qtbot, settings):
    t = make_tab(qtbot, settings)
    yield t
    t.shutdown()
