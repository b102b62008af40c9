"""The training job: its JSON schema, presets and validation with field-named errors.

A job is one JSON object (``trainer/JOBS.md`` documents every field with examples).
:func:`parse_job` turns it into a frozen :class:`Job` with every default filled in, or
raises :class:`JobError` naming the first bad field, e.g.::

    JobError: job field 'optimizer': must be one of adam, adamw, sgd (got 'adm'; did you mean 'adam'?)

No torch here: the trainer tab validates jobs before it queues them.

Hyper-parameters the job leaves out are ``None`` here: the recipe
(:mod:`trainer.recipe`) chooses them at run time from the data set's fingerprint, the
machine's speed and the time budget. Any field the job sets wins. Presets set the
budget and the start check:

* ``"quick"`` — 10 minutes; a start from trained weights is checked against random
  initialisation and the better on validation is kept;
* ``"full"`` — 30 minutes;
* ``"advanced"`` — as ``"full"``; the trainer tab shows (and so sets) every field.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from medview.core.json_fields import Fields, did_you_mean, is_number
from medview.inference.scope import IntendedInput
from trainer.job_common import DEVICES, JobError, default_version, input_size

__all__ = [
    "JobError", "Job", "DatasetSpec", "ModelSpec", "SplitSpec", "AugmentSpec", "ThresholdSpec",
    "CardSpec", "PRESETS", "OPTIMIZERS", "SCHEDULERS", "MONITORS", "parse_job", "load_job", "read_job_file",
    "run_dir_for", "default_version",
]

PRESETS = ("quick", "full", "advanced")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("cosine", "plateau", "step", "none")
MONITORS = ("auto", "accuracy", "balanced_accuracy", "auc", "val_loss", "dice", "iou")
TASKS = ("classification", "segmentation")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,31}$")

#: Time budget of each preset in minutes (trainer/JOBS.md, "Time budget").
PRESET_BUDGET_MINUTES = {"quick": 10.0, "full": 30.0, "advanced": 30.0}

DEFAULT_INTENDED_USE = ("Research and demonstration only: fine-tuned on a clinic's own labelled "
                        "images and not validated for clinical use.")




@dataclass(frozen=True)
class DatasetSpec:
    """Where the labelled images are.

    ``path`` is a folder of class folders, a labels CSV (``path,label[,patient_id]``) or
    a folder with ``images/`` and ``masks/``; ``class_names`` names segmentation classes
    by mask value (background first); ``check_pixels`` decodes every image while
    discovering (slower; bad files are listed before training starts).
    """

    path: str
    class_names: tuple[str, ...] | None = None
    check_pixels: bool = False


@dataclass(frozen=True)
class ModelSpec:
    """The starting model: a registered ``base`` (name, optional version), or an
    ``architecture`` with random weights or local ``weights`` (.safetensors or .pth).

    ``class_map`` (base only) says which output of the base model each class of the data
    set starts from (``{"new": "old"}``, ``null`` for a fresh output), for when the class
    names differ; equal class sets are matched by name without it.

    ``backbone`` (architecture only, not with ``weights``) names a registered backbone
    (:mod:`medview.inference.backbones`) whose trunk the network starts from.
    """

    base: str | None = None
    base_version: str | None = None
    architecture: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    weights: str | None = None
    class_map: dict[str, str | None] | None = None
    backbone: str | None = None
    backbone_version: str | None = None

    @property
    def label(self) -> str:
        """Short name for events and the model card."""
        if self.base:
            return self.base + (f"/{self.base_version}" if self.base_version else "")
        return self.architecture or "?"


@dataclass(frozen=True)
class SplitSpec:
    """Shares of the validation and test sets (whole patients) and the split seed."""

    val: float = 0.15
    test: float = 0.15
    seed: int = 0


@dataclass(frozen=True)
class AugmentSpec:
    """Random changes applied identically to an image and its mask while training.

    ``rotate`` in degrees (±), ``scale`` as a fraction (±), ``brightness`` and
    ``contrast`` as fractions of the [0, 1] intensity range (±).
    """

    flip: bool = True
    vflip: bool = False
    rotate: float = 10.0
    scale: float = 0.1
    brightness: float = 0.1
    contrast: float = 0.1

    @property
    def enabled(self) -> bool:
        return bool(self.flip or self.vflip or self.rotate or self.scale or self.brightness
                    or self.contrast)


@dataclass(frozen=True)
class ThresholdSpec:
    """How the decision threshold of a binary classifier is chosen on the validation set."""

    method: str = "youden"
    target_sensitivity: float | None = None


@dataclass(frozen=True)
class CardSpec:
    """Model-card text supplied by the job (the rest is filled in from the run)."""

    intended_use: str = DEFAULT_INTENDED_USE
    limitations: str = ""
    authors: str = ""
    demo: bool = False


@dataclass(frozen=True)
class Job:
    """A validated training job with every default filled in (see ``trainer/JOBS.md``)."""

    dataset: DatasetSpec
    model: ModelSpec
    name: str
    version: str
    id: str | None = None
    task: str | None = None
    preset: str = "full"
    input_size: tuple[int, int] | None = None
    channels: int | None = None
    preprocessing: dict[str, Any] | None = None
    normalisation: dict[str, Any] | None = None
    # None: chosen by the recipe at run time (trainer.recipe), from the data and the budget.
    epochs: int | None = None
    freeze_epochs: int | None = None
    batch_size: int | None = None
    optimizer: str = "adamw"
    lr: float | None = None
    backbone_lr_factor: float | None = None
    weight_decay: float = 1e-4
    momentum: float = 0.9
    scheduler: str = "cosine"
    warmup_epochs: int | None = None
    step_size: int = 10
    gamma: float = 0.1
    plateau_patience: int = 3
    early_stopping: int | None = None
    min_delta: float = 0.0
    monitor: str = "auto"
    class_weights: str | tuple[float, ...] = "balanced"
    augment: AugmentSpec | None = None
    #: Minutes the whole run may take (None: no limit; the epochs were given).
    time_budget_minutes: float | None = None
    #: Weight of the auxiliary mask loss of a classifier whose data set has masks (0: off).
    mask_weight: float = 0.5
    #: A start from trained weights is also trained from random init; the better is kept.
    compare_with_scratch: bool = False
    split: SplitSpec = SplitSpec()
    threshold: ThresholdSpec = ThresholdSpec()
    positive_class: str | None = None
    seed: int = 0
    workers: int | None = None
    cache: bool | None = None
    device: str = "auto"
    output: str | None = None
    card: CardSpec = CardSpec()
    #: What the model is for (manifest ``intended_input``); None: derived from the data set.
    intended_input: IntendedInput | None = None
    resume: bool = False
    weights_precision: str = "float32"
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, every default explicit (saved next to the run as ``job.resolved.json``)."""
        data = asdict(self)
        data["model"] = {k: v for k, v in data["model"].items() if v not in (None, {})}
        data["input"] = {"size": list(self.input_size) if self.input_size else None,
                         "channels": self.channels}
        del data["input_size"], data["channels"], data["source"]
        if isinstance(self.class_weights, tuple):
            data["class_weights"] = list(self.class_weights)
        return data


