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
from typing import Annotated, Any, Literal, get_args

from medview.core.schema import Meta, did_you_mean, parse
from medview.inference.manifest import _NAME_RE, Name, Task, Version
from medview.inference.scope import IntendedInput, read_intended_input
from trainer.job_common import DEVICES, Device, Id, JobError, Seed, default_version, input_size

__all__ = [
    "JobError", "Job", "DatasetSpec", "ModelSpec", "SplitSpec", "AugmentSpec", "ThresholdSpec",
    "CardSpec", "PRESETS", "OPTIMIZERS", "SCHEDULERS", "MONITORS", "DEVICES", "parse_job", "load_job", "read_job_file",
    "run_dir_for", "default_version",
]

Preset = Literal["quick", "full", "advanced"]
Optimizer = Literal["adam", "adamw", "sgd"]
Scheduler = Literal["cosine", "plateau", "step", "none"]
Monitor = Literal["auto", "accuracy", "balanced_accuracy", "auc", "val_loss", "dice", "iou"]
PRESETS, OPTIMIZERS, SCHEDULERS, MONITORS, TASKS = map(get_args, (Preset, Optimizer, Scheduler,
                                                                  Monitor, Task))

#: Time budget of each preset in minutes (trainer/JOBS.md, "Time budget").
#: ``model.architecture`` that leaves the network to the recipe (:mod:`trainer.recipe`).
AUTO_ARCHITECTURE = "auto"
PRESET_BUDGET_MINUTES = {"quick": 10.0, "full": 30.0, "advanced": 30.0}

DEFAULT_INTENDED_USE = ("Research and demonstration only: fine-tuned on a clinic's own labelled "
                        "images and not validated for clinical use.")


@dataclass(frozen=True)
class DatasetSpec:
    """Where the labelled images are (the object form of ``dataset``)."""

    path: Annotated[str, Meta(description="a folder of class folders, a labels CSV "
                                          "(`path,label[,patient_id][,mask]`) or a folder with "
                                          "`images/` and `masks/`")]
    class_names: Annotated[Annotated[tuple[str, ...], Meta(min_length=2)] | None, Meta(
        description="segmentation classes by mask value, background first")] = None
    check_pixels: Annotated[bool, Meta(description="decode every image while discovering "
                                                   "(slower; bad files are listed before "
                                                   "training starts)")] = False


@dataclass(frozen=True)
class ModelSpec:
    """The starting model (the object form of ``model``): a registered ``base`` (name,
    optional version), or an ``architecture`` with random weights, local ``weights`` or a
    registered ``backbone``."""

    base: Annotated[str | None, Meta(description="`NAME` or `NAME/VERSION` of a registered "
                                                 "model")] = None
    version: Annotated[str | None, Meta(description="version of `base` (default: the newest)")] = None
    architecture: Annotated[str | None, Meta(description="e.g. `resnet18`, `fpn`, `lesion_map`, or `auto` "
                                                         "(the recipe chooses from the data); random "
                                                         "weights unless `weights` or "
                                                         "`backbone`")] = None
    arguments: Annotated[dict[str, Any], Meta(description="keyword arguments of the "
                                                          "architecture")] = field(default_factory=dict)
    weights: Annotated[str | None, Meta(description="a .safetensors file or a PyTorch state "
                                                    "dict (.pth/.pt); architecture only")] = None
    class_map: Annotated[dict[str, Any] | None, Meta(
        description="`{NEW: OLD or null}`: which output of the base model each class starts "
                    "from (base only; equal class sets match by name)")] = None
    backbone: Annotated[str | None, Meta(description="`NAME[/VERSION]` of a registered backbone "
                                                     "whose trunk the network starts from "
                                                     "(architecture only, not with "
                                                     "`weights`)")] = None
    backbone_version: Annotated[str | None, Meta(extra={"internal": True})] = None

    @property
    def base_version(self) -> str | None:
        """The version of ``base``, None for the newest."""
        return self.version

    @property
    def label(self) -> str:
        """Short name for events and the model card."""
        if self.base:
            return self.base + (f"/{self.version}" if self.version else "")
        return self.architecture or "?"


