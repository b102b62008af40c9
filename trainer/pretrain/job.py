"""The pretrain job: its fields, defaults and validation (field-named errors, no torch).

A job with ``"task": "pretrain"`` learns a backbone from unlabelled images
(:mod:`trainer.pretrain`); :func:`trainer.config.parse_job` hands such a job to
:func:`parse_pretrain_job`, so every entry point (``python -m trainer``, ``medview
train``, the job queue, the trainer tab) validates it the same way. ``trainer/JOBS.md``
("Pre-training a backbone") documents the fields::

    {"task": "pretrain", "name": "chest-archive", "dataset": ["D:/archive/2023", "D:/archive/2024"],
     "model": {"architecture": "resnet18"}, "input": {"size": 128}, "time_budget_minutes": 480}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from medview.core.schema import Meta, did_you_mean, parse
from medview.inference.backbone_layout import BACKBONE_ARCHITECTURES
from medview.inference.backbones import SELF_SUPERVISED
from medview.inference.manifest import Name, Version
from trainer.job_common import Device, Id, JobError, Seed, default_version, input_size

__all__ = ["PretrainJob", "METHODS", "DEFAULT_METHOD", "PRETRAIN_ARCHITECTURES", "parse_pretrain_job",
           "is_pretrain"]

#: Self-supervised methods (:mod:`trainer.pretrain.ssl`).
Method = Literal[SELF_SUPERVISED]  # simsiam, byol, moco
METHODS = get_args(Method)
#: The method a job gets when it names none (the measurement is in :mod:`trainer.pretrain`).
DEFAULT_METHOD = "simsiam"
#: Classifier families whose trunk becomes a backbone (torchvision layout).
PRETRAIN_ARCHITECTURES = tuple(BACKBONE_ARCHITECTURES)
Precision = Literal["auto", "float32", "bfloat16"]
PRECISIONS = get_args(Precision)


@dataclass(frozen=True)
class PretrainModel:
    """The ``model`` of a pretrain job: the classifier family whose trunk is learnt."""

    architecture: Annotated[str, Meta(description="`resnet18`, `resnet34`, `resnet50`, "
                                                  "`densenet121`, `mobilenet_v3_small`, "
                                                  "`mobilenet_v3_large` or `efficientnet_b0`")]


@dataclass(frozen=True)
class PretrainInput:
    """The image size the backbone is made for."""

    size: Annotated[int | tuple[int, int], Meta(
        description="`S` or `[H, W]`, 32 … 1024 pixels",
        extra={"reason": "must be an integer or two integers [height, width]"})] = 128


@dataclass(frozen=True)
class ViewSpec:
    """The views pre-training compares."""

    size: Annotated[Annotated[int, Meta(ge=32)] | None, Meta(
        description="side of the views", extra={"default": "half the input's side"})] = None
    scale: Annotated[tuple[float, float] | None, Meta(
        description="`[LOW, HIGH]`: least and most share of the image area a view's crop covers",
        extra={"default": "crops whose pixels keep about the input's scale",
               "reason": "must be two shares of the image area, 0.01 <= low <= high <= 1"})] = None


@dataclass(frozen=True)
class PretrainJob:
    """A pretrain job (``trainer/JOBS.md``, "Pre-training a backbone"): the declaration of
    the file and, once :func:`parse_pretrain_job` has filled in every default, the job.

    ``input.size`` is (height, width) once parsed; ``views`` holds the view side and the
    least and most share of the image's area a view's crop covers.
    """

    task: Annotated[Literal["pretrain"], Meta(description="`\"pretrain\"`")]
    dataset: Annotated[str | tuple[str, ...], Meta(
        description="a folder or a list of folders of unlabelled DICOM / PNG / JPEG, searched "
                    "recursively (DICOMDIRs followed); files that cannot be read are skipped, "
                    "one `log` warning each (the first 20, then a count)",
        extra={"check": _dataset})]
    model: Annotated[PretrainModel, Meta(
        description="`{\"architecture\": A}`: `resnet18`, `resnet34`, `resnet50`, `densenet121`, "
                    "`mobilenet_v3_small`, `mobilenet_v3_large`, `efficientnet_b0` (its trunk "
                    "becomes the backbone; one grey input channel)",
        extra={"reason": "must be {\"architecture\": NAME} (a pretrain job learns a backbone)"})]
    name: Annotated[Name | None, Meta(description="name of the backbone",
                                      extra={"default": "the first folder's name + "
                                                        "`-backbone`"})] = None
    version: Annotated[Version | None, Meta(description="version of the backbone",
                                            extra={"default": "as for training"})] = None
    id: Annotated[Id | None, Meta(description="job id in every event",
                                  extra={"default": "as for training"})] = None
    method: Annotated[Method, Meta(description="`simsiam`, `byol` or `moco` (below)")] = DEFAULT_METHOD
    input: Annotated[PretrainInput, Meta(
        description="the image size the backbone is made for: jobs starting from it use it "
                    "unless they set their own", extra={"default": "`{\"size\": 128}`"})] = PretrainInput()
    views: Annotated[ViewSpec, Meta(
        description="`{\"size\": S, \"scale\": [LOW, HIGH]}`: side of the views compared, and "
                    "the share of the image area each view's crop covers",
        extra={"default": "half the input's side, at its scale"})] = ViewSpec()
    epochs: Annotated[int, Meta(ge=1, le=100000, description="passes over the images (each "
                                                             "gives two views)")] = 100
    batch_size: Annotated[int, Meta(ge=4, le=4096, description="images per step (global under "
                                                               "torchrun)")] = 32
    lr: Annotated[Annotated[float, Meta(ge=1e-6, le=10.0)] | None, Meta(
        description="SGD learning rate (momentum 0.9, warm-up then cosine to 0)",
        extra={"default": "0.05 × batch / 256"})] = None
    time_budget_minutes: Annotated[Annotated[float, Meta(ge=0.1, le=60 * 24 * 14)] | None, Meta(
        description="the whole run, reading the images included, ends within it: the learning "
                    "rate anneals to the end of the budget, and the run stops there and writes "
                    "the backbone")] = None
    max_images: Annotated[Annotated[int, Meta(ge=8, le=10**8)] | None, Meta(
        description="learn from a random sample of at most this many images",
        extra={"default": "as fit ¼ of the memory"})] = None
    precision: Annotated[Precision, Meta(
        description="`auto` (bfloat16 on a GPU that has it and on CPUs with native bfloat16, "
                    "AVX512-BF16 / AMX; else float32), `float32`, `bfloat16`")] = "auto"
    seed: Annotated[Seed, Meta(description="as for training")] = 0
    workers: Annotated[Literal["auto"] | Annotated[int, Meta(ge=0, le=64)] | None, Meta(
        description="as for training", extra={"default": "`auto`",
                                              "reason": "must be an integer or 'auto'"})] = None
    device: Annotated[Device, Meta(description="as for training")] = "auto"
    output: Annotated[str | None, Meta(description="as for training")] = None
    resume: Annotated[bool, Meta(description="as for training")] = False
    comment: Annotated[str, Meta(description="free text for people; ignored")] = ""
    source: Annotated[str | None, Meta(extra={"internal": True})] = None

    @property
    def architecture(self) -> str:
        """Classifier family whose trunk is learnt, e.g. ``"resnet18"``."""
        return self.model.architecture

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the images the backbone is made for."""
        return self.input.size

    @property
    def view_size(self) -> int:
        """Side of the views pre-training compares (see :mod:`trainer.pretrain.views`)."""
        return self.views.size

    @property
    def view_scale(self) -> tuple[float, float]:
        """Least and most share of the image's area a view's crop covers."""
        return self.views.scale

    @property
    def channels(self) -> int:
        """Backbones take one grey channel (an RGB model adapts the first convolution)."""
        return 1

    @property
    def label(self) -> str:
        """Short description for events: ``"resnet18 (simsiam)"``."""
        return f"{self.architecture} ({self.method})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, every default explicit (saved as ``job.resolved.json``)."""
        return {"task": self.task, "id": self.id, "name": self.name, "version": self.version,
                "dataset": list(self.dataset), "model": {"architecture": self.architecture},
                "method": self.method, "input": {"size": list(self.input_size)},
                "views": {"size": self.view_size, "scale": list(self.view_scale)}, "epochs": self.epochs,
                "batch_size": self.batch_size, "lr": self.lr,
                "time_budget_minutes": self.time_budget_minutes, "max_images": self.max_images,
                "precision": self.precision, "seed": self.seed, "workers": self.workers, "device": self.device,
                "output": self.output, "resume": self.resume}


