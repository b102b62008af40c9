"""The network a job trains: built from an architecture or a registered base model, given
its starting weights, and split into backbone and head (for freezing and the backbone's
lower learning rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from trainer.errors import JobFailed

__all__ = ["Network", "build_network", "random_network", "backbone_and_head", "MIN_BN_MOMENTUM"]

#: Least momentum of BatchNorm running statistics while training (see _faster_batchnorm).
MIN_BN_MOMENTUM = 0.1


@dataclass
class Network:
    """A built network and what the run needs to know about it.

    Attributes
    ----------
    manifest : Manifest
        The model's manifest (card and weights are filled in at the end of the run).
    module : torch.nn.Module
        On the training device.
    binary_seg : bool
        Two-class segmentation: one sigmoid output for the foreground class.
    parent : str
        Where the starting weights came from, for the card and the report.
    pretrained : bool
        Starts from trained weights (the backbone then learns at a lower rate unless the
        job or the recipe says otherwise).
    backbone : module or None
        What freezing puts in eval mode (None: the network has no recognisable head).
    backbone_params, head_params : list
        The parameters of each.
    """

    manifest: Any
    module: Any
    binary_seg: bool
    parent: str
    pretrained: bool
    backbone: Any
    backbone_params: list
    head_params: list


def build_network(job, ds, device, sink) -> Network:
    """Build the job's network for the data set's task and classes, on ``device``.

    Parameters
    ----------
    job : Job
    ds : LabelledDataset
    device : torch.device
    sink : EventSink
        Says how many tensors the starting weights filled.

    Raises
    ------
    JobFailed
        If the model fields are invalid, the base model or weights cannot be loaded, or
        no starting tensor fits the architecture.
    """
    from medview.inference.backbone_layout import for_network
    from medview.inference.manifest import ManifestError, ModelError, parse_manifest
    from medview.inference.registry import build_module
    from trainer.start_weights import load_start_weights, output_classes

    task = ds.task
    binary_seg = task == "segmentation" and len(ds.classes) == 2
    out_classes = output_classes(task, ds.classes)
    init_state, init_source = None, None
    base_classes = None
    if job.model.base:
        base, state, init_source = _base_model(job)
        base_classes = list(base.classes)
        if base.task != task:
            raise JobFailed(f"model.base '{base.name}' is a {base.task} model but the data set is "
                            f"for {task}")
        data = base.to_dict()
        data.update(name=job.name, version=job.version, classes=out_classes, thresholds={},
                    weights={"file": "weights.safetensors"})
        for key in ("onnx", "int8"):  # the base's graphs and their figures, not this model's
            data.pop(key, None)
        data["architecture"] = {**data["architecture"], "arguments": background_for(
            data["architecture"].get("arguments", {}), base_classes, out_classes, job.positive_class)}
        data["output"] = {"activation": "sigmoid" if binary_seg else "softmax"}
        init_state = state
    else:
        backbone = _backbone(job) if job.model.backbone else None
        size = job.input_size or ((224, 224) if task == "classification" else (256, 256))
        channels = job.channels or (backbone[0].channels if backbone else 1)
        data = {
            "name": job.name, "version": job.version, "task": task,
            "architecture": {"name": job.model.architecture, "arguments": dict(job.model.arguments)},
            "classes": out_classes, "input": {"size": list(size), "channels": channels},
            "normalisation": job.normalisation or _default_normalisation(backbone, channels),
            "preprocessing": job.preprocessing or (backbone[0].preprocessing if backbone
                                                   else {"window": "auto", "resize": "letterbox"}),
            "output": {"activation": "sigmoid" if binary_seg else "softmax"},
        }
        if backbone:
            info, init_state = backbone
            init_source = f"backbone {info.name} {info.version} ({info.method or info.source})"
        elif job.model.weights:
            init_state, init_source = _user_weights(job, job.model.weights), Path(job.model.weights).name
    data["card"] = {"intended_use": job.card.intended_use, "training_data": "(filled in at the end)",
                    "date": date.today().isoformat()}
    try:
        manifest = parse_manifest(data, fallback_name=job.name)
        module = build_module(manifest)
    except ManifestError as err:
        raise JobFailed(f"job field '{_job_field(err.field)}': {err.reason}") from None
    except ModelError as err:
        raise JobFailed(str(err)) from None
    parent = (f"fine-tuned from {init_source}" if init_source else
              f"trained from random initialisation ({manifest.architecture.name})")
    fresh: list[str] = []
    if init_state is not None:
        if not job.model.base:  # torchvision / timm / smp layouts onto this network's names
            init_state = for_network(init_state, module.state_dict())
        fresh = load_start_weights(module, init_state, init_source, manifest.input.channels,
                                   list(manifest.classes), sink, base_classes,
                                   job.model.class_map).fresh
    elif job.freeze_epochs:
        sink.log("warning", f"the backbone is frozen for {job.freeze_epochs} epoch(s) but starts "
                            "from random weights, so only the head learns then; start from a "
                            "trained model (model.base or model.backbone) or set freeze_epochs to 0")
    module.to(device)
    _faster_batchnorm(module)
    backbone, backbone_params, head_params = backbone_and_head(module)
    if init_state is not None:
        backbone_params, head_params = _fresh_never_frozen(module, fresh, backbone_params, head_params,
                                                           job.freeze_epochs, sink)
    return Network(manifest, module, binary_seg, parent, init_state is not None, backbone,
                   backbone_params, head_params)


def random_network(net: Network, device) -> Network:
    """The same network (manifest, input, classes) with random weights, on ``device``: the
    other side of the start check (:mod:`trainer.start_check`)."""
    from medview.inference.registry import build_module

    module = build_module(net.manifest)
    module.to(device, memory_format=memory_format(net.module))
    _faster_batchnorm(module)
    backbone, backbone_params, head_params = backbone_and_head(module)
    return Network(net.manifest, module, net.binary_seg,
                   f"trained from random initialisation ({net.manifest.architecture.name})", False,
                   backbone, backbone_params, head_params)


def memory_format(module):
    """``torch.channels_last`` when the module's convolutions are in that layout (see
    ``trainer.trainings._speed``), else ``torch.contiguous_format``."""
    import torch

    nhwc = any(p.dim() == 4 and not p.is_contiguous() and p.is_contiguous(memory_format=torch.channels_last)
               for p in module.parameters())
    return torch.channels_last if nhwc else torch.contiguous_format


def _base_model(job):
    from medview.inference.manifest import ModelError
    from medview.inference.registry import Registry

    spec = job.model
    try:
        loaded = Registry().load(spec.base, spec.base_version)
    except ModelError as err:
        raise JobFailed(f"job field 'model': {err}") from None
    m = loaded.manifest
    sha = f", weights {m.weights.sha256[:12]}" if m.weights.sha256 else ""
    return m, loaded.module.state_dict(), f"{m.name} {m.version}{sha}"


def _backbone(job):
    """(info, tensors) of the job's ``model.backbone``, checked against its architecture."""
    from medview.inference.backbone_layout import family_of
    from medview.inference.backbones import BackboneError, find_backbone, read_backbone

    spec = job.model
    try:
        info, state = read_backbone(find_backbone(spec.backbone, spec.backbone_version))
    except BackboneError as err:
        raise JobFailed(f"job field 'model.backbone': {err}") from None
    family = family_of(spec.architecture, spec.arguments)
    if info.architecture != family:
        raise JobFailed(f"job field 'model.backbone': '{info.key}' is a {info.architecture} backbone; "
                        f"this network needs a {family} one (model.architecture"
                        f"{'' if family == spec.architecture else '.arguments.encoder_name'})")
    return info, state