# ----------------------------------------------------------------------- reading

def load_job(path: str | Path) -> Job:
    """Read and validate a job file.

    Raises
    ------
    JobError
        For a missing or unreadable file, invalid JSON or any invalid field. Relative
        paths inside the job are taken relative to the job file's folder.
    """
    path = Path(path)
    return parse_job(read_job_file(path), base_dir=path.parent, source=str(path))


def read_job_file(path: str | Path) -> Any:
    """The parsed JSON of a job file, not validated yet.

    Raises
    ------
    JobError
        For a missing or unreadable file or invalid JSON (field ``(file)``).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise JobError("(file)", f"{path}: not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise JobError("(file)", f"{path}: cannot be read ({err})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise JobError("(file)", f"{path}: invalid JSON at line {err.lineno} column {err.colno}: "
                                 f"{err.msg}") from None
    return data


def parse_job(data: Any, base_dir: str | Path | None = None, source: str | None = None) -> Job:
    """Validate job data (the parsed JSON) into a :class:`Job`.

    A job with ``"task": "pretrain"`` becomes a :class:`trainer.pretrain.job.PretrainJob`
    instead (its fields are its own; ``trainer/JOBS.md``).

    Parameters
    ----------
    data : dict
        The job object.
    base_dir : str or Path, optional
        Folder that relative paths (dataset, weights, output) are relative to.
    source : str, optional
        The job file, recorded for messages.

    Raises
    ------
    JobError
        For the first missing, unknown or invalid field.
    """
    from trainer.pretrain.job import is_pretrain, parse_pretrain_job

    if is_pretrain(data):  # self-supervised pre-training has fields of its own
        return parse_pretrain_job(data, base_dir, source)
    base = Path(base_dir) if base_dir is not None else None
    top = Fields(data, JobError)
    if "search" in top.keys():  # a search job reaches the trainer by mistake: say what runs it
        top.fail("search", "this job is a hyper-parameter search; run it with 'python -m trainer.search.job' "
                           "or 'medview search' (trainer/JOBS.md)")
    top.only(("id", "name", "version", "task", "dataset", "model", "input", "preprocessing",
              "normalisation", "preset", "epochs", "freeze_epochs", "batch_size", "optimizer", "lr",
              "backbone_lr_factor", "weight_decay", "momentum", "scheduler", "warmup_epochs", "step_size",
              "gamma", "plateau_patience", "early_stopping", "min_delta", "monitor", "class_weights",
              "augment", "split", "threshold", "positive_class", "seed", "workers", "cache",
              "device", "output", "card", "intended_input", "resume", "weights_precision",
              "time_budget_minutes", "mask_weight", "compare_with_scratch", "comment"))
    preset = top.choice("preset", PRESETS, default="full")
    dataset = _dataset(top, base)
    model = _model(top, base)
    task = top.choice("task", TASKS + ("pretrain",), default=None)  # pretrain: dispatched above
    name = top.text("name", default=None, pattern=_NAME_RE,
                    hint="lower-case letters, digits, '.', '_' or '-', at most 64")
    if name is None:
        name = _default_name(dataset.path, task)
    version = top.text("version", default=None, pattern=_VERSION_RE, hint="e.g. 1.0.0, no spaces")
    size, channels = _input(top, model)
    preprocessing = top.mapping("preprocessing", default=None)
    normalisation = top.mapping("normalisation", default=None)
    if model.base and (preprocessing is not None or normalisation is not None):
        top.fail("preprocessing" if preprocessing is not None else "normalisation",
                 "a registered base model keeps its own preprocessing (train and serve must "
                 "match); remove this field or start from an architecture")
    epochs = top.integer("epochs", default=None, minimum=1, maximum=10000)
    freeze = top.integer("freeze_epochs", default=None, minimum=0)
    if freeze is not None and epochs is not None and freeze > epochs:
        top.fail("freeze_epochs", f"must be at most epochs ({epochs}), got {freeze}")
    job = Job(
        dataset=dataset, model=model, name=name,
        version=version or default_version(),
        id=top.text("id", default=None, pattern=re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"),
                    hint="letters, digits, '.', '_' or '-'"),
        task=task, preset=preset, input_size=size, channels=channels,
        preprocessing=preprocessing, normalisation=normalisation,
        epochs=epochs, freeze_epochs=freeze,
        batch_size=top.integer("batch_size", default=None, minimum=1, maximum=4096),
        optimizer=top.choice("optimizer", OPTIMIZERS, default="adamw"),
        lr=top.number("lr", default=None, minimum=1e-8, maximum=10.0),
        backbone_lr_factor=top.number("backbone_lr_factor", default=None, minimum=0.0, maximum=10.0),
        weight_decay=top.number("weight_decay", default=1e-4, minimum=0.0, maximum=1.0),
        momentum=top.number("momentum", default=0.9, minimum=0.0, maximum=0.999),
        scheduler=top.choice("scheduler", SCHEDULERS, default="cosine"),
        warmup_epochs=top.integer("warmup_epochs", default=None, minimum=0, maximum=10000),
        step_size=top.integer("step_size", default=10, minimum=1),
        gamma=top.number("gamma", default=0.1, minimum=1e-6, maximum=1.0),
        plateau_patience=top.integer("plateau_patience", default=3, minimum=0),
        early_stopping=top.integer("early_stopping", default=None, minimum=0),
        min_delta=top.number("min_delta", default=0.0, minimum=0.0, maximum=1.0),
        monitor=top.choice("monitor", MONITORS, default="auto"),
        class_weights=_class_weights(top),
        augment=_augment(top),
        time_budget_minutes=_budget(top, preset, epochs),
        mask_weight=top.number("mask_weight", default=0.5, minimum=0.0, maximum=10.0),
        compare_with_scratch=top.boolean("compare_with_scratch", default=preset == "quick"),
        split=_split(top.section("split", optional=True)),
        threshold=_threshold(top.section("threshold", optional=True)),
        positive_class=top.text("positive_class", default=None),
        seed=top.integer("seed", default=0, minimum=0, maximum=2**31 - 1),
        workers=_auto_int(top, "workers", minimum=0, maximum=64),
        cache=_auto_bool(top, "cache"),
        device=top.choice("device", DEVICES, default="auto"),
        output=_path(top.text("output", default=None), base),
        card=_card(top.section("card", optional=True)),
        intended_input=_intended_input(top),
        resume=top.boolean("resume", default=False),
        weights_precision=top.choice("weights_precision", ("float32", "float16"), default="float32"),
        source=source,
    )
    _check_task_fields(job)
    return job


def run_dir_for(job_path: str | Path, job: Job) -> Path:
    """Where a job writes checkpoints, the model and its events.

    The job's ``output`` field; else, for a file named ``job.json`` (the layout of the
    job queue), its own folder; else a folder named after the job file next to it
    (``chest.json`` → ``chest/``).
    """
    if job.output:
        return Path(job.output)
    job_path = Path(job_path).resolve()
    if job_path.name == "job.json":
        return job_path.parent
    return job_path.with_suffix("")




# ----------------------------------------------------------------------- sections

def _dataset(top: Fields, base: Path | None) -> DatasetSpec:
    raw = top.get("dataset")
    if isinstance(raw, str):
        if not raw.strip():
            top.fail("dataset", "must name a folder or a labels CSV")
        return DatasetSpec(_path(raw, base))
    sec = top.section("dataset")
    sec.only(("path", "class_names", "check_pixels"))
    names = sec.string_list("class_names", min_length=2, default=None)
    return DatasetSpec(_path(sec.text("path"), base), names, sec.boolean("check_pixels", default=False))


def _model(top: Fields, base: Path | None) -> ModelSpec:
    raw = top.get("model")
    if isinstance(raw, str):
        return _base_ref(top, "model", raw)
    sec = top.section("model")
    sec.only(("base", "version", "architecture", "arguments", "weights", "class_map", "backbone"))
    has_base, has_arch = "base" in sec.data, "architecture" in sec.data
    if has_base == has_arch:
        sec.top_fail("model", "give either 'base' (a registered model name) or 'architecture' "
                              "(e.g. resnet18, fpn), not both or neither")
    if has_base:
        for key in ("arguments", "weights", "backbone"):
            if key in sec.data:
                sec.fail(key, "only with 'architecture' (a base model brings its own)")
        spec = _base_ref(sec, "base", sec.text("base"))
        version = sec.text("version", default=None)
        return replace(spec, base_version=version or spec.base_version, class_map=_class_map(sec))
    for key in ("version", "class_map"):
        if key in sec.data:
            sec.fail(key, "only with 'base'" + (" (a weights file carries no class names)"
                                                if key == "class_map" else ""))
    from medview.inference.architectures import ARCHITECTURES, architecture_names

    arch = sec.text("architecture").lower()
    if arch not in ARCHITECTURES:
        sec.fail("architecture", f"unknown architecture '{arch}'{did_you_mean(arch, architecture_names())}; "
                                 f"valid: {', '.join(architecture_names())}")
    arguments = sec.mapping("arguments", default={})
    for key in ARCHITECTURES[arch].reserved:
        if key in arguments:
            sec.fail(f"arguments.{key}", "is set by the trainer (classes, channels, local weights); "
                                         "remove it")
    weights = _path(sec.text("weights", default=None), base)
    if weights is not None and Path(weights).suffix.lower() not in (".safetensors", ".pth", ".pt", ".bin"):
        sec.fail("weights", "must be a .safetensors file or a PyTorch state dict (.pth/.pt)")
    backbone, backbone_version = _backbone_ref(sec, arch, arguments, weights)
    return ModelSpec(architecture=arch, arguments=arguments, weights=weights, backbone=backbone,
                     backbone_version=backbone_version)


def _backbone_ref(sec: Fields, arch: str, arguments: dict, weights: str | None
                  ) -> tuple[str | None, str | None]:
    """(name, version) of ``model.backbone``; checked against the architecture here,
    found on disk when the network is built."""
    from medview.inference.backbone_layout import BACKBONE_ARCHITECTURES, SMP_ENCODERS, family_of

    text = sec.text("backbone", default=None)
    if text is None:
        return None, None
    if weights is not None:
        sec.fail("backbone", "give either 'backbone' or 'weights', not both")
    name, _, version = text.strip().partition("/")
    if not _NAME_RE.match(name):
        sec.fail("backbone", f"'{text}' is not a backbone name (lower-case letters, digits, '.', "
                             "'_', '-'; optionally /VERSION)")
    if family_of(arch, arguments) is None:
        usable = (f"classifiers {', '.join(a for a in BACKBONE_ARCHITECTURES)}; segmenters with "
                  f"arguments.encoder_name {', '.join(SMP_ENCODERS)}")
        sec.fail("backbone", f"architecture '{arch}'"
                             + (f" with encoder '{arguments.get('encoder_name', 'resnet34')}'"
                                if arch not in BACKBONE_ARCHITECTURES else "")
                             + f" cannot start from a backbone; usable: {usable}")
    return name, version or None


def _class_map(sec: Fields) -> dict[str, str | None] | None:
    raw = sec.mapping("class_map", default=None)
    if raw is None:
        return None
    for key, value in raw.items():
        if not key.strip() or not (value is None or (isinstance(value, str) and value.strip())):
            sec.fail(f"class_map.{key}", "must name a class of the base model, or be null (the "
                                         f"output starts fresh); got {value!r}")
    return dict(raw)


def _base_ref(fields: Fields, key: str, text: str) -> ModelSpec:
    name, _, version = text.strip().partition("/")
    if not _NAME_RE.match(name):
        fields.fail(key, f"'{text}' is not a model name (lower-case letters, digits, '.', '_', '-'; "
                         "optionally /VERSION)")
    return ModelSpec(base=name, base_version=version or None)


def _input(top: Fields, model: ModelSpec) -> tuple[tuple[int, int] | None, int | None]:
    sec = top.section("input", optional=True)
    sec.only(("size", "channels"))
    if model.base and sec.data:
        top.fail("input", "a registered base model keeps its own input size and channels; remove "
                          "this field")
    size = input_size(sec, None, maximum=2048)
    channels = sec.integer("channels", default=None)
    if channels is not None and channels not in (1, 3):
        sec.fail("channels", f"must be 1 (grey) or 3 (RGB), got {channels}")
    return size, channels


def _class_weights(top: Fields) -> str | tuple[float, ...]:
    raw = top.get("class_weights", "balanced")
    if isinstance(raw, str):
        if raw not in ("balanced", "none"):
            top.fail("class_weights", f"must be 'balanced', 'none' or a list of numbers (got {raw!r})")
        return raw
    if (not isinstance(raw, list) or not raw
            or not all(is_number(v) and v >= 0 for v in raw)):
        top.fail("class_weights", "must be 'balanced', 'none' or a list of non-negative numbers, "
                                  "one per class")
    return tuple(float(v) for v in raw)


def _augment(top: Fields) -> AugmentSpec | None:
    # "augment": false is the documented way to switch every augmentation off.
    if top.get("augment", None) is False:
        return AugmentSpec(False, False, 0.0, 0.0, 0.0, 0.0)
    if top.get("augment", None) is None:
        return None  # the recipe chooses the strength
    sec = top.section("augment")
    sec.only(("flip", "vflip", "rotate", "scale", "brightness", "contrast"))
    return AugmentSpec(
        flip=sec.boolean("flip", default=True), vflip=sec.boolean("vflip", default=False),
        rotate=sec.number("rotate", default=10.0, minimum=0.0, maximum=180.0),
        scale=sec.number("scale", default=0.1, minimum=0.0, maximum=0.5),
        brightness=sec.number("brightness", default=0.1, minimum=0.0, maximum=0.5),
        contrast=sec.number("contrast", default=0.1, minimum=0.0, maximum=0.5))


def _budget(top: Fields, preset: str, epochs: int | None) -> float | None:
    """Minutes for the whole run: the job's (null: none), else none when the job gives its
    epochs, else the preset's."""
    if "time_budget_minutes" in top.keys():
        return top.number("time_budget_minutes", minimum=0.01, maximum=100000.0)
    return None if epochs is not None else PRESET_BUDGET_MINUTES[preset]