def is_pretrain(data: Any) -> bool:
    """Whether parsed job JSON asks for pre-training (``"task": "pretrain"``)."""
    return isinstance(data, dict) and isinstance(data.get("task"), str) \
        and data["task"].strip().lower() == "pretrain"


def parse_pretrain_job(data: Any, base_dir: str | Path | None = None,
                       source: str | None = None) -> PretrainJob:
    """Validate a pretrain job (the parsed JSON) into a :class:`PretrainJob`.

    Parameters
    ----------
    data : dict
        The job object, with ``"task": "pretrain"``.
    base_dir : str or Path, optional
        Folder that relative paths (dataset, output) are relative to.
    source : str, optional
        The job file, recorded for messages.

    Raises
    ------
    trainer.config.JobError
        For the first missing, unknown or invalid field.
    """
    base = Path(base_dir) if base_dir is not None else None
    if isinstance(data, dict) and isinstance(data.get("model"), str):
        raise JobError("model", f"must be {{\"architecture\": NAME}} (a pretrain job learns a "
                                f"backbone; got the model name '{data['model']}')")
    job = parse(data, PretrainJob, JobError)
    arch = job.architecture.lower()
    if arch not in PRETRAIN_ARCHITECTURES:
        raise JobError("model.architecture", f"'{arch}' cannot be pre-trained"
                       f"{did_you_mean(arch, PRETRAIN_ARCHITECTURES)}; valid: {', '.join(PRETRAIN_ARCHITECTURES)}")
    folders = tuple(dict.fromkeys(_absolute(item, base) for item in job.dataset))
    size = input_size(job.input.size, "input.size", maximum=1024)
    return replace(
        job, dataset=folders, model=PretrainModel(arch), input=PretrainInput(size),
        views=_views(job.views, size), name=job.name or _default_name(folders[0]),
        version=job.version or default_version(),
        workers=None if job.workers == "auto" else job.workers,
        output=_absolute(job.output, base) if job.output else None, source=source)


