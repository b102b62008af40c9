"""Jobs that start from a backbone (``model.backbone``) or from a torchvision state dict given
as ``model.weights`` to an smp network: the log says how many tensors were loaded, the card
names the source, and the backbone's normalisation is the job's default."""

from __future__ import annotations

import json

import pytest
import torch
import torchvision

from medview.inference.backbone_layout import to_canonical
from medview.inference.backbones import BackboneInfo, install_backbone
from tests.helpers.trainer_jobs import TINY_CLASSIFIER, TINY_SEGMENTER, run_in_process, write_job
from trainer.config import JobError, parse_job

NORM = {"mean": [0.4], "std": [0.3]}
RESNET18_FPN = {"architecture": "fpn", "arguments": {"encoder_name": "resnet18",
                                                     "decoder_pyramid_channels": 32,
                                                     "decoder_segmentation_channels": 32}}


def _resnet18() -> dict:
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).state_dict()


@pytest.fixture
def backbone(isolated) -> str:
    """A resnet18 backbone 'clinic-r18' in the user folder, with its own normalisation."""
    state, _ = to_canonical(_resnet18(), "resnet18")
    install_backbone(state, BackboneInfo(name="clinic-r18", architecture="resnet18", method="simsiam",
                                         normalisation=NORM, images=500))
    return "clinic-r18"


def _logs(events) -> list[str]:
    return [e.message for e in events if e.type == "log"]


def test_classifier_starts_from_a_registered_backbone(demo, tmp_path, backbone):
    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(demo / "labels.csv"),
                    model={"architecture": "resnet18", "backbone": backbone})
    code, events, run_dir = run_in_process(job)
    assert code == 0, events[-1]
    # 100 trunk tensors; the classifier's fc.weight and fc.bias start fresh
    assert "100 of 102 tensors loaded from backbone clinic-r18 1 (simsiam)" in _logs(events)
    report = json.loads((run_dir / "model" / "evaluation.json").read_text())
    assert report["parent"] == "fine-tuned from backbone clinic-r18 1 (simsiam)"
    manifest = json.loads((run_dir / "model" / "model.json").read_text())
    assert manifest["normalisation"] == NORM  # train/serve: the backbone's, as the job set none
    assert "backbone clinic-r18 1" in manifest["card"]["training_data"]


@pytest.mark.parametrize("method, factor", [("simsiam", 1.0), ("imagenet-supervised", None)])
def test_a_backbone_sets_the_input_size_and_a_self_supervised_one_the_rate(demo, tmp_path, isolated, method,
                                                                            factor):
    """A trunk that learnt from no labels is not held at a tenth of the head's rate (the
    optimiser's default for trained weights, which ``factor`` None leaves in place) and
    ramps up to it; any backbone's input size is the job's when the job sets none."""
    state, _ = to_canonical(_resnet18(), "resnet18")
    install_backbone(state, BackboneInfo(name="r18", architecture="resnet18", method=method,
                                         input_size=(96, 96)))
    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(demo / "labels.csv"),
                    model={"architecture": "resnet18", "backbone": "r18"}, input={"channels": 1}, epochs=4)
    code, events, run_dir = run_in_process(job)
    assert code == 0, events[-1]
    resolved = json.loads((run_dir / "job.resolved.json").read_text())
    assert resolved["backbone_lr_factor"] == factor
    assert ("backbone_lr_factor" in resolved["recipe"]["chosen"]) == (factor is not None)
    # at the head's rate the trunk warms up (half of 4 epochs); at a tenth it needs none
    assert resolved["warmup_epochs"] == (2 if factor else 0)
    assert ("head's rate" in resolved["recipe"]["reasons"]["warmup_epochs"]) == (factor is not None)
    # a job that sets no size trains at the size the backbone learnt at
    assert resolved["input"]["size"] == [96, 96]
    assert "learnt at 96 px" in resolved["recipe"]["reasons"]["input_size"]


def test_fpn_takes_a_backbone_as_its_encoder(demo, tmp_path, backbone):
    job = write_job(tmp_path / "run", TINY_SEGMENTER, model={**RESNET18_FPN, "backbone": backbone},
                    dataset={"path": str(demo / "segmentation"), "class_names": ["background", "lesion"]})
    code, events, run_dir = run_in_process(job)
    assert code == 0, events[-1]
    # the encoder's 100 tensors; the decoder and segmentation head (31) start fresh
    assert "100 of 131 tensors loaded from backbone clinic-r18 1 (simsiam)" in _logs(events)
    assert "backbone clinic-r18" in (run_dir / "model" / "card.md").read_text()


def test_fpn_takes_a_torchvision_state_dict_as_weights(demo, tmp_path, isolated):
    weights = tmp_path / "resnet18.pth"
    torch.save(_resnet18(), weights)
    job = write_job(tmp_path / "run", TINY_SEGMENTER, model={**RESNET18_FPN, "weights": str(weights)},
                    dataset={"path": str(demo / "segmentation"), "class_names": ["background", "lesion"]})
    code, events, _ = run_in_process(job)
    assert code == 0, events[-1]
    assert "100 of 131 tensors loaded from resnet18.pth" in _logs(events)
    assert any("input convolution adapted to 1 channel(s)" in m and "'encoder.conv1.weight'" in m
               for m in _logs(events))


def test_backbone_of_another_architecture_fails_the_job(demo, tmp_path, backbone):
    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(demo / "labels.csv"),
                    model={"architecture": "resnet34", "backbone": backbone})
    code, events, _ = run_in_process(job)
    assert code != 0
    assert "'clinic-r18/1' is a resnet18 backbone; this network needs a resnet34 one" in events[-1].reason


@pytest.mark.parametrize("model, message", [
    ({"base": "x", "backbone": "b"}, "only with 'architecture'"),
    ({"architecture": "resnet18", "backbone": "b", "weights": "w.pth"}, "either 'backbone' or 'weights'"),
    ({"architecture": "fpn", "arguments": {"encoder_name": "mobilenet_v2"}, "backbone": "b"},
     "with encoder 'mobilenet_v2' cannot start from a backbone"),
    ({"architecture": "resnet18", "backbone": "Bad Name"}, "is not a backbone name"),
])
def test_backbone_field_is_checked(model, message):
    with pytest.raises(JobError, match=message):
        parse_job({"name": "j", "dataset": "d", "model": model})
