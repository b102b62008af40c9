"""Registry and weights: round trips, safe .pth import, clear failures naming the model."""

from __future__ import annotations

import json
import os
import pathlib
import shutil

import pytest
import torch

from medview.inference import weights
from medview.inference.manifest import ManifestError, ModelError, read_manifest
from medview.inference.registry import ModelNotFoundError, Registry, user_models_dir
from medview.inference.weights import WeightsError
from tests.helpers.builders import CLASSIFIER, build_module, manifest_data, write_model


def _outputs(module, seed: int = 1, shape=(2, 1, 64, 64)) -> torch.Tensor:
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        return module.eval()(x)


def _manifest_only(folder: pathlib.Path, data: dict) -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


class Evil:
    """Unpickling this would create the marker file: proof that code ran."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


# ----------------------------------------------------------------------- round trips

def test_import_then_load_gives_the_same_outputs(isolated, sources):
    registry = Registry()
    entry = registry.import_model(sources["classifier"])
    assert entry.path == user_models_dir() / "chest-demo-1.0.0" and entry.source == "user"
    assert len(entry.manifest.weights.sha256) == 64
    loaded = registry.load("chest-demo")
    assert loaded.key == "chest-demo@1.0.0" and loaded.input_shape == (1, 64, 64)
    assert torch.equal(_outputs(loaded.module), _outputs(build_module(CLASSIFIER)))


def test_segmenter_round_trip(isolated, sources):
    registry = Registry()
    registry.import_model(sources["segmenter"])
    loaded = registry.load("prostate-demo", "0.1")
    from tests.helpers.builders import SEGMENTER

    assert torch.equal(_outputs(loaded.module), _outputs(build_module(SEGMENTER)))


def test_write_safetensors_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "weights.safetensors"
    digest = weights.write_safetensors({"a": torch.ones(3)}, target)
    assert digest == weights.sha256_file(target)

    real_write = pathlib.Path.write_bytes

    def disk_full_halfway(self, data):
        real_write(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "write_bytes", disk_full_halfway)
    with pytest.raises(OSError, match="No space left"):
        weights.write_safetensors({"a": torch.zeros(3)}, target)
    assert weights.sha256_file(target) == digest  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["weights.safetensors"]  # no temp left


# ----------------------------------------------------------------------- legacy .pth

def test_pickle_payload_is_refused_without_running_it(isolated, tmp_path):
    marker = tmp_path / "pwned"
    state = build_module(CLASSIFIER).state_dict()
    state["payload"] = Evil(marker)
    torch.save(state, tmp_path / "evil.pth")
    manifest = _manifest_only(tmp_path / "m", CLASSIFIER)
    with pytest.raises(WeightsError) as info:
        Registry().import_model(tmp_path / "evil.pth", manifest)
    message = str(info.value)
    assert message.startswith("model 'chest-demo' weights 'evil.pth': refused: the file "
                              "carries pickled code")
    assert "never runs" in message and "\n" not in message
    assert not marker.exists()
    assert not user_models_dir().exists() or not any(user_models_dir().iterdir())


class SystemCall:
    """Unpickling this would run a shell command (it never may): the classic hostile .pth."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def test_hostile_pickle_refusal_names_the_global(isolated, tmp_path):
    # torch refuses os.system with "unsupported GLOBAL posix.system whose module posix is
    # blocked", a wording the old message parser did not know: the user saw "damaged".
    marker = tmp_path / "pwned"
    state = build_module(CLASSIFIER).state_dict()
    state["payload"] = SystemCall(marker)
    torch.save(state, tmp_path / "evil.pth")
    expected = f"{os.system.__module__}.system"  # posix.system (nt.system on Windows)
    assert expected in weights.pickled_globals(tmp_path / "evil.pth")  # read, never unpickled
    assert not marker.exists()
    manifest = _manifest_only(tmp_path / "m", CLASSIFIER)
    with pytest.raises(WeightsError) as info:
        Registry().import_model(tmp_path / "evil.pth", manifest)
    assert f"refused: the file carries pickled code ({expected})" in str(info.value)
    assert not marker.exists()


def test_whole_pickled_model_is_refused_and_named(isolated, tmp_path):
    torch.save(build_module(CLASSIFIER), tmp_path / "model.pth")
    manifest = _manifest_only(tmp_path / "m", CLASSIFIER)
    with pytest.raises(WeightsError, match=r"pickled code \(torchvision\.models\.resnet\.ResNet\)"):
        Registry().import_model(tmp_path / "model.pth", manifest)


@pytest.mark.parametrize("wrap", ["plain", "checkpoint", "dataparallel"])
def test_legit_pth_imports_and_gives_the_same_outputs(isolated, tmp_path, wrap):
    module = build_module(CLASSIFIER, seed=7)
    state = module.state_dict()
    if wrap == "checkpoint":
        state = {"epoch": 12, "state_dict": state}
    elif wrap == "dataparallel":
        state = {f"module.{k}": v for k, v in state.items()}
    torch.save(state, tmp_path / "legacy.pth")
    manifest = _manifest_only(tmp_path / "m", CLASSIFIER)
    entry = Registry().import_model(tmp_path / "legacy.pth", manifest)
    assert sorted(p.name for p in entry.path.iterdir()) == ["model.json", "model.onnx",
                                                          "weights.safetensors"]
    assert torch.equal(_outputs(Registry().load("chest-demo").module), _outputs(module))


def test_damaged_files_are_named(isolated, tmp_path):
    manifest = _manifest_only(tmp_path / "m", CLASSIFIER)
    (tmp_path / "noise.pth").write_bytes(os.urandom(500))
    with pytest.raises(WeightsError, match="model 'chest-demo' weights 'noise.pth': "):
        Registry().import_model(tmp_path / "noise.pth", manifest)
    (tmp_path / "noise.safetensors").write_bytes(os.urandom(500))
    with pytest.raises(WeightsError, match="weights 'noise.safetensors': not a readable "
                                           "safetensors file"):
        Registry().import_model(tmp_path / "noise.safetensors", manifest)