def _split(sec: Fields) -> SplitSpec:
    sec.only(("val", "test", "seed"))
    val = sec.number("val", default=0.15, minimum=0.0, maximum=0.9)
    test = sec.number("test", default=0.15, minimum=0.0, maximum=0.9)
    if val <= 0:
        sec.fail("val", "must be above 0: the best checkpoint and early stopping are judged on it")
    if val + test >= 0.9:
        sec.fail("test", f"val + test ({val + test:g}) must leave at least 10 % for training")
    return SplitSpec(val, test, sec.integer("seed", default=0, minimum=0, maximum=2**31 - 1))


def _threshold(sec: Fields) -> ThresholdSpec:
    sec.only(("method", "target_sensitivity"))
    method = sec.choice("method", ("youden", "sensitivity"), default="youden")
    target = sec.number("target_sensitivity", default=None, minimum=0.01, maximum=1.0)
    if method == "sensitivity" and target is None:
        sec.fail("target_sensitivity", "is required with method 'sensitivity' (e.g. 0.9)")
    return ThresholdSpec(method, target)


def _intended_input(top: Fields) -> IntendedInput | None:
    from medview.inference.manifest import parse_intended_input

    return parse_intended_input(top.section("intended_input", optional=True, nullable=True))


def _card(sec: Fields) -> CardSpec:
    sec.only(("intended_use", "limitations", "authors", "demo"))
    return CardSpec(intended_use=sec.text("intended_use", default=DEFAULT_INTENDED_USE),
                    limitations=sec.text("limitations", default="", allow_empty=True),
                    authors=sec.text("authors", default="", allow_empty=True),
                    demo=sec.boolean("demo", default=False))