def _default_normalisation(backbone, channels: int) -> dict:
    """The backbone's normalisation (what its trunk learnt with), else the trainer's default."""
    if backbone is None:
        return {"mean": [0.5] * channels, "std": [0.25] * channels}
    norm = backbone[0].normalisation
    if len(norm["mean"]) == channels:
        return dict(norm)
    # a grey backbone in an RGB job (or back): the same value on every channel
    return {k: [sum(norm[k]) / len(norm[k])] * channels for k in ("mean", "std")}


def _user_weights(job, path: str) -> dict:
    from medview.inference import weights
    from medview.inference.manifest import ModelError

    p = Path(path)
    try:
        if p.suffix.lower() == ".safetensors":
            return weights.read_safetensors(p, job.name)
        return weights.read_legacy_pth(p, job.name)
    except ModelError as err:
        raise JobFailed(f"job field 'model.weights': {err}") from None


def _fresh_never_frozen(module, fresh: list[str], backbone_params: list, head_params: list,
                       freeze_epochs: int, sink) -> tuple[list, list]:
    """Move freshly initialised backbone parameters to the head group.

    Freezing keeps what was learnt; a random layer frozen inside the backbone would stay
    random for the frozen epochs (the whole run under the quick preset).
    """
    names = set(fresh)
    ids = {id(p) for n, p in module.named_parameters() if n in names}
    moved = [p for p in backbone_params if id(p) in ids]
    if not moved:
        return backbone_params, head_params
    if freeze_epochs:
        sink.log("warning", f"{len(moved)} fresh (random) parameter tensor(s) of the backbone "
                            "learn from the start at the head's rate: freezing never holds a "
                            "freshly initialised layer")
    return [p for p in backbone_params if id(p) not in ids], head_params + moved


