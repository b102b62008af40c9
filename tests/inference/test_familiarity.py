"""Images unlike the training images are flagged (issue 12, item 3)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from medview.inference.familiarity import Reference, fit_reference, thumbnail
from medview.inference.manifest import ModelError
from medview.inference.registry import Registry, load_reference
from tests.helpers.datafiles import demo_dx, find
from tests.helpers.cli import medview_with_models as medview
from tests.helpers.paths import SHIPPED


def test_thumbnail_is_an_exact_area_average():
    rng = np.random.default_rng(0)
    image = rng.random((1, 64, 48)).astype(np.float32)
    expected = image[0].reshape(16, 4, 16, 3).mean(axis=(1, 3))
    assert np.allclose(thumbnail(image), expected.ravel())
    odd = rng.random((3, 37, 53))
    assert thumbnail(odd).shape == (3 * 256,)
    assert np.isclose(thumbnail(odd)[:256].mean(), odd[0].mean(), atol=0.05)


def _cloud(n: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    basis = np.random.default_rng(99).normal(size=(5, 256))
    return rng.normal(size=(n, 5)) @ basis + 0.05 * rng.normal(size=(n, 256)) + shift


def test_new_images_of_the_same_kind_pass_and_others_are_flagged():
    ref = fit_reference(_cloud(200, 1), _cloud(100, 2))
    same = [ref.score(x) > ref.threshold for x in _cloud(400, 3)]
    other = [ref.score(x) > ref.threshold for x in _cloud(100, 4, shift=1.0)]
    assert np.mean(same) <= 0.05 and np.mean(other) == 1.0


def test_reference_round_trip_and_damaged_files(tmp_path):
    ref = fit_reference(_cloud(50, 1), _cloud(30, 2))
    ref.save(tmp_path / "r.safetensors")
    back = Reference.load(tmp_path / "r.safetensors")
    assert back.threshold == ref.threshold and np.array_equal(back.components, ref.components)
    from safetensors.numpy import save_file

    bad = {"mean": np.full(256, np.nan), "components": ref.components,
           "variances": ref.variances, "scalars": np.array([1.0, 2.0])}
    save_file(bad, tmp_path / "nan.safetensors", metadata={"method": "input-pca-t2q"})
    with pytest.raises(ValueError, match="NaN"):
        Reference.load(tmp_path / "nan.safetensors")
    save_file({"x": np.zeros(2)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="not a 'input-pca-t2q' reference"):
        Reference.load(tmp_path / "other.safetensors")


def test_shipped_models_carry_a_reference():
    for name in ("demo-lesion-classifier", "demo-lesion-segmenter"):
        from medview.inference.manifest import read_manifest

        folder = SHIPPED / name
        assert load_reference(read_manifest(folder), folder) is not None


def test_cli_marks_an_mr_unlike_the_training_images_and_a_chest_dx_not(shipped, demo):
    args = ("analyze", "--model", "demo-lesion-classifier", "--engine", "torch",
            "--outside-scope")
    mr = json.loads(medview(*args, find("MR2_UNCR.dcm")).stdout)
    assert mr["familiarity"]["unlike_training"] is True
    assert mr["familiarity"]["score"] > 5 * mr["familiarity"]["threshold"]
    dx = json.loads(medview(*args, demo_dx(demo)).stdout)
    assert dx["familiarity"]["unlike_training"] is False


def test_a_model_whose_reference_is_damaged_is_refused_at_import(isolated, tmp_path):
    source = tmp_path / "model"
    shutil.copytree(SHIPPED / "demo-lesion-segmenter", source)
    (source / "reference.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="reference of the training images"):
        Registry().import_model(source)
    shutil.copy2(SHIPPED / "demo-lesion-segmenter" / "reference.safetensors", source)
    entry = Registry().import_model(source)
    assert (Path(entry.path) / "reference.safetensors").is_file()