def _check_task_fields(job: Job) -> None:
    if job.task == "segmentation" and job.positive_class is not None:
        raise JobError("positive_class", "only for classification")
    if job.dataset.class_names is not None and job.task == "classification":
        raise JobError("dataset.class_names", "only for segmentation (classification classes are "
                                              "the folder names or CSV labels)")


def _default_name(dataset: str, task: str | None) -> str:
    stem = Path(dataset).stem if dataset.lower().endswith(".csv") else Path(dataset).name
    if stem.lower() in ("labels", "") and dataset.lower().endswith(".csv"):
        stem = Path(dataset).parent.name
    slug = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-._") or "model"
    suffix = {"classification": "-classifier", "segmentation": "-segmenter"}.get(task or "", "")
    return (slug[: 64 - len(suffix)] + suffix) if slug[0].isalnum() else "model" + suffix


def _path(text: str | None, base: Path | None) -> str | None:
    if text is None:
        return None
    p = Path(text).expanduser()
    if not p.is_absolute() and base is not None:
        p = base / p
    return str(p)


def _auto_int(top: Fields, key: str, minimum: int, maximum: int) -> int | None:
    if top.data.get(key, "auto") == "auto":
        return None
    return top.integer(key, minimum=minimum, maximum=maximum)


def _auto_bool(top: Fields, key: str) -> bool | None:
    if top.data.get(key, "auto") == "auto":
        return None
    return top.boolean(key)
