"""Fixtures of the labelling-project tests: a small synthetic case folder and a project over it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from medview.labels.project import Project


@pytest.fixture(scope="session")
def cases(tmp_path_factory) -> Path:
    """The demo data set (6 images per class, 64 px): DICOM and PNG images of synthetic
    patients, their ``labels.csv``, and segmentation image/mask pairs."""
    from medview.demo.demo_data import write_demo_data

    out = tmp_path_factory.mktemp("cases") / "demo"
    write_demo_data(out, n=6, size=64, seed=3)
    return out


@pytest.fixture
def project(cases, tmp_path) -> Project:
    """A classification project (normal, lesion) over a copy of the demo's classification
    images, labels in ``tmp_path/labels``."""
    studies = tmp_path / "cases"
    shutil.copytree(cases / "classification", studies)
    return Project.create(tmp_path / "chest.mvlabels.json", "classification", ["normal", "lesion"],
                          [studies], tmp_path / "labels")