@dataclass(frozen=True)
class InputSpec:
    """The network input of an architecture (a base model keeps its own)."""

    size: Annotated[int | tuple[int, int] | None, Meta(
        description="`S` or `[H, W]`, 32 … 2048 pixels", extra={"default": "recipe",
        "reason": "must be an integer or two integers [height, width]"})] = None
    channels: Annotated[Literal[1, 3] | None, Meta(
        description="1 (grey) or 3 (RGB)",
        extra={"default": "1", "reason": "must be 1 (grey) or 3 (RGB)"})] = None


@dataclass(frozen=True)
class SplitSpec:
    """Shares of the validation and test sets (whole patients) and the split seed."""

    val: Annotated[float, Meta(ge=0.0, le=0.9, description="share of patients for "
                                                           "validation")] = 0.15
    test: Annotated[float, Meta(ge=0.0, le=0.9, description="share of patients for the test "
                                                            "set")] = 0.15
    seed: Annotated[Seed, Meta(description="seed of the split")] = 0


@dataclass(frozen=True)
class AugmentSpec:
    """Random changes applied identically to an image and its mask while training."""

    flip: Annotated[bool, Meta(description="horizontal flip")] = True
    vflip: Annotated[bool, Meta(description="vertical flip")] = False
    rotate: Annotated[float, Meta(ge=0.0, le=180.0, description="rotation, ± degrees")] = 10.0
    scale: Annotated[float, Meta(ge=0.0, le=0.5, description="scale, ± fraction")] = 0.1
    brightness: Annotated[float, Meta(ge=0.0, le=0.5, description="brightness, ± fraction of "
                                                                  "the [0, 1] range")] = 0.1
    contrast: Annotated[float, Meta(ge=0.0, le=0.5, description="contrast, ± fraction")] = 0.1
    paste: Annotated[float, Meta(ge=0.0, le=1.0, description=(
        "copy-paste of findings cut from other training images: segmentation on patches, share "
        "of the patches over a finding whose finding is a pasted one instead; on whole images, "
        "share of the images given one. A two-class classification whose masks the training "
        "uses: share of the images given one, which then count as the finding's class"))] = 0.0

    @property
    def enabled(self) -> bool:
        """Any change of the image's geometry or intensities (pasting is apart)."""
        return bool(self.flip or self.vflip or self.rotate or self.scale or self.brightness
                    or self.contrast)


@dataclass(frozen=True)
class ThresholdSpec:
    """How the decision threshold of a binary classifier is chosen on the validation set."""

    method: Annotated[Literal["youden", "sensitivity"], Meta(
        description="`youden` (best sensitivity + specificity) or `sensitivity`")] = "youden"
    target_sensitivity: Annotated[Annotated[float, Meta(ge=0.01, le=1.0)] | None, Meta(
        description="required with `sensitivity`, e.g. 0.9")] = None


@dataclass(frozen=True)
class CardSpec:
    """Model-card text supplied by the job (the rest is filled in from the run)."""

    intended_use: Annotated[str, Meta(description="what the model is for",
                                      extra={"default": "research-only text"})] = DEFAULT_INTENDED_USE
    limitations: Annotated[str, Meta(description="known limitations")] = ""
    authors: Annotated[str, Meta(description="who made it")] = ""
    demo: Annotated[bool, Meta(description="adds \"DEMO, synthetic data, not for clinical "
                                           "use\"")] = False


