"""Backbones: state dicts made elsewhere (torchvision, timm, smp layouts, made here with the
same libraries) map onto the canonical layout with known tensor counts; backbone folders
are written, checked, found and listed apart from models; pickled code is refused; the
build-time fetch script checks hashes (offline, file:// URLs)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
import torchvision

from medview import cli
from medview.inference import backbones as bb
from medview.inference.backbone_import import import_backbone, read_state_file
from medview.inference.backbone_layout import canonical_keys, for_network, to_canonical
from medview.inference.registry import Registry

ROOT = Path(__file__).resolve().parents[2]

#: Canonical (trunk) tensors per architecture: parameters and BatchNorm running statistics,
#: no head, no step counters. resnet18: 60 parameters + 40 running statistics.
TRUNK_TENSORS = {"resnet18": 100, "resnet34": 180, "resnet50": 265, "densenet121": 604,
                 "mobilenet_v3_small": 206, "mobilenet_v3_large": 262, "efficientnet_b0": 309}


def _torchvision_state(arch: str) -> dict:
    torch.manual_seed(0)
    return torchvision.models.get_model(arch, weights=None).state_dict()


def _save_backbone(folder: Path, name: str = "tv18", version: str = "1", **info) -> Path:
    state, _ = to_canonical(_torchvision_state("resnet18"), "resnet18")
    return bb.write_backbone(folder, state, bb.BackboneInfo(name=name, version=version,
                                                            architecture="resnet18", **info))


# ----------------------------------------------------------------------- layouts

@pytest.mark.parametrize("arch", list(TRUNK_TENSORS))
def test_torchvision_classifier_maps_every_trunk_tensor(arch):
    source = _torchvision_state(arch)
    state, report = to_canonical(source, arch, channels=1)
    assert len(state) == TRUNK_TENSORS[arch] == len(report.loaded) + len(report.adapted)
    assert len(report.adapted) == 1 and not report.missing
    assert {why for _, why in report.skipped} == {"head"}
    heads = {"resnet18": 2, "resnet34": 2, "resnet50": 2, "densenet121": 2,
             "mobilenet_v3_small": 4, "mobilenet_v3_large": 4, "efficientnet_b0": 2}
    assert len(report.skipped) == heads[arch]
    assert report.counters == len(source) - TRUNK_TENSORS[arch] - heads[arch]


def test_official_resnet18_layout_has_102_tensors_of_which_100_load():
    # torchvision's published resnet18 file has no step counters: 100 trunk + 2 head tensors.
    official = {k: v for k, v in _torchvision_state("resnet18").items()
                if not k.endswith("num_batches_tracked")}
    assert len(official) == 102
    state, report = to_canonical(official, "resnet18")
    assert len(state) == 100 and report.counters == 0
    assert report.skipped == [("fc.weight", "head"), ("fc.bias", "head")]


def test_rgb_stem_is_summed_to_one_channel():
    source = _torchvision_state("resnet18")
    state, report = to_canonical(source, "resnet18", channels=1)
    assert report.adapted == ["conv1.weight"]
    assert state["conv1.weight"].shape == (64, 1, 7, 7)
    assert torch.allclose(state["conv1.weight"], source["conv1.weight"].sum(1, keepdim=True))
    assert torch.equal(state["layer4.1.bn2.running_var"], source["layer4.1.bn2.running_var"])


def test_smp_encoder_keys_lose_their_prefix():
    import segmentation_models_pytorch as smp

    fpn = smp.FPN("resnet18", encoder_weights=None, in_channels=3, classes=1).state_dict()
    encoder = [k for k in fpn if k.startswith("encoder.")]
    assert len(encoder) == 120  # 100 trunk tensors + 20 step counters
    state, report = to_canonical(fpn, "resnet18")
    assert len(state) == 100 and report.counters == 20
    assert report.skipped and all(why == "not part of the encoder" and not n.startswith("encoder.")
                                  for n, why in report.skipped)
    assert len(report.skipped) == len(fpn) - len(encoder)
    unet = smp.Unet("densenet121", encoder_weights=None, in_channels=1, classes=1).state_dict()
    state, report = to_canonical(unet, "densenet121")
    assert len(state) == 604 and not report.adapted  # already one channel


def test_timm_resnet_and_densenet_use_torchvision_names():
    import timm

    for arch in ("resnet18", "densenet121"):
        source = timm.create_model(arch, pretrained=False).state_dict()
        state, _ = to_canonical(source, arch)
        assert len(state) == TRUNK_TENSORS[arch]


def test_wrappers_and_legacy_densenet_names():
    source = _torchvision_state("densenet121")
    legacy = {"module." + k.replace(".norm1.", ".norm.1.").replace(".conv2.", ".conv.2."): v
              for k, v in source.items()}
    assert sum(".norm.1." in k for k in legacy) == 58 * 5  # 58 dense layers: 4 tensors + counter
    state, _ = to_canonical(legacy, "densenet121")
    assert len(state) == 604
    named, _ = canonical_keys({"model.backbone.conv1.weight": 1, "model.backbone.fc.bias": 2})
    assert set(named) == {"conv1.weight", "fc.bias"}


def test_other_architecture_and_partial_trunk_are_refused():
    with pytest.raises(ValueError, match="no tensor matches densenet121"):
        to_canonical(_torchvision_state("resnet18"), "densenet121")
    source = _torchvision_state("resnet18")
    del source["layer4.1.conv2.weight"]
    with pytest.raises(ValueError, match="1 of 100 tensors of resnet18 are missing.*layer4.1.conv2"):
        to_canonical(source, "resnet18")


def test_for_network_picks_the_layout_of_the_network():
    import segmentation_models_pytorch as smp

    fpn_keys = smp.FPN("resnet18", encoder_weights=None, classes=1).state_dict().keys()
    mapped = for_network(_torchvision_state("resnet18"), fpn_keys)
    assert sum(k in fpn_keys for k in mapped) == 120 and "encoder.conv1.weight" in mapped
    own = {k: torch.zeros(1) for k in fpn_keys}
    assert for_network(own, fpn_keys).keys() == own.keys()  # an smp state stays as it is


# ----------------------------------------------------------------------- folders

def test_write_read_and_card(tmp_path):
    folder = _save_backbone(tmp_path / "b", method="simsiam", images=2000, studies=40,
                            duration_s=600, datasets=["/archive/chest"])
    assert sorted(p.name for p in folder.iterdir()) == ["backbone.json", "card.md", "weights.safetensors"]
    info, state = bb.read_backbone(folder)
    assert (info.name, info.version, info.architecture, info.channels) == ("tv18", "1", "resnet18", 1)
    assert len(state) == 100
    card = (folder / "card.md").read_text()
    for text in ("simsiam", "2,000 image(s) of 40 study(ies)", "/archive/chest", "10.0 minutes"):
        assert text in card
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_altered_or_wrong_weights_are_refused(tmp_path):
    folder = _save_backbone(tmp_path / "b")
    data = bytearray((folder / "weights.safetensors").read_bytes())
    data[-1] ^= 1
    (folder / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(bb.BackboneError, match="SHA-256 differs"):
        bb.read_backbone(folder)
    state, _ = to_canonical(_torchvision_state("resnet18"), "resnet18")
    with pytest.raises(bb.BackboneError, match="not a 1-channel densenet121 trunk"):
        bb.write_backbone(tmp_path / "c", state, bb.BackboneInfo(name="c", architecture="densenet121"))
    with pytest.raises(bb.BackboneError, match="not a backbone folder"):
        bb.read_backbone(tmp_path)


def test_find_list_register_and_the_model_registry_ignores_backbones(isolated, capsys):
    shipped = isolated / "shipped" / "backbones"
    _save_backbone(shipped / "tv18-1")
    _save_backbone(shipped / "tv18-2", version="2")
    assert bb.find_backbone("tv18") == shipped / "tv18-2"  # highest version
    assert bb.find_backbone("tv18", "1") == shipped / "tv18-1"
    user = bb.register_backbone(shipped / "tv18-2")  # the user copy shadows the shipped one
    assert user == isolated / "user" / "backbones" / "tv18-2" and bb.find_backbone("tv18") == user
    assert [(e.info.key, e.source) for e in bb.list_backbones()] == [
        ("tv18/1", "shipped"), ("tv18/2", "shipped"), ("tv18/2", "user")]
    with pytest.raises(bb.BackboneError, match="already installed"):
        bb.register_backbone(shipped / "tv18-2")
    with pytest.raises(bb.BackboneError, match="'nope' not found.*installed: tv18/1, tv18/2"):
        bb.find_backbone("nope")
    # not a model: the model registry (and so the AI panel) never lists it
    assert Registry().entries() == []
    assert cli.main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "no AI model is installed" in out and "Backbones (starting points" in out
    assert cli.main(["models", "backbones", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(b["name"], b["version"], b["source"]) for b in listed] == [
        ("tv18", "1", "shipped"), ("tv18", "2", "shipped"), ("tv18", "2", "user")]


# ----------------------------------------------------------------------- import

def test_import_backbone_command_from_pth_and_safetensors(isolated, tmp_path, capsys):
    from safetensors.torch import save_file

    pth = tmp_path / "resnet18.pth"
    torch.save({"state_dict": _torchvision_state("resnet18"), "epoch": torch.tensor(3)}, pth)
    assert cli.main(["models", "import-backbone", str(pth), "--name", "tv18",
                     "--architecture", "resnet18", "--register"]) == 0
    out = capsys.readouterr().out
    assert "100 tensors loaded (1 adapted), 2 skipped" in out and "'fc.weight (head)'" in out
    assert bb.read_info(bb.find_backbone("tv18")).normalisation == {"mean": [0.449], "std": [0.226]}
    st = tmp_path / "enc.safetensors"
    import segmentation_models_pytorch as smp
    save_file(smp.Unet("resnet18", encoder_weights=None).state_dict(), str(st))
    result = import_backbone(st, "from-smp", "resnet18", out=tmp_path / "from-smp")
    assert len(result.report.loaded) + len(result.report.adapted) == 100
    assert bb.read_info(result.folder).source.startswith("imported from enc.safetensors")


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_pickle_payload_is_refused_with_one_line(tmp_path, isolated, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.pth"
    torch.save({"conv1.weight": _Payload()}, evil)
    with pytest.raises(bb.BackboneError, match=r"evil.pth: refused: the file carries pickled code "
                                               r"\((posix|nt|os)\.system\)"):
        read_state_file(evil)
    assert cli.main(["models", "import-backbone", str(evil), "--name", "evil",
                     "--architecture", "resnet18", "--register"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refused" in err[0] and "evil.pth" in err[0]
    assert not (tmp_path / "pwned.txt").exists() and bb.list_backbones() == []


# ----------------------------------------------------------------------- fetch script

def _fetch_module():
    spec = importlib.util.spec_from_file_location("fetch_backbones", ROOT / "scripts" / "fetch_backbones.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fetch_table_is_torchvisions():
    fetch = _fetch_module()
    for arch, (enum, url) in fetch.OFFICIAL.items():
        weights_enum, member = enum.split(".")
        assert getattr(torchvision.models, weights_enum)[member].url == url
        assert torchvision.models.get_model_weights(arch) is getattr(torchvision.models, weights_enum)


def test_fetch_checks_hashes_and_converts_offline(tmp_path, isolated, capsys):
    fetch = _fetch_module()
    source = tmp_path / "made.pth"
    torch.save(_torchvision_state("mobilenet_v3_small"), source)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    named = tmp_path / f"mobilenet_v3_small-{digest[:8]}.pth"
    shutil.copy(source, named)
    out = isolated / "shipped" / "backbones"
    table = tmp_path / "hashes.txt"
    table.write_text(f"{digest}  {named.name}\n")
    args = ["--only", "mobilenet_v3_small", "--out", str(out), "--sha256", str(table)]
    assert fetch.main([*args, "--url", f"mobilenet_v3_small={named.as_uri()}"]) == 0
    folder = bb.find_backbone("mobilenet_v3_small-imagenet")
    info, state = bb.read_backbone(folder)
    assert folder.parent == out and len(state) == 206 and state["features.0.0.weight"].shape[1] == 1
    assert "BSD-3-Clause" in info.licence and digest in info.source
    assert "Licence:" in (folder / "card.md").read_text()
    assert [p.name for p in out.iterdir()] == ["mobilenet_v3_small-imagenet"]  # download removed
    # a wrong full hash, and a file whose name carries another hash prefix, are refused
    table.write_text(f"{'0' * 64}  {named.name}\n")
    shutil.rmtree(folder)
    assert fetch.main([*args, "--url", f"mobilenet_v3_small={named.as_uri()}"]) == 1
    assert "differs from the table" in capsys.readouterr().err
    wrong = tmp_path / "mobilenet_v3_small-047dcff4.pth"  # the official prefix, other bytes
    shutil.copy(source, wrong)
    assert fetch.main(["--only", "mobilenet_v3_small", "--out", str(out),
                       "--url", f"mobilenet_v3_small={wrong.as_uri()}"]) == 1
    assert "does not start with the published prefix 047dcff4" in capsys.readouterr().err
    assert list(out.iterdir()) == []
