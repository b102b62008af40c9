"""The recipe: the training settings a job leaves out, chosen from the data set's
fingerprint (:mod:`trainer.data.fingerprint`), the machine's measured speed and the time
budget, so a job giving only ``dataset`` and ``model`` learns on a clinic's few hundred
images. Any field the job sets wins; ``job.resolved.json``, the ``recipe`` log line, the
``job_started`` event and the model card say what was chosen and why.

Rules (``trainer/JOBS.md``, "The recipe"):

* **architecture** (``"architecture": "auto"``): a two-class classification data set
  whose masks show small findings (25th-percentile diameter under
  :data:`SMALL_FINDING` of the image side) gets ``lesion_map``
  (:mod:`medview.inference.lesion_map`), a classifier that decides from a fine map the
  masks supervise cell by cell; other classification data sets ``resnet18``. A
  segmentation data set with small findings gets ``lesion_unet``
  (:mod:`medview.inference.lesion_unet`), a small U-Net on local contrast, with
  ``test_time_flips`` (trained with flips both ways, it outlines the mean of the image's
  mirror images); other segmentation data sets ``fpn`` with a ResNet-18 encoder.
* **background class**: a two-class ``lesion_map`` job, or a ResNet job asking for
  ``"pooling": "top_k"``, gets its background class (the negative one) filled in.
* **pooling**: a ResNet job asking for ``"pooling": "top_k"`` (the class map pooled over
  its strongest cells, :mod:`medview.inference.map_head`) also gets its share of cells.
* **input size** (architecture jobs): a backbone's own (its features were learnt at that
  scale); otherwise the small objects of the masks (25th percentile of
  their diameters) should span :data:`OBJECT_PX` input pixels (16 to classify, 24 to
  outline); without masks 224
  (classification) or 256 (segmentation); never above the images' own size, within
  :data:`MIN_SIZE` … :data:`MAX_SIZE`; lowered by steps when the budget would allow fewer
  than :data:`MIN_EPOCHS` epochs at that size.
* **patches** (segmentation): when the masks show small findings, training sees squares
  of half the input side (at least :data:`MIN_PATCH` px), half of them over a finding
  (:func:`trainer.data.inputs.foreground_patch`), four per image per epoch; otherwise
  whole images.
* **augmentation**: stronger the fewer images the rarest class has (:data:`AUGMENT_LEVELS`);
  for small findings also vertical flips and any rotation (:data:`ORIENTATION_FREE`), and
  findings pasted from other training images (:data:`PASTE_SHARE`; a classifier's image
  then shows its finding class: two classes whose masks the training uses).
* **batch size**: 8 below 64 training images (more steps per epoch), else 16.
* **learning rate**: 1e-3 (Adam, AdamW) or 1e-2 (SGD); ``lesion_map`` and ``lesion_unet``
  (small, with BatchNorm after every convolution) 3e-3 with Adam/AdamW.
* **backbone learning rate**: the head's (:data:`SELF_SUPERVISED_RATE`) from a
  self-supervised backbone, which learnt from no labels; other trained starts keep a
  tenth of it.
* **freezing**: only a short head warm-up (:data:`HEAD_WARMUP_EPOCHS`, at most half of the
  epochs) when starting from trained weights; never from random weights, never the whole
  run.
* **epochs**: as many as fit the budget (measured speed, preparation already spent, the
  end of the run reserved), at most :data:`MAX_EPOCHS`; a linear learning-rate warm-up of
  5 % of them (random start) or of :data:`UNFREEZE_WARMUP_EPOCHS` (a trained trunk learning
  at the head's rate) and a cosine decay over the rest; no early stopping: with a
  few dozen validation images an early best epoch is often luck (measured: runs stopped
  at a third of their budget on a lucky second epoch), and the late epochs of a cosine
  schedule are usually its best. The loop re-plans with the epoch times it measures.
* **final weights**: the last epoch's when early stopping is off and the schedule is a
  cosine decay (its last epochs are at a small learning rate; nnU-Net keeps its final
  checkpoint too), else the best validation epoch's. Measured on the lesion bench data,
  100 per class, 10 minutes: held-out Dice 0.761 (last) against 0.745 (best of 30
  validation images), AUC 0.943 against 0.928, whose best validation AUC was 1.0 from
  epoch 154 of 213 on.
* **start check** (``compare_with_scratch``, default with the quick preset): a start from
  trained weights is also trained from random weights, each in half of the training
  time; the better on validation is kept (:mod:`trainer.start_check`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

from trainer.config import AUTO_ARCHITECTURE as AUTO
from trainer.config import AugmentSpec, Job
from trainer.data.fingerprint import Fingerprint

__all__ = ["Recipe", "choose", "AUTO", "SMALL_FINDING", "ARCHITECTURE_LR", "plan_epochs", "measure_speed",
           "patch_size", "MIN_PATCH", "small_findings", "ORIENTATION_FREE", "PASTE_SHARE",
           "epoch_seconds", "starts_trained", "smaller_size", "OBJECT_PX", "MIN_SIZE",
           "MAX_SIZE", "MIN_EPOCHS", "MAX_EPOCHS", "AUGMENT_LEVELS", "HEAD_WARMUP_EPOCHS",
           "SELF_SUPERVISED_RATE", "UNFREEZE_WARMUP_EPOCHS"]

#: Small objects (25th-percentile diameter, share of the image side) below this are small
#: findings: a two-class classifier for them is a ``lesion_map``, a segmenter a ``lesion_unet``.
#: At 0.1 the bound sat inside the sampling spread of the lesion bench's own findings
#: (diameters 6-16 % of the side, 25th percentile about 8.5 %): one labelled set of 20 per
#: class measured 10.3 % and got a ResNet-18 (held-out AUC 0.55-0.58) where the lesion map
#: reaches 0.78 (trainer/JOBS.md). At the input size the recipe gives them (the 25th
#: percentile :data:`OBJECT_PX` wide) such findings stay within the contrast window of the
#: lesion map and the lesion U-Net (``lesion_map.DEFAULT_WINDOW``, 31 px).
SMALL_FINDING = 0.15
#: What ``auto`` builds otherwise, per task.
AUTO_DEFAULT = {"classification": {"architecture": "resnet18", "arguments": {}},
                "segmentation": {"architecture": "fpn", "arguments": {"encoder_name": "resnet18"}}}
#: Learning rate (Adam/AdamW) of architectures that differ from :data:`DEFAULT_LR`.
DEFAULT_LR = 1e-3
ARCHITECTURE_LR = {"lesion_map": 3e-3, "lesion_unet": 3e-3}

#: Input pixels the small objects (25th percentile diameter) should span: enough to be
#: seen (classification), more to draw their outline (segmentation, scored by Dice).
OBJECT_PX = {"classification": 16, "segmentation": 24}
#: Input sizes the recipe chooses between (square, multiples of 32).
MIN_SIZE = 128
MAX_SIZE = {"classification": 384, "segmentation": 512}
DEFAULT_SIZE = {"classification": 224, "segmentation": 256}
#: Smallest training patch (segmentation of small findings); below, whole images.
MIN_PATCH = 64
#: Fewest epochs worth training: below, the input size is lowered to fit more.
MIN_EPOCHS = 20
#: Most epochs a budget buys (the rest of the time is not spent).
MAX_EPOCHS = 300
#: Backbone learning rate (× the head's) from a self-supervised backbone. Trained weights
#: keep 0.1 (:func:`trainer.optim.make_optimizer`); a trunk that learnt from no labels
#: must change more. Lesion bench, 50 images per class, held-out AUC at 0.1 → 1.0:
#: SimSiam 0.478 → 0.784, MoCo v2 0.513 → 0.695; random weights 0.625 (trainer/JOBS.md).
SELF_SUPERVISED_RATE = 1.0
#: Epochs of head warm-up (backbone frozen) after a start from trained weights.
HEAD_WARMUP_EPOCHS = 2
#: Epochs of learning-rate warm-up (the head warm-up's among them) when a trained trunk
#: learns at the head's rate, as a self-supervised backbone does.
UNFREEZE_WARMUP_EPOCHS = 10
#: (at most this many images in the rarest class, augmentation): stronger for fewer.
AUGMENT_LEVELS = (
    (50, "strong", AugmentSpec(flip=True, vflip=False, rotate=20.0, scale=0.2, brightness=0.2, contrast=0.2)),
    (300, "medium", AugmentSpec(flip=True, vflip=False, rotate=15.0, scale=0.15, brightness=0.15, contrast=0.15)),
    (math.inf, "standard", AugmentSpec()),
)
#: Augmentation for small findings, on top of their level: a nodule or a metastasis looks
#: the same upside down, and a network that must find it anywhere learns from every
#: orientation (nnU-Net mirrors along every axis). On the lesion bench data, 100 images per
#: class, 10 minutes: held-out Dice 0.686 → 0.745 (trainer/JOBS.md, "Segmentation of small
#: findings").
ORIENTATION_FREE = {"vflip": True, "rotate": 180.0}
#: Small findings: share of the training patches over a finding (segmentation) or of the
#: training images (a two-class classifier whose masks the training uses) given a finding
#: cut from another training image (:mod:`trainer.data.paste`), so each finding is seen on
#: many backgrounds, the normal images' too.
PASTE_SHARE = 0.5
#: Inference runs about this many times faster than a training step (no backward pass).
EVAL_SPEEDUP = 3.0


@dataclass
class Recipe:
    """What the recipe chose, and why.

    Attributes
    ----------
    fingerprint : Fingerprint
    given : list of str
        Fields the job set (kept as they are).
    chosen : dict
        Field → value the recipe chose.
    reasons : dict
        Field → one phrase saying why.
    speed : float or None
        Training images per second measured at the chosen input size.
    overhead_s : float
        Estimated seconds per epoch for checkpoints.
    arms : int
        Trainings of the run: 2 with the start check, else 1.
    scratch : dict
        The start check's second training: its planned fields.
    """

    fingerprint: Fingerprint
    given: list[str] = field(default_factory=list)
    chosen: dict[str, Any] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    speed: float | None = None
    overhead_s: float = 0.0
    arms: int = 1
    scratch: dict[str, Any] = field(default_factory=dict)

    def choose(self, name: str, value: Any, reason: str) -> Any:
        """Record a choice; returns ``value``."""
        self.chosen[name], self.reasons[name] = value, reason
        return value

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``recipe`` in ``job.resolved.json``, the ``job_started`` event, the report)."""
        data = {"fingerprint": self.fingerprint.to_dict(),
                "chosen": {k: _plain(v) for k, v in self.chosen.items()}, "reasons": dict(self.reasons),
                "given": list(self.given), "speed_images_per_s": self.speed, "arms": self.arms}
        if self.scratch:
            data["random_start"] = {k: _plain(v) for k, v in self.scratch.items()}
        return data

    def describe(self) -> str:
        """One line: each choice with its reason, then the fields kept and the fingerprint."""
        parts = [f"{k} {_short(v)} ({self.reasons[k]})" for k, v in self.chosen.items()]
        given = f"; kept from the job: {', '.join(self.given)}" if self.given else ""
        speed = f"; {self.speed:.0f} training images/s" if self.speed else ""
        return (f"recipe: {'; '.join(parts) or 'nothing to choose'}{given}{speed}. Data: "
                f"{self.fingerprint.describe()}")