@dataclass(frozen=True)
class Job:
    """A training job (``trainer/JOBS.md``): the declaration of the file and, once
    :func:`parse_job` has filled in every default, the validated job."""

    dataset: Annotated[str | DatasetSpec, Meta(
        description="a folder of class folders, a labels CSV (`path,label[,patient_id][,mask]`; "
                    "see \"Masks in a classification data set\"), or a folder with `images/` + "
                    "`masks/`; or `{\"path\", \"class_names\", \"check_pixels\"}`. `medview labels "
                    "export` writes the CSV or the `images/` + `masks/` folder from a labelling "
                    "project (README, \"Labelling\")",
        extra={"reason": "must name a folder or a labels CSV, or be an object"})]
    model: Annotated[str | ModelSpec, Meta(
        description="`\"NAME\"` or `\"NAME/VERSION\"` of a registered model, `{\"base\": NAME, "
                    "\"version\": V, \"class_map\": {NEW: OLD or null}}`, or `{\"architecture\": "
                    "A, \"arguments\": {...}, \"weights\": FILE}` or `{\"architecture\": A, "
                    "\"arguments\": {...}, \"backbone\": \"NAME[/VERSION]\"}` (see \"Classes of a "
                    "base model\", \"Starting from a backbone\")",
        extra={"reason": "must be a model name or an object"})]
    name: Annotated[Name | None, Meta(
        description="name of the trained model (registry rules: `a-z0-9._-`)",
        extra={"default": "the data set's folder name"})] = None
    version: Annotated[Version | None, Meta(
        description="version of the trained model (a queued job fixes it when queued)",
        extra={"default": "`YYYY.MM.DD-HHMMSS` of the run"})] = None
    id: Annotated[Id | None, Meta(description="job id in every event",
                                  extra={"default": "run folder name"})] = None
    task: Annotated[Task | None, Meta(
        description="`classification` or `segmentation`; a mismatch fails the job",
        extra={"default": "from the data set's layout"})] = None
    preset: Annotated[Preset, Meta(
        description="`quick`, `full` or `advanced` (below)")] = "full"
    input: Annotated[InputSpec, Meta(
        description="`{\"size\": S or [H, W], \"channels\": 1 or 3}`; architecture only",
        extra={"default": "recipe (size), 1 channel"})] = InputSpec()
    preprocessing: Annotated[dict[str, Any] | None, Meta(
        description="as in `model.json` (window, crop, resize, clahe, diffusion); architecture "
                    "only", extra={"default": "`{\"window\": \"auto\", \"resize\": "
                                   "\"letterbox\"}`, or the backbone's"})] = None
    normalisation: Annotated[dict[str, Any] | None, Meta(
        description="as in `model.json`; architecture only",
        extra={"default": "mean 0.5, std 0.25, or the backbone's"})] = None
    time_budget_minutes: Annotated[Annotated[float, Meta(ge=0.01, le=100000.0)] | None, Meta(
        description="minutes the whole run may take, preparation included (see \"Time budget\")",
        extra={"default": "preset (10 quick, 30 full/advanced); none when `epochs` is "
                          "given"})] = None
    epochs: Annotated[Annotated[int, Meta(ge=1, le=10000)] | None, Meta(
        description="planned epochs",
        extra={"default": "recipe: as many as fit the budget"})] = None
    freeze_epochs: Annotated[Annotated[int, Meta(ge=0)] | None, Meta(
        description="epochs at the start with the backbone frozen (only the head learns)",
        extra={"default": "recipe: 0, or a 2-epoch head warm-up on trained weights"})] = None
    batch_size: Annotated[Annotated[int, Meta(ge=1, le=4096)] | None, Meta(
        description="global batch (split across processes under torchrun)",
        extra={"default": "recipe: 16 (8 below 64 training images)"})] = None
    patch_size: Annotated[Annotated[int, Meta(ge=0, le=2048, multiple_of=32)] | None, Meta(
        description="segmentation: train on squares of this many pixels (a multiple of 32), half of "
                    "them over a finding; validation and analysis see whole images; 0: whole images",
        extra={"default": "recipe: half the input side when the masks show small findings, else 0"})] = None
    optimizer: Annotated[Optimizer, Meta(
        description="`adam`, `adamw` or `sgd` (Nesterov momentum)")] = "adamw"
    lr: Annotated[Annotated[float, Meta(ge=1e-8, le=10.0)] | None, Meta(
        description="learning rate of the head",
        extra={"default": "recipe: 0.001 (0.003 lesion_map, lesion_unet; 0.01 with sgd)"})] = None
    backbone_lr_factor: Annotated[Annotated[float, Meta(ge=0.0, le=10.0)] | None, Meta(
        description="backbone learning rate = `lr` × this",
        extra={"default": "1.0 from random weights or a self-supervised backbone (recipe), "
                          "0.1 from other trained weights"})] = None
    weight_decay: Annotated[float, Meta(ge=0.0, le=1.0, description="optimizer setting")] = 1e-4
    momentum: Annotated[float, Meta(ge=0.0, le=0.999, description="optimizer setting")] = 0.9
    scheduler: Annotated[Scheduler, Meta(
        description="`cosine` (linear warm-up over `warmup_epochs`, then down to lr/100 at the "
                    "last epoch), `plateau` (× `gamma` after `plateau_patience` epochs without "
                    "progress), `step` (× `gamma` every `step_size` epochs), `none`")] = "cosine"
    warmup_epochs: Annotated[Annotated[int, Meta(ge=0, le=10000)] | None, Meta(
        description="learning-rate warm-up of the cosine schedule",
        extra={"default": "recipe: 5 % of the epochs (≤ 5) from random weights, 10 from a trained "
                          "trunk learning at the head's rate, else 0"})] = None
    step_size: Annotated[int, Meta(ge=1, description="epochs between steps of `step`")] = 10
    gamma: Annotated[float, Meta(ge=1e-6, le=1.0, description="factor of `step` and "
                                                              "`plateau`")] = 0.1
    plateau_patience: Annotated[int, Meta(ge=0, description="epochs without progress before "
                                                            "`plateau` lowers the rate")] = 3
    early_stopping: Annotated[Annotated[int, Meta(ge=0)] | None, Meta(
        description="stop after this many epochs without a better validation metric (0 = never)",
        extra={"default": "recipe: 0 (off)"})] = None
    final_weights: Annotated[Literal["best", "last"] | None, Meta(
        description="weights the model keeps: `best` (the epoch with the best validation metric) or "
                    "`last` (the last epoch's)",
        extra={"default": "recipe: last, with early stopping off and a cosine schedule; else best"})] = None
    min_delta: Annotated[float, Meta(ge=0.0, le=1.0, description="least change that counts as "
                                                                 "better")] = 0.0
    monitor: Annotated[Monitor, Meta(
        description="metric for the best checkpoint: auto = `auc` (binary), `balanced_accuracy` "
                    "(more classes), `dice` (segmentation); or `accuracy`, `iou`, "
                    "`val_loss`")] = "auto"
    class_weights: Annotated[Literal["balanced", "none"] | tuple[float, ...], Meta(
        description="`balanced` (n / (C · n_c); segmentation: by pixels, ratio capped at 10), "
                    "`none`, or one number per class",
        extra={"reason": "must be 'balanced', 'none' or a list of numbers"})] = "balanced"
    augment: Annotated[bool | AugmentSpec | None, Meta(
        description="`{\"flip\", \"vflip\", \"rotate\", \"scale\", \"brightness\", "
                    "\"contrast\", \"paste\"}` (keys left out: flip, ±10°, ±10 % scale, ±0.1 "
                    "brightness/contrast, no pasting), or `false` for none. `paste` (0–1): segmentation on "
                    "patches, that share of the patches over a finding get instead a finding cut from "
                    "another training image, on a patch drawn anywhere; on whole images, that share of "
                    "the images get one; a two-class classification whose masks the training uses, "
                    "that share of the images with a known mask get one and count as the finding's class",
        extra={"default": "recipe: by images in the rarest class",
               "reason": "must be an object, or false for none"})] = None
    mask_weight: Annotated[float, Meta(ge=0.0, le=10.0, description="weight of the auxiliary mask "
                                                                    "loss when a classification "
                                                                    "CSV names masks (0: masks "
                                                                    "ignored)")] = 0.5
    compare_with_scratch: Annotated[bool | None, Meta(
        description="start check: a start from trained weights is also trained from random "
                    "weights; the better on validation is kept",
        extra={"default": "`true` with `quick`, else `false`"})] = None
    split: Annotated[SplitSpec, Meta(description="shares of whole patients; stratified by class",
                                     extra={"default": "val 0.15, test 0.15, seed 0"})] = SplitSpec()
    threshold: Annotated[ThresholdSpec, Meta(
        description="binary classifiers: `youden`, or `{\"method\": \"sensitivity\", "
                    "\"target_sensitivity\": 0.9}`; chosen on the validation set, written to "
                    "`model.json`", extra={"default": "`{\"method\": \"youden\"}`"})] = ThresholdSpec()
    positive_class: Annotated[str | None, Meta(
        description="the finding of a binary classifier (ROC, sensitivity)",
        extra={"default": "the class not named normal/negative/…"})] = None
    seed: Annotated[Seed, Meta(description="everything random (order, augmentation, "
                                           "initialisation) follows from it")] = 0
    workers: Annotated[Literal["auto"] | Annotated[int, Meta(ge=0, le=64)] | None, Meta(
        description="worker processes for decoding (see \"Data loading\")",
        extra={"default": "`auto`", "reason": "must be an integer or 'auto'"})] = None
    cache: Annotated[Literal["auto"] | bool | None, Meta(
        description="keep preprocessed images in memory (auto: when they need ≤ ¼ of the RAM)",
        extra={"default": "`auto`", "reason": "must be true, false or 'auto'"})] = None
    device: Annotated[Device, Meta(
        description="`auto` (CUDA if present), `cpu`, `cuda`")] = "auto"
    weights_precision: Annotated[Literal["float32", "float16"], Meta(
        description="`float16` halves the stored weights; the test report is measured on the "
                    "rounded weights")] = "float32"
    int8: Annotated[bool, Meta(
        description="when registered, also make the int8 graph (calibrated on the validation "
                    "images, kept only if the test AUC / Dice drops ≤ 0.01 and probabilities stay "
                    "within tolerance); `false` skips it")] = True
    resume: Annotated[bool, Meta(description="same as `--resume`: continue from the last "
                                             "checkpoint if there is one")] = False
    output: Annotated[str | None, Meta(description="the run folder",
                                       extra={"default": "see \"Run folder\""})] = None
    card: Annotated[CardSpec, Meta(
        description="`{\"intended_use\", \"limitations\", \"authors\", \"demo\"}`; `demo: "
                    "true` adds \"DEMO, synthetic data, not for clinical use\"",
        extra={"default": "research-only text"})] = CardSpec()
    intended_input: Annotated[IntendedInput | None, Meta(
        description="where the model applies, written to `model.json` and checked before every "
                    "analysis: as in `model.json` (`docs/MANIFEST.md`), with DICOM defined terms (`\"DX\"`, "
                    "`\"CHEST\"`, `\"PA\"`; an empty list means any). Absent: the DICOM tags of "
                    "the training images decide (with a margin on size and spacing); a data set "
                    "of plain images records none, so say it here",
        extra={"default": "derived from the data set", "check": read_intended_input})] = None
    comment: Annotated[str, Meta(description="free text for people; ignored")] = ""
    source: Annotated[str | None, Meta(extra={"internal": True})] = None

    @property
    def input_size(self) -> tuple[int, int] | None:
        """(height, width) of the network input; None: the recipe chooses."""
        return self.input.size  # a (height, width) pair once parsed

    @property
    def channels(self) -> int | None:
        """Input channels; None: one grey channel."""
        return self.input.channels

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, every default explicit (saved next to the run as ``job.resolved.json``)."""
        data = asdict(self)
        data["model"] = {k: v for k, v in data["model"].items() if v not in (None, {})}
        data["model"].pop("backbone_version", None)
        if self.model.backbone_version:
            data["model"]["backbone"] = f"{self.model.backbone}/{self.model.backbone_version}"
        data["input"]["size"] = list(self.input_size) if self.input_size else None
        del data["source"], data["comment"]
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
    if isinstance(data, dict) and "search" in data:  # a search job reaches the trainer by mistake
        raise JobError("search", "this job is a hyper-parameter search; run it with 'python -m "
                                 "trainer.search.job' or 'medview search' (trainer/JOBS.md)")
    base = Path(base_dir) if base_dir is not None else None
    job = parse(data, Job, JobError)
    dataset = DatasetSpec(job.dataset) if isinstance(job.dataset, str) else job.dataset
    model = _model(job.model, base)
    if model.base:
        _refuse_own_fields(job, data)
    if job.freeze_epochs is not None and job.epochs is not None and job.freeze_epochs > job.epochs:
        raise JobError("freeze_epochs", f"must be at most epochs ({job.epochs}), got {job.freeze_epochs}")
    if job.final_weights == "last" and job.early_stopping:
        raise JobError("final_weights", "'last' keeps the epochs after the best one, which early stopping "
                                        "is for: use 'best', or early_stopping 0")
    if job.patch_size and job.task == "classification":
        raise JobError("patch_size", "only for segmentation: a classifier sees whole images")
    if job.patch_size and job.patch_size % 32:
        raise JobError("patch_size", f"must be a multiple of 32 (got {job.patch_size})")
    job = replace(
        job, dataset=replace(dataset, path=_path(dataset.path, base)), model=model,
        name=job.name or _default_name(dataset.path, job.task),
        version=job.version or default_version(), input=_input(job.input),
        class_weights=_class_weights(job.class_weights), augment=_augment(job.augment),
        time_budget_minutes=_budget(job, data),
        compare_with_scratch=(job.preset == "quick" if job.compare_with_scratch is None
                              else job.compare_with_scratch),
        workers=None if job.workers == "auto" else job.workers,
        cache=None if job.cache == "auto" else job.cache,
        output=_path(job.output, base), source=source)
    _check_sections(job)
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

def _refuse_own_fields(job: Job, data: dict) -> None:
    """A registered base model brings its own input and preprocessing (train and serve match)."""
    if data.get("input"):
        raise JobError("input", "a registered base model keeps its own input size and channels; "
                                "remove this field")
    for key in ("preprocessing", "normalisation"):
        if getattr(job, key) is not None:
            raise JobError(key, "a registered base model keeps its own preprocessing (train and "
                                "serve must match); remove this field or start from an architecture")


def _model(raw: str | ModelSpec, base: Path | None) -> ModelSpec:
    if isinstance(raw, str):
        return _base_ref("model", raw)
    if (raw.base is None) == (raw.architecture is None):
        raise JobError("model", "give either 'base' (a registered model name) or 'architecture' "
                                "(e.g. resnet18, fpn), not both or neither")
    if raw.base is not None:
        for key in ("arguments", "weights", "backbone"):
            if getattr(raw, key):
                raise JobError(f"model.{key}", "only with 'architecture' (a base model brings its own)")
        ref = _base_ref("model.base", raw.base)
        _check_class_map(raw.class_map)
        return replace(raw, base=ref.base, version=raw.version or ref.version)
    for key in ("version", "class_map"):
        if getattr(raw, key) is not None:
            raise JobError(f"model.{key}", "only with 'base'" + (
                " (a weights file carries no class names)" if key == "class_map" else ""))
    from medview.inference.architectures import ARCHITECTURES, architecture_names

    arch = raw.architecture.lower()
    if arch == AUTO_ARCHITECTURE:
        for key in ("arguments", "weights", "backbone"):
            if getattr(raw, key):
                raise JobError(f"model.{key}", "not with architecture 'auto' (the recipe chooses the "
                                               "network from the data); name an architecture")
        return replace(raw, architecture=arch)
    if arch not in ARCHITECTURES:
        raise JobError("model.architecture", f"unknown architecture '{arch}'"
                       f"{did_you_mean(arch, architecture_names())}; valid: {', '.join(architecture_names())}")
    for key in ARCHITECTURES[arch].reserved:
        if key in raw.arguments:
            raise JobError(f"model.arguments.{key}", "is set by the trainer (classes, channels, "
                                                     "local weights); remove it")
    weights = _path(raw.weights, base)
    if weights is not None and Path(weights).suffix.lower() not in (".safetensors", ".pth", ".pt", ".bin"):
        raise JobError("model.weights", "must be a .safetensors file or a PyTorch state dict (.pth/.pt)")
    backbone, backbone_version = _backbone_ref(raw.backbone, arch, raw.arguments, weights)
    return replace(raw, architecture=arch, weights=weights, backbone=backbone,
                   backbone_version=backbone_version)


def _backbone_ref(text: str | None, arch: str, arguments: dict, weights: str | None
                  ) -> tuple[str | None, str | None]:
    """(name, version) of ``model.backbone``; checked against the architecture here,
    found on disk when the network is built."""
    from medview.inference.backbone_layout import BACKBONE_ARCHITECTURES, SMP_ENCODERS, family_of

    if text is None:
        return None, None
    if weights is not None:
        raise JobError("model.backbone", "give either 'backbone' or 'weights', not both")
    name, _, version = text.partition("/")
    if not _NAME_RE.match(name):
        raise JobError("model.backbone", f"'{text}' is not a backbone name (lower-case letters, "
                                         "digits, '.', '_', '-'; optionally /VERSION)")
    if family_of(arch, arguments) is None:
        usable = (f"classifiers {', '.join(a for a in BACKBONE_ARCHITECTURES)}; segmenters with "
                  f"arguments.encoder_name {', '.join(SMP_ENCODERS)}")
        raise JobError("model.backbone", f"architecture '{arch}'"
                       + (f" with encoder '{arguments.get('encoder_name', 'resnet34')}'"
                          if arch not in BACKBONE_ARCHITECTURES else "")
                       + f" cannot start from a backbone; usable: {usable}")
    return name, version or None


def _check_class_map(class_map: dict | None) -> None:
    for key, value in (class_map or {}).items():
        if not key.strip() or not (value is None or (isinstance(value, str) and value.strip())):
            raise JobError(f"model.class_map.{key}", "must name a class of the base model, or be "
                                                     f"null (the output starts fresh); got {value!r}")


def _base_ref(field_path: str, text: str) -> ModelSpec:
    name, _, version = text.partition("/")
    if not _NAME_RE.match(name):
        raise JobError(field_path, f"'{text}' is not a model name (lower-case letters, digits, "
                                   "'.', '_', '-'; optionally /VERSION)")
    return ModelSpec(base=name, version=version or None)


def _input(spec: InputSpec) -> InputSpec:
    return replace(spec, size=input_size(spec.size, "input.size", maximum=2048))


def _class_weights(value: str | tuple[float, ...]) -> str | tuple[float, ...]:
    if isinstance(value, tuple) and (not value or min(value) < 0):
        raise JobError("class_weights", "must be 'balanced', 'none' or a list of non-negative "
                                        "numbers, one per class")
    return value


def _augment(value: bool | AugmentSpec | None) -> AugmentSpec | None:
    # "augment": false is the documented way to switch every augmentation off.
    if value is False:
        return AugmentSpec(False, False, 0.0, 0.0, 0.0, 0.0)
    if value is True:
        raise JobError("augment", "must be an object, or false for none (got true)")
    return value  # None: the recipe chooses the strength


def _budget(job: Job, data: dict) -> float | None:
    """Minutes for the whole run: the job's (null: none), else none when the job gives its
    epochs, else the preset's."""
    if "time_budget_minutes" in data:
        return job.time_budget_minutes
    return None if job.epochs is not None else PRESET_BUDGET_MINUTES[job.preset]


def _check_sections(job: Job) -> None:
    """Rules across fields (the declarations check each field on its own)."""
    if job.split.val <= 0:
        raise JobError("split.val", "must be above 0: the best checkpoint and early stopping are "
                                    "judged on it")
    if job.split.val + job.split.test >= 0.9:
        raise JobError("split.test", f"val + test ({job.split.val + job.split.test:g}) must "
                                     "leave at least 10 % for training")
    if job.threshold.method == "sensitivity" and job.threshold.target_sensitivity is None:
        raise JobError("threshold.target_sensitivity", "is required with method 'sensitivity' "
                                                       "(e.g. 0.9)")
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
