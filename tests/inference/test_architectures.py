"""Every architecture builds offline at 64 px; bad names list the valid ones."""

from __future__ import annotations

import socket

import pytest
import torch

from medview.inference import architectures
from medview.inference.architectures import UnknownArchitectureError, get_architecture
from medview.inference.manifest import ManifestError, parse_manifest
from medview.inference.registry import build_module, check_output
from tests.helpers.builders import CLASSIFIER, SEGMENTER, manifest_data

# the torchvision families (medview's own lesion_map needs a background class: test_lesion_map.py)
CLASSIFIERS = [n for n, a in architectures.ARCHITECTURES.items()
               if a.task == "classification" and a.library == "torchvision"]
# the smp families (medview's own lesion_unet has no encoder: test_lesion_unet.py)
SEGMENTERS = [n for n, a in architectures.ARCHITECTURES.items()
              if a.task == "segmentation" and a.library == "segmentation_models_pytorch"]


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test (weights must never be fetched)."""
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_required_architectures_are_registered():
    assert {"resnet18", "resnet34", "resnet50", "densenet121", "mobilenet_v3_small",
            "mobilenet_v3_large", "efficientnet_b0"} <= set(CLASSIFIERS)
    assert {"fpn", "unet"} <= set(SEGMENTERS)


def test_unknown_name_lists_valid_names():
    with pytest.raises(UnknownArchitectureError) as info:
        get_architecture("vit_b_16")
    message = str(info.value)
    assert message.startswith("unknown architecture 'vit_b_16'; valid: ")
    assert all(name in message for name in architectures.ARCHITECTURES)
    assert get_architecture("ResNet18").name == "resnet18"  # case-insensitive


# Grey for every family (its first convolution is swapped); RGB is torchvision's own stem.
@pytest.mark.parametrize("name, channels", [(n, 1) for n in CLASSIFIERS] + [("resnet18", 3)])
def test_classifiers_build_offline_for_grey_and_rgb(name, channels, no_network):
    module = architectures.build(name, channels, 3)
    assert not module.training
    with torch.inference_mode():
        out = module(torch.zeros(2, channels, 64, 64))
    assert tuple(out.shape) == (2, 3)


@pytest.mark.parametrize("name", SEGMENTERS)
def test_segmenters_build_offline_with_resnet18_encoder(name, no_network):
    module = architectures.build(name, 1, 2, {"encoder_name": "resnet18"})
    with torch.inference_mode():
        out = module(torch.zeros(1, 1, 64, 64))
    assert tuple(out.shape) == (1, 2, 64, 64)


def test_unknown_encoder_names_field_and_lists_encoders():
    data = manifest_data(SEGMENTER, architecture={"name": "fpn",
                                                  "arguments": {"encoder_name": "resnet19"}})
    with pytest.raises(ManifestError) as info:
        build_module(parse_manifest(data))
    assert info.value.field == "architecture.arguments.encoder_name"
    assert "unknown encoder 'resnet19'" in info.value.reason
    assert "resnet18" in info.value.reason and "efficientnet-b0" in info.value.reason


def test_argument_rejected_by_builder_names_field():
    data = manifest_data(CLASSIFIER, architecture={"name": "resnet18",
                                                   "arguments": {"bogus": 1}})
    with pytest.raises(ManifestError) as info:
        build_module(parse_manifest(data))
    assert info.value.field == "architecture.arguments"
    assert "bogus" in info.value.reason


def test_input_size_must_suit_the_encoder_stride():
    data = manifest_data(SEGMENTER, input={"size": [48, 64], "channels": 1})
    with pytest.raises(ManifestError, match="field 'input.size': 48x64 must be divisible by 32"):
        build_module(parse_manifest(data))


def test_check_output_catches_a_class_count_mismatch():
    manifest = parse_manifest(CLASSIFIER)
    wrong = architectures.build("resnet18", 1, 5)
    with pytest.raises(ManifestError, match="field 'classes': network output"):
        check_output(wrong, manifest)