def background_for(arguments: dict, base_classes: list[str], classes: list[str],
                   positive: str | None) -> dict:
    """A base model's architecture arguments with its ``background_class`` (a map-deciding
    classifier: :mod:`medview.inference.lesion_map`, top-k pooling) pointing at the same
    class among the data set's ``classes``, which may be ordered or named otherwise: by
    name, else the negative class of two (as the recipe chooses it).

    Raises
    ------
    JobFailed
        When neither finds it (more than two classes, none named as the base's background).
    """
    if "background_class" not in arguments:
        return arguments
    name = base_classes[arguments["background_class"]]
    if name in classes:
        index = classes.index(name)
    elif len(classes) == 2:
        from trainer.metrics import positive_index

        index = 1 - positive_index(classes, positive)
    else:
        raise JobFailed(f"model.base decides against its background class '{name}', which this data set "
                        f"does not have (classes {', '.join(classes)}); name a class '{name}'")
    return {**arguments, "background_class": index}


def _job_field(manifest_field: str) -> str:
    """The job field behind a manifest field (the trainer writes the manifest from the job)."""
    if manifest_field.startswith("architecture.arguments"):
        return "model.arguments" + manifest_field[len("architecture.arguments"):]
    if manifest_field == "architecture.name":
        return "model.architecture"
    return manifest_field


def _faster_batchnorm(module) -> None:
    """Let BatchNorm running statistics follow the data at momentum 0.1 or more.

    torchvision's MobileNetV3 and EfficientNet use 0.01, tuned for ImageNet's million
    images; on a clinic's few hundred images (a few dozen steps per epoch) their running
    statistics would hardly move, and the network would validate and serve with
    statistics of nothing (constant outputs). Only the training-time update speed
    changes; the saved weights and the architecture stay as they are.
    """
    from torch import nn

    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.momentum is not None \
                and m.momentum < MIN_BN_MOMENTUM:
            m.momentum = MIN_BN_MOMENTUM


def backbone_and_head(module) -> tuple[Any, list, list]:
    """(backbone module or None, backbone parameters, head parameters) of a network.

    smp networks: the ``encoder`` is the backbone, decoder and segmentation head learn
    from the start. torchvision classifiers: the final ``fc``/``classifier`` is the
    head, everything else the backbone.
    """
    if hasattr(module, "encoder"):
        backbone = module.encoder
    else:
        head_name = next((n for n in ("fc", "classifier", "head", "heads") if hasattr(module, n)), None)
        if head_name is None:
            return None, [], list(module.parameters())
        head = getattr(module, head_name)
        head_ids = {id(p) for p in head.parameters()}
        back = [p for p in module.parameters() if id(p) not in head_ids]
        return _Others(module, head_name), back, list(head.parameters())
    back_ids = {id(p) for p in backbone.parameters()}
    return backbone, list(backbone.parameters()), [p for p in module.parameters() if id(p) not in back_ids]


class _Others:
    """The modules of a torchvision classifier other than its head (to put them in eval mode)."""

    def __init__(self, module, head_name: str) -> None:
        self.children = [m for n, m in module.named_children() if n != head_name]

    def eval(self) -> None:
        for m in self.children:
            m.eval()