def starts_trained(job: Job) -> bool:
    """Whether the network starts from trained weights (a base model, a weights file or a
    pretrained backbone)."""
    m = job.model
    return bool(m.base or m.weights or getattr(m, "backbone", None))


def choose(job: Job, fp: Fingerprint, n_train: int, classes: list[str] | None = None) -> tuple[Job, Recipe]:
    """The settings that depend on the data only: the classifier's pooling, input size,
    augmentation, batch size, learning rates, the freezing policy, early stopping and the
    start check.

    Parameters
    ----------
    job : Job
        As parsed: ``None`` marks a field the recipe chooses.
    fp : Fingerprint
    n_train : int
        Images in the training part.
    classes : list of str, optional
        The data set's classes in the network's order (default: the fingerprint's).

    Returns
    -------
    job : Job
        With those fields filled in (epochs and what depends on them: :func:`plan_epochs`).
    recipe : Recipe
    """
    r = Recipe(fp, given=_given(job))
    classes = classes if classes is not None else list(fp.per_class)
    if job.model.architecture == AUTO:
        model, why = _architecture(job, fp, classes)
        job = replace(job, model=replace(job.model, **model))
        r.choose("architecture", _describe_model(model), why)
    trained = starts_trained(job)
    backbone = _backbone_info(job)  # read once: its size and its method
    changes: dict[str, Any] = {}
    head = _map_head(job, fp, classes)
    if head is not None:
        arguments, what, why = head
        job = replace(job, model=replace(job.model, arguments={**job.model.arguments, **arguments}))
        r.choose(what, _short_arguments(arguments), why)
    changes["model"] = job.model
    if job.input_size is None and job.model.architecture:
        size, why = _backbone_size(backbone) or _input_size(fp)
        changes["input"] = replace(job.input, size=r.choose("input_size", (size, size), why))
    if job.patch_size is None and fp.task == "segmentation":
        size = changes["input"].size if "input" in changes else job.input_size
        changes["patch_size"] = r.choose("patch_size", *patch_size(fp, size))
    if job.augment is None:
        level, spec, why = _augment(fp, _pastes(job, fp, classes))
        changes["augment"] = r.choose("augment", spec, f"{level}: {why}")
    if job.batch_size is None:
        bs = 8 if n_train < 64 else 16
        changes["batch_size"] = r.choose("batch_size", bs, f"{n_train} training images")
    if job.lr is None:
        changes["lr"] = r.choose("lr", *_lr(job))
    if job.backbone_lr_factor is None and (rate := _self_supervised_rate(backbone)) is not None:
        changes["backbone_lr_factor"] = r.choose("backbone_lr_factor", *rate)
    if job.freeze_epochs is None:
        freeze = _head_warmup(job.epochs) if trained else 0
        changes["freeze_epochs"] = r.choose(
            "freeze_epochs", freeze, "head warm-up on trained weights, then everything learns" if trained
            else "random weights: everything learns from the start")
    if job.early_stopping is None:
        changes["early_stopping"] = r.choose("early_stopping", 0, "off: the epochs or the budget end the run")
    if job.final_weights is None:
        changes["final_weights"] = r.choose("final_weights", *_final_weights(job, changes))
    if job.compare_with_scratch and trained:
        r.arms = 2
        r.choose("compare_with_scratch", True, "trained start checked against random weights, "
                                               "the better on validation kept")
    return replace(job, **changes), r