def _dataset(reader, raw: Any, path: str) -> tuple[str, ...]:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        reader.fail(path, "must be a folder of unlabelled images, or a list of folders")
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            reader.fail(path if isinstance(raw, str) else f"{path}[{i}]",
                        f"must name a folder (got {item!r})")
    return tuple(item.strip() for item in items)


def _views(views: ViewSpec, size: tuple[int, int]) -> ViewSpec:
    """Views half the input's side, cropped so their pixels keep about the input's scale."""
    side = max(32, min(size) // 2) if views.size is None else views.size
    if side > min(size):
        raise JobError("views.size", f"must be at most {min(size)} (got {side})")
    ratio = (side / min(size)) ** 2  # the share of the image at the input's scale
    scale = views.scale or (round(ratio / 1.25**2, 3), round(min(1.0, ratio * 1.25**2), 3))
    if not 0.01 <= scale[0] <= scale[1] <= 1.0:
        raise JobError("views.scale", "must be two shares of the image area, 0.01 <= low <= high "
                                      f"<= 1 (got {list(scale)!r})")
    return ViewSpec(side, scale)


def _default_name(folder: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", Path(folder).name.lower()).strip("-._") or "archive"
    return slug[:64 - len("-backbone")] + "-backbone"


def _absolute(text: str, base: Path | None) -> str:
    p = Path(text).expanduser()
    return str(base / p if not p.is_absolute() and base is not None else p)
