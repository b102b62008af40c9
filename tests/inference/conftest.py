"""Fixtures: the real shipped models, a small demo data set, the sample chest radiograph.

``isolated`` (the suite's: empty user and model folders, the session's engine cache),
``sources`` and ``installed`` (the random-weight models) come from ``tests/conftest.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.paths import SAMPLE_XRAY, SHIPPED


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


@pytest.fixture(scope="module")
def xray_frame():
    """The first frame of :data:`SAMPLE_XRAY`."""
    from medview.core.io.folder import load_paths

    return load_paths([str(SAMPLE_XRAY)]).frames()[0]
