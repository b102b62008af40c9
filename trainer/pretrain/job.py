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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medview.core.json_fields import Fields, did_you_mean, is_int, is_number
from medview.inference.backbone_layout import BACKBONE_ARCHITECTURES
from trainer.config import DEVICES, JobError, default_version

__all__ = ["PretrainJob", "METHODS", "DEFAULT_METHOD", "PRETRAIN_ARCHITECTURES", "parse_pretrain_job",
           "is_pretrain"]

#: Self-supervised methods (:mod:`trainer.pretrain.ssl`).
METHODS = ("simsiam", "byol", "moco")
#: The method a job gets when it names none (the measurement is in :mod:`trainer.pretrain`).
DEFAULT_METHOD = "simsiam"
#: Classifier families whose trunk becomes a backbone (torchvision layout).
PRETRAIN_ARCHITECTURES = tuple(BACKBONE_ARCHITECTURES)
_FIELDS = ("task", "id", "name", "version", "dataset", "model", "method", "input", "views", "epochs",
           "batch_size", "lr", "time_budget_minutes", "max_images", "precision", "seed", "workers",
           "device", "output", "resume", "comment")
PRECISIONS = ("auto", "float32", "bfloat16")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,31}$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class PretrainJob:
    """A validated pretrain job with every default filled in (see ``trainer/JOBS.md``).

    Attributes
    ----------
    dataset : tuple of str
        Folders (or files) of unlabelled images, absolute when the job came from a file.
    architecture : str
        Classifier family whose trunk is learnt, e.g. ``"resnet18"``.
    method : str
        One of :data:`METHODS`.
    input_size : tuple of int
        (height, width) of the images the backbone is made for (what jobs starting from it
        use by default).
    view_size : int
        Side of the views pre-training compares (see :mod:`trainer.pretrain.views`).
    view_scale : tuple of float
        Least and most share of the image's area a view's crop covers.
    lr : float or None
        None: the method's default (:mod:`trainer.pretrain.ssl`).
    time_budget_minutes : float or None
        The whole run (reading the images included) ends within it; None: no limit.
    max_images : int or None
        At most this many images (a random sample of a larger archive); None: as many as
        fit a quarter of the memory.
    """

    dataset: tuple[str, ...]
    architecture: str
    name: str
    version: str
    id: str | None = None
    method: str = DEFAULT_METHOD
    input_size: tuple[int, int] = (128, 128)
    view_size: int = 64
    view_scale: tuple[float, float] = (0.16, 0.4)
    epochs: int = 100
    batch_size: int = 32
    lr: float | None = None
    time_budget_minutes: float | None = None
    max_images: int | None = None
    precision: str = "auto"
    seed: int = 0
    workers: int | None = None
    device: str = "auto"
    output: str | None = None
    resume: bool = False
    source: str | None = None
    task: str = "pretrain"

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
    top = Fields(data, JobError)
    top.only(_FIELDS)
    folders = _dataset(top, base)
    size = _input(top)
    view_size, view_scale = _views(top, size)
    time_budget = top.number("time_budget_minutes", default=None, minimum=0.1, maximum=60 * 24 * 14)
    name = top.text("name", default=None, pattern=_NAME_RE,
                    hint="lower-case letters, digits, '.', '_' or '-', at most 64")
    workers = None if top.data.get("workers", "auto") == "auto" else top.integer("workers", minimum=0,
                                                                                 maximum=64)
    output = top.text("output", default=None)
    return PretrainJob(
        dataset=folders, architecture=_architecture(top), name=name or _default_name(folders[0]),
        version=top.text("version", default=None, pattern=_VERSION_RE, hint="e.g. 1.0.0, no spaces")
        or default_version(),
        id=top.text("id", default=None, pattern=_ID_RE, hint="letters, digits, '.', '_' or '-'"),
        method=top.choice("method", METHODS, default=DEFAULT_METHOD), input_size=size,
        view_size=view_size, view_scale=view_scale,
        epochs=top.integer("epochs", default=100, minimum=1, maximum=100000),
        batch_size=top.integer("batch_size", default=32, minimum=4, maximum=4096),
        lr=top.number("lr", default=None, minimum=1e-6, maximum=10.0),
        time_budget_minutes=time_budget,
        max_images=top.integer("max_images", default=None, minimum=8, maximum=10**8),
        precision=top.choice("precision", PRECISIONS, default="auto"),
        seed=top.integer("seed", default=0, minimum=0, maximum=2**31 - 1), workers=workers,
        device=top.choice("device", DEVICES, default="auto"),
        output=_absolute(output, base) if output else None,
        resume=top.boolean("resume", default=False), source=source)


def _dataset(top: Fields, base: Path | None) -> tuple[str, ...]:
    raw = top.get("dataset")
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        top.fail("dataset", "must be a folder of unlabelled images, or a list of folders")
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            top.fail("dataset" if isinstance(raw, str) else f"dataset[{i}]",
                     f"must name a folder (got {item!r})")
    return tuple(dict.fromkeys(_absolute(item.strip(), base) for item in items))


def _architecture(top: Fields) -> str:
    raw = top.get("model")
    if isinstance(raw, str):
        top.fail("model", f"must be {{\"architecture\": NAME}} (a pretrain job learns a backbone; "
                          f"got the model name '{raw}')")
    sec = top.section("model")
    sec.only(("architecture",))
    arch = sec.text("architecture").lower()
    if arch not in PRETRAIN_ARCHITECTURES:
        sec.fail("architecture", f"'{arch}' cannot be pre-trained{did_you_mean(arch, PRETRAIN_ARCHITECTURES)}; "
                                 f"valid: {', '.join(PRETRAIN_ARCHITECTURES)}")
    return arch


def _input(top: Fields) -> tuple[int, int]:
    sec = top.section("input", optional=True)
    sec.only(("size",))
    size = sec.get("size", 128)
    if is_int(size):
        size = [size, size]
    if not isinstance(size, list) or len(size) != 2 or not all(is_int(v) for v in size):
        sec.fail("size", "must be an integer or two integers [height, width]")
    if min(size) < 32 or max(size) > 1024:
        sec.fail("size", f"{size[0]}x{size[1]} is outside 32..1024 pixels")
    return int(size[0]), int(size[1])


def _views(top: Fields, size: tuple[int, int]) -> tuple[int, tuple[float, float]]:
    """Views half the input's side, cropped so their pixels keep about the input's scale."""
    sec = top.section("views", optional=True)
    sec.only(("size", "scale"))
    view = sec.integer("size", default=max(32, min(size) // 2), minimum=32, maximum=min(size))
    ratio = (view / min(size)) ** 2  # the share of the image at the input's scale
    raw = sec.get("scale", [round(ratio / 1.25**2, 3), round(min(1.0, ratio * 1.25**2), 3)])
    if (not isinstance(raw, list) or len(raw) != 2 or not all(is_number(v) for v in raw)
            or not 0.01 <= raw[0] <= raw[1] <= 1.0):
        sec.fail("scale", f"must be two shares of the image area, 0.01 <= low <= high <= 1 (got {raw!r})")
    return view, (float(raw[0]), float(raw[1]))


def _default_name(folder: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", Path(folder).name.lower()).strip("-._") or "archive"
    return slug[:64 - len("-backbone")] + "-backbone"


def _absolute(text: str, base: Path | None) -> str:
    p = Path(text).expanduser()
    return str(base / p if not p.is_absolute() and base is not None else p)