# ----------------------------------------------------------------------- mismatches

def test_mismatched_weights_name_model_and_tensor(isolated, tmp_path):
    three_classes = manifest_data(CLASSIFIER, classes=["a", "b", "c"], thresholds={})
    write_model(tmp_path / "src", three_classes)
    (tmp_path / "src" / "model.json").write_text(json.dumps(CLASSIFIER))  # claims two classes
    with pytest.raises(WeightsError) as info:
        Registry().import_model(tmp_path / "src")
    message = str(info.value)
    assert message.startswith("model 'chest-demo' weights 'weights.safetensors': do not fit")
    assert "'fc.weight' has shape (3, 512), expected (2, 512)" in message


def test_weights_of_another_architecture_are_refused(isolated, tmp_path):
    write_model(tmp_path / "src", manifest_data(CLASSIFIER, architecture={"name": "resnet34"}))
    (tmp_path / "src" / "model.json").write_text(json.dumps(CLASSIFIER))
    with pytest.raises(WeightsError, match="unexpected tensors"):
        Registry().import_model(tmp_path / "src")


def test_altered_weights_are_detected_on_load(installed):
    registry = Registry()
    registry.import_model(registry.find("chest-demo").path, replace_existing=True)
    path = registry.find("chest-demo").weights_path
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="model 'chest-demo' weights 'weights.safetensors': "
                                           "SHA-256 differs"):
        registry.load("chest-demo")


def test_import_checks_a_recorded_sha256(isolated, sources, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(sources["classifier"], folder)
    data = json.loads((folder / "model.json").read_text())
    data["weights"] = {"sha256": "0" * 64}
    (folder / "model.json").write_text(json.dumps(data))
    with pytest.raises(WeightsError, match="SHA-256 differs"):
        Registry().import_model(folder)
    data["weights"]["sha256"] = weights.sha256_file(folder / "weights.safetensors")
    (folder / "model.json").write_text(json.dumps(data))
    assert Registry().import_model(folder).valid


# ----------------------------------------------------------------------- registry

def test_listing_shows_unusable_folders_with_their_reason(installed):
    models = installed / "user" / "models"
    broken = models / "broken-1"
    shutil.copytree(models / "chest-demo", broken)
    data = json.loads((broken / "model.json").read_text())
    data["name"], data["input"]["size"] = "broken", [64]
    (broken / "model.json").write_text(json.dumps(data))
    (models / "no-weights").mkdir()
    _manifest_only(models / "no-weights", manifest_data(CLASSIFIER, name="no-weights"))
    registry = Registry()
    by_name = {e.name: e for e in registry.entries()}
    assert by_name["broken"].error == ("model 'broken' field 'input.size': must be two "
                                       "positive integers")
    assert "weights 'weights.safetensors': file not found" in by_name["no-weights"].error
    assert {e.name for e in registry.available()} == {"chest-demo", "prostate-demo"}
    with pytest.raises(ModelError, match="field 'input.size'"):
        registry.load("broken")


def test_user_model_shadows_shipped_and_highest_version_wins(isolated, sources):
    shipped = isolated / "shipped"
    shutil.copytree(sources["classifier"], shipped / "chest-demo")
    write_model(shipped / "chest-demo-2", manifest_data(CLASSIFIER, version="1.10"))
    write_model(shipped / "chest-demo-3", manifest_data(CLASSIFIER, version="1.9"))
    registry = Registry()
    assert registry.find("chest-demo").version == "1.10"  # natural order, not text order
    assert registry.find("chest-demo", "1.0.0").source == "shipped"
    registry.import_model(sources["classifier"])
    assert registry.find("chest-demo", "1.0.0").source == "user"


def test_import_refuses_duplicates_unless_replacing(isolated, sources):
    registry = Registry()
    registry.import_model(sources["classifier"])
    with pytest.raises(ModelError, match="already installed.*--replace"):
        registry.import_model(sources["classifier"])
    entry = registry.import_model(sources["classifier"], replace_existing=True)
    assert entry.valid
    assert sorted(p.name for p in user_models_dir().iterdir()) == ["chest-demo-1.0.0"]


def test_import_of_a_file_needs_its_manifest(isolated, sources, tmp_path):
    lone = tmp_path / "lone.safetensors"
    shutil.copy(sources["classifier"] / "weights.safetensors", lone)
    with pytest.raises(ModelError, match="pass --manifest"):
        Registry().import_model(lone)
    entry = Registry().import_model(lone, sources["classifier"] / "model.json")
    assert read_manifest(entry.path).weights.sha256 == entry.manifest.weights.sha256


def test_not_found_lists_installed_or_says_how_to_import(isolated, sources):
    with pytest.raises(ModelNotFoundError) as info:
        Registry().find("chest-demo")
    assert "no AI model is installed" in str(info.value)
    assert "medview models import" in str(info.value)
    Registry().import_model(sources["classifier"])
    with pytest.raises(ModelNotFoundError, match="model 'lung' not found; installed: "
                                                 "chest-demo 1.0.0"):
        Registry().find("lung")


def test_import_rejects_invalid_manifest_before_reading_weights(isolated, tmp_path, sources):
    folder = tmp_path / "bad"
    shutil.copytree(sources["classifier"], folder)
    data = json.loads((folder / "model.json").read_text())
    data["input"]["channels"] = 4
    (folder / "model.json").write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="model 'chest-demo' field 'input.channels'"):
        Registry().import_model(folder)