def plan_epochs(job: Job, r: Recipe, seconds: float | None, epoch_s: float | None,
                trained: bool | None = None) -> Job:
    """Epochs (when the job leaves them out) and what follows from them: the learning-rate
    warm-up and the length of the head warm-up.

    Parameters
    ----------
    job : Job
        From :func:`choose`.
    r : Recipe
        Receives the choices.
    seconds : float or None
        Training time of one arm (None: no budget).
    epoch_s : float or None
        Estimated seconds per epoch.
    trained : bool, optional
        Whether the network starts from trained weights (default: as the job says).
    """
    changes: dict[str, Any] = {}
    epochs = job.epochs
    if epochs is None:
        if seconds is None or not epoch_s:
            epochs = r.choose("epochs", 30, "no time budget")
        else:
            fit = int(seconds // epoch_s)
            epochs = r.choose("epochs", max(1, min(MAX_EPOCHS, fit)),
                              f"{fit} epochs of ~{epoch_s:.1f} s fit in {seconds / 60:.1f} min"
                              + (f", at most {MAX_EPOCHS}" if fit > MAX_EPOCHS else ""))
        changes["epochs"] = epochs
    if "freeze_epochs" in r.chosen and job.freeze_epochs > _head_warmup(epochs):
        changes["freeze_epochs"] = r.choose("freeze_epochs", _head_warmup(epochs),
                                            "head warm-up of at most half the epochs")
    if job.warmup_epochs is None:
        trained = starts_trained(job) if trained is None else trained
        changes["warmup_epochs"] = r.choose("warmup_epochs", *_warmup(job, epochs, trained))
    return replace(job, **changes)


def _warmup(job: Job, epochs: int, trained: bool) -> tuple[int, str]:
    """Epochs of linear learning-rate warm-up, and why."""
    if trained and (job.backbone_lr_factor or 0.0) >= 1.0:
        # Unfrozen at the peak rate, a trained trunk is shaken out of what it learnt in a
        # few steps (held-out AUC 0.52 with no warm-up, 0.75 with one; trainer/JOBS.md).
        warm = min(UNFREEZE_WARMUP_EPOCHS, epochs // 2)
        return warm, "trained trunk at the head's rate: it ramps up after the head warm-up"
    if trained:
        return 0, "trained start: the head warm-up serves"
    if epochs < 10:
        return 0, "too few epochs"
    return min(5, max(1, round(0.05 * epochs))), "5 % of the epochs"


def _head_warmup(epochs: int | None) -> int:
    """Epochs of head warm-up: :data:`HEAD_WARMUP_EPOCHS`, at most half of ``epochs``."""
    return HEAD_WARMUP_EPOCHS if epochs is None else min(HEAD_WARMUP_EPOCHS, epochs // 2)


def epoch_seconds(speed: float, n_train: int, n_val: int, overhead_s: float = 0.0) -> float:
    """Estimated seconds of one epoch: training, validation, checkpoints."""
    return n_train / speed + n_val / (speed * EVAL_SPEEDUP) + overhead_s


def smaller_size(size: int) -> int:
    """The next input size down (¾, a multiple of 32, at least :data:`MIN_SIZE`)."""
    return max(MIN_SIZE, int(size * 0.75) // 32 * 32)


def measure_speed(module, input_shape: tuple[int, int, int], batch: int, device, steps: int = 2) -> float:
    """Training images per second of ``module`` (forward and backward) on random input.

    The weights and BatchNorm statistics are restored afterwards; no optimiser step is
    taken. One untimed step first (allocation, kernel choice).
    """
    import torch

    saved = {k: v.detach().clone() for k, v in module.state_dict().items()}
    was_training = module.training
    module.train()
    # its own generator: measuring must not change the run's random numbers
    x = torch.randn((max(2, batch),) + tuple(input_shape), generator=torch.Generator().manual_seed(0)).to(device)
    try:
        for i in range(steps + 1):
            if i == 1:
                _sync(device)
                t0 = time.perf_counter()
            out = module(x)
            out.float().mean().backward()
            module.zero_grad(set_to_none=True)
        _sync(device)
        seconds = time.perf_counter() - t0
    finally:
        module.load_state_dict(saved)
        module.train(was_training)
    return steps * len(x) / max(seconds, 1e-6)


def _sync(device) -> None:
    if getattr(device, "type", "cpu") == "cuda":
        import torch

        torch.cuda.synchronize(device)


def _input_size(fp: Fingerprint) -> tuple[int, str]:
    default = DEFAULT_SIZE[fp.task]
    native = max(fp.image_size) if fp.image_size else None
    cap = MAX_SIZE[fp.task]
    if native:
        cap = min(cap, max(MIN_SIZE, _up32(native)))
    if fp.objects is None:
        size = min(default, cap)
        why = "no masks to measure objects: the usual size" + (
            f", at most the images' {native} px" if size < default else "")
        return size, why
    px = OBJECT_PX[fp.task]
    want = _up32(px / max(fp.objects.small, 1e-6))
    size = min(max(want, MIN_SIZE), cap)
    why = (f"small objects are {fp.objects.small:.1%} of the image side: {px} px need {want} px"
           + (f", kept within {MIN_SIZE}..{cap}" if size != want else ""))
    return size, why


def patch_size(fp: Fingerprint, size: tuple[int, int] | None) -> tuple[int, str]:
    """(training patch side, why) of a segmentation job at input ``size``; 0 = whole images.

    Small findings cover a few % of the pixels: half-side patches, half of them over a
    finding, spend the same work per epoch more on the findings (the same network on the
    lesion bench data in 10 minutes: held-out Dice 0.66 on whole images, 0.73 on patches;
    trainer/JOBS.md, "Segmentation of small findings")."""
    small = small_findings(fp)
    if small is None:
        return 0, "whole images: the masks show no small findings"
    if size is None:
        return 0, "whole images: the input size is the base model's"
    patch = min(size) // 2 // 32 * 32
    if patch < MIN_PATCH:
        return 0, f"whole images: {min(size)} px is too small to cut"
    return patch, (f"small findings ({small:.1%} of the image side): {patch} px squares, half of them over a "
                   "finding, four per image per epoch")


def _architecture(job: Job, fp: Fingerprint, classes: list[str]) -> tuple[dict, str]:
    """``model`` fields (architecture, arguments) for ``"architecture": "auto"``, and why."""
    small = small_findings(fp)
    if small is not None:
        findings = f"the masks show small findings ({small:.1%} of the image side)"
        if fp.task == "segmentation":
            return ({"architecture": "lesion_unet", "arguments": {"test_time_flips": True}},
                    f"{findings}: a small U-Net on local contrast, many passes over the images in the time; "
                    "its outline is the mean over the image's mirror images (findings have no orientation)")
        if len(classes) == 2 and job.mask_weight > 0:
            return ({"architecture": "lesion_map", "arguments": {}},
                    f"two classes, and {findings}: a classifier deciding from a map with a cell every "
                    f"{_lesion_stride()} px, which the masks supervise")
    model = AUTO_DEFAULT[fp.task]
    why = ("no small findings in the masks" if fp.task == "segmentation" else
           "no masks showing small findings" if len(classes) == 2 else f"{len(classes)} classes")
    return {"architecture": model["architecture"], "arguments": dict(model["arguments"])}, why


def _backbone_info(job: Job):
    """The :class:`~medview.inference.backbones.BackboneInfo` of the job's backbone, or None
    (no backbone, or one that cannot be read: building the network says what is wrong)."""
    from medview.inference.backbones import BackboneError, find_backbone, read_info

    m = job.model
    if not getattr(m, "backbone", None):
        return None
    try:
        return read_info(find_backbone(m.backbone, m.backbone_version))
    except BackboneError:
        return None


def _backbone_size(info) -> tuple[int, str] | None:
    """(side, why): a backbone's (``info``, or None) features were learnt at its input size,
    so a job that sets none starts there."""
    if info is None:
        return None
    return min(info.input_size), f"the backbone {info.key} learnt at {min(info.input_size)} px"


def _self_supervised_rate(info) -> tuple[float, str] | None:
    """(:data:`SELF_SUPERVISED_RATE`, why) when the backbone ``info`` is self-supervised;
    None otherwise (no backbone; other trained starts keep the optimiser's 0.1)."""
    if info is None or not info.self_supervised:
        return None
    return SELF_SUPERVISED_RATE, (f"{info.key} is self-supervised ({info.method}): no layer of it "
                                  "is tuned to a labelled task, so all of it learns at the head's rate")


def _lesion_stride() -> int:
    from medview.inference.lesion_map import STRIDE

    return STRIDE


def _describe_model(model: dict) -> str:
    encoder = model["arguments"].get("encoder_name")
    return model["architecture"] + (f" ({encoder} encoder)" if encoder else "")


def _map_head(job: Job, fp: Fingerprint, classes: list[str]) -> tuple[dict, str, str] | None:
    """(arguments, choice name, why) a classifier deciding from its class maps needs and
    the job left out: the background class (the negative one of two) of a ``lesion_map``
    or of a ResNet asking for ``"pooling": "top_k"`` (:mod:`medview.inference.map_head`),
    and the latter's share of cells. None when there is nothing to fill in.

    The top-k ResNet head is not chosen unasked: on the lesion bench data it did no better
    than global average pooling with the auxiliary mask output, and better in one later
    run only (trainer/JOBS.md)."""
    from medview.inference.architectures import POOLING, decides_from_map
    from medview.inference.map_head import DEFAULT_TOP_K
    from trainer.evaluate import positive_index

    m = job.model
    lesion_map = m.architecture == "lesion_map"
    if (fp.task != "classification" or len(classes) != 2 or m.base or "background_class" in m.arguments
            or not decides_from_map(m.architecture, m.arguments)):
        return None
    pos = positive_index(classes, job.positive_class)
    masks = " (the masks supervise that map)" if fp.masks and job.mask_weight > 0 else ""
    if lesion_map:
        return ({"background_class": 1 - pos}, "background_class",
                f"the image's score is its strongest '{classes[pos]}' cell against '{classes[1 - pos]}'{masks}")
    head = {"pooling": POOLING, "background_class": 1 - pos, "top_k": m.arguments.get("top_k", DEFAULT_TOP_K)}
    return head, "pooling", (f"the job asked for it: the image's score is its strongest '{classes[pos]}' cells "
                             f"against '{classes[1 - pos]}'{masks}")


def _short_arguments(arguments: dict) -> str:
    if "pooling" in arguments:
        return f"{arguments['pooling']} {arguments['top_k']:g}"
    return str(arguments["background_class"])


def _lr(job: Job) -> tuple[float, str]:
    if job.optimizer == "sgd":
        return 1e-2, "sgd"
    lr = ARCHITECTURE_LR.get(job.model.architecture or "", DEFAULT_LR)
    return lr, job.optimizer + (f", {job.model.architecture}" if lr != DEFAULT_LR else "")


def _augment(fp: Fingerprint, pastes: bool) -> tuple[str, AugmentSpec, str]:
    """(level, spec, why); with ``pastes``, small findings are also pasted between images."""
    n = fp.smallest_class
    for limit, level, spec in AUGMENT_LEVELS:
        if n <= limit:
            what = "images in the rarest class" if fp.task == "classification" else "images with the rarest class"
            if small_findings(fp) is None:
                return level, spec, f"{n} {what}"
            why = f"{n} {what}; small findings have no orientation: flips both ways, any rotation"
            if not pastes:
                return level, replace(spec, **ORIENTATION_FREE), why
            where = ("of the patches over a finding get one" if fp.task == "segmentation"
                     else "of the images get a finding (and its class)")
            return (level, replace(spec, **ORIENTATION_FREE, paste=PASTE_SHARE),
                    f"{why}; {PASTE_SHARE:.0%} {where} cut from another training image")
    raise AssertionError("AUGMENT_LEVELS ends with infinity")


def _pastes(job: Job, fp: Fingerprint, classes: list[str]) -> bool:
    """Whether findings can be pasted between training images: a segmenter's label map
    takes any; a classifier's image becomes its one finding class, so two classes whose
    masks the training uses (trainer/JOBS.md, "Copy-paste of findings")."""
    return fp.task == "segmentation" or (len(classes) == 2 and job.mask_weight > 0)


def small_findings(fp: Fingerprint) -> float | None:
    """The small objects' size (25th-percentile diameter, share of the image side) when the
    masks show small findings (below :data:`SMALL_FINDING`), else None."""
    small = fp.objects.small if fp.objects is not None else None
    return small if small is not None and small < SMALL_FINDING else None


def _final_weights(job: Job, changes: dict[str, Any]) -> tuple[str, str]:
    if changes.get("early_stopping", job.early_stopping):
        return "best", "early stopping is on"
    if job.scheduler != "cosine":
        return "best", f"the {job.scheduler} schedule does not end at a small learning rate"
    return "last", ("the cosine schedule ends at a small learning rate: steadier than the best epoch of a few "
                    "dozen validation images (nnU-Net also keeps its final weights)")


def _given(job: Job) -> list[str]:
    names = ("input_size", "patch_size", "augment", "batch_size", "lr", "epochs", "freeze_epochs", "warmup_epochs",
             "early_stopping", "final_weights")
    given = [n for n in names if getattr(job, n) is not None]
    if job.model.base:
        given = [n for n in given if n != "input_size"] + ["input_size (the base model's)"]
    return given


def _up32(v: float) -> int:
    return int(math.ceil(v / 32.0) * 32)


def _plain(v: Any) -> Any:
    if isinstance(v, AugmentSpec):
        from dataclasses import asdict

        return asdict(v)
    if isinstance(v, tuple):
        return list(v)
    return v


def _short(v: Any) -> str:
    if isinstance(v, AugmentSpec):
        return (f"rotate ±{v.rotate:g}°, scale ±{v.scale:g}, brightness ±{v.brightness:g}, "
                f"contrast ±{v.contrast:g}{', flip' if v.flip else ''}")
    if isinstance(v, tuple) and len(v) == 2 and v[0] == v[1]:
        return f"{v[0]} px"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)
