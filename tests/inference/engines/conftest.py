"""Tiny seeded models for the engine tests (64 px inputs, fast on two CPU cores)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import medview.inference.engines  # noqa: F401  # first: switches off ORT/OpenVINO telemetry before test modules import them
from tests.helpers.engines import SHAPE


@pytest.fixture(autouse=True)
def short_measurements(monkeypatch):
    """Tiny models need few rounds; keeps the suite fast on two cores."""
    from medview.inference.engines import selection

    monkeypatch.setattr(selection, "TIME_BUDGET_S", 0.3)
    monkeypatch.setattr(selection, "MAX_ROUNDS", 6)


def _seeded(build):
    torch.manual_seed(1234)
    return build().eval()


@pytest.fixture(scope="session")
def classifier() -> torch.nn.Module:
    """ResNet-18, random weights, 5 classes."""
    import torchvision

    return _seeded(lambda: torchvision.models.resnet18(weights=None, num_classes=5))


@pytest.fixture(scope="session")
def segmenter() -> torch.nn.Module:
    """FPN with a ResNet-18 encoder, random weights, 3 classes."""
    import segmentation_models_pytorch as smp

    return _seeded(lambda: smp.FPN("resnet18", encoder_weights=None, classes=3))


@pytest.fixture(params=["classification", "segmentation"])
def task_model(request, classifier, segmenter):
    """(task, module) for both tasks."""
    return request.param, classifier if request.param == "classification" else segmenter


@pytest.fixture
def batch() -> np.ndarray:
    """A batch of two inputs that is NOT the verification input."""
    return np.random.default_rng(7).standard_normal((2, *SHAPE)).astype(np.float32)

