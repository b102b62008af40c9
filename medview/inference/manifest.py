"""The ``model.json`` manifest of a model folder: dataclasses and validation.

A model folder holds ``model.json`` (this module) and ``weights.safetensors``.
Every field is validated when the manifest is read, and a failure names the
model, the field (dotted path) and the reason, e.g.::

    ManifestError: model 'chest-demo' field 'input.size': must be two positive integers

No torch here: the registry lists models, and the trainer's data loader
workers preprocess images, without importing it.
"""

import datetime
import json
import re
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from medview.core import atomic
from medview.core.errors import MedviewError
from medview.core.schema import Meta, Reader, is_int
from medview.inference.architectures import ARCHITECTURES, architecture_names
from medview.inference.familiarity import METHOD, REFERENCE_NAME
from medview.inference.scope import IntendedInput, read_intended_input

FORMAT_VERSION = 1
MANIFEST_NAME = "model.json"
WEIGHTS_NAME = "weights.safetensors"
GRAPH_NAME = "model.onnx"
INT8_NAME = "model.int8.onnx"
Task = Literal["classification", "segmentation"]
Activation = Literal["softmax", "sigmoid"]
ResizeMode = Literal["letterbox", "stretch"]
CropKind = Literal["center", "foreground"]
Conduction = Literal["exponential", "quadratic"]
TASKS, ACTIVATIONS, RESIZE_MODES, CROP_KINDS, CONDUCTIONS = map(
    get_args, (Task, Activation, ResizeMode, CropKind, Conduction))
WINDOW_MODES = ("auto", "stored", "minmax")
# Lower-case start, then letters, digits, '.', '_' or '-': safe as a folder name everywhere.
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,31}$")


class ModelError(MedviewError):
    """A model cannot be listed, imported or loaded; the message names the model."""


class ManifestError(ModelError):
    """A manifest field is missing or invalid.

    Parameters
    ----------
    model : str
        The model's name (or its folder name when the name itself is bad).
    field : str
        Dotted path of the field, e.g. ``"input.size"``.
    reason : str
        What is wrong, in one line.
    """

    def __init__(self, model: str, field: str, reason: str) -> None:
        self.model, self.field, self.reason = model, field, reason
        super().__init__(f"model '{model}' field '{field}': {reason}")


# ----------------------------------------------------------------------- declarations

#: A model or backbone name: safe as a folder name everywhere.
Name = Annotated[str, Meta(pattern=_NAME_RE.pattern, extra={
    "hint": "lower-case letters, digits, '.', '_' or '-', at most 64"})]
#: A version: letters, digits and ``._+-``, no spaces.
Version = Annotated[str, Meta(pattern=_VERSION_RE.pattern, extra={"hint": "e.g. 1.0.0, no spaces"})]
Share = Annotated[float, Meta(ge=0.0, le=1.0)]


@dataclass(frozen=True)
class ArchitectureSpec:
    """Which network to build: a name from :data:`ARCHITECTURES` and its keyword arguments."""

    name: Annotated[str, Meta(description="`resnet18`, `resnet34`, `resnet50`, `densenet121`, "
                                          "`mobilenet_v3_small`, `mobilenet_v3_large`, "
                                          "`efficientnet_b0` (classification); `fpn`, `unet` "
                                          "(segmentation)")]
    arguments: Annotated[dict[str, Any], Meta(
        description="keyword arguments of the architecture (e.g. `encoder_name`); classes, "
                    "channels and weights are set by medview")] = field(default_factory=dict)


@dataclass(frozen=True)
class InputSpec:
    """The network input: ``size`` is (height, width); ``channels`` 1 (grey) or 3 (RGB)."""

    size: Annotated[tuple[int, int], Meta(description="`[height, width]`, 16 … 4096 pixels")]
    channels: Annotated[Literal[1, 3], Meta(description="1 (grey) or 3 (RGB)",
                                            extra={"reason": "must be 1 (grey) or 3 (RGB)"})]


@dataclass(frozen=True)
class Normalisation:
    """Per-channel ``(x - mean) / std`` applied to the [0, 1] image last."""

    mean: Annotated[tuple[float, ...] | None, Meta(description="one number per input channel",
                                                   extra={"default": "0"})] = None
    std: Annotated[tuple[float, ...] | None, Meta(description="one positive number per input "
                                                              "channel",
                                                  extra={"default": "1"})] = None


@dataclass(frozen=True)
class FixedWindow:
    """A fixed grey window in modality units (e.g. HU)."""

    center: Annotated[float, Meta(description="window centre")]
    width: Annotated[float, Meta(ge=1.0, description="window width")]


@dataclass(frozen=True)
class WindowSpec:
    """How grey modality values become [0, 1] (what ``preprocessing.window`` says).

    ``mode`` is ``"auto"`` (0.5-99.5 percentile span), ``"stored"`` (the file's
    first window, else auto), ``"minmax"``, ``"preset"`` (``preset`` names a
    stored window or a modality preset such as ``"Lung"``) or ``"fixed"``
    (``center`` and ``width`` in modality units, e.g. HU).
    """

    mode: str = "auto"
    preset: str = ""
    center: float = 0.0
    width: float = 1.0


def _window(reader: Reader, raw: Any, path: str) -> WindowSpec:
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            reader.fail(path, "must not be empty")
        if text.lower() in WINDOW_MODES:
            return WindowSpec(text.lower())
        return WindowSpec("preset", preset=text)
    fixed = reader.object(raw, FixedWindow, path)
    return WindowSpec("fixed", center=fixed.center, width=fixed.width)


@dataclass(frozen=True)
class CropSpec:
    """Crop before resizing.

    ``"center"`` keeps the central ``fraction`` of each side; ``"foreground"``
    keeps the bounding box of pixels above ``threshold`` (in the [0, 1] image),
    grown by ``margin`` (a fraction of the box size), e.g. to drop the black
    frame and side annotations of an ultrasound image.
    """

    kind: Annotated[CropKind, Meta(description="`center` or `foreground`")]
    fraction: Annotated[float, Meta(ge=0.05, le=1.0, description="`center`: the share of each "
                                                                 "side kept")] = 1.0
    threshold: Annotated[Share, Meta(description="`foreground`: pixels above it (in the [0, 1] "
                                                 "image) are foreground")] = 0.05
    margin: Annotated[Share, Meta(description="`foreground`: the box grown by this fraction of "
                                              "its size")] = 0.0


@dataclass(frozen=True)
class ClaheSpec:
    """Contrast-limited adaptive histogram equalisation (OpenCV, 8-bit)."""

    clip_limit: Annotated[float, Meta(ge=0.1, le=100.0, description="contrast limit")] = 2.0
    tile_grid: Annotated[tuple[int, int], Meta(description="tiles per side, at most 64")] = (8, 8)


@dataclass(frozen=True)
class DiffusionSpec:
    """Perona-Malik anisotropic diffusion; ``kappa`` is in [0, 1] intensity units."""

    iterations: Annotated[int, Meta(ge=1, le=500, description="diffusion steps")] = 10
    kappa: Annotated[float, Meta(ge=1e-6, le=10.0, description="edge threshold in [0, 1] "
                                                               "intensity units")] = 0.1
    # gamma > 0.25 makes the explicit 4-neighbour scheme unstable (Perona & Malik 1990).
    gamma: Annotated[float, Meta(ge=1e-6, le=0.25, description="step size (stable up to "
                                                               "0.25)")] = 0.2
    conduction: Annotated[Conduction, Meta(
        description="`exponential` or `quadratic`")] = "exponential"


@dataclass(frozen=True)
class Preprocessing:
    """The steps between modality values and the network input, in this order."""

    window: Annotated[str | FixedWindow, Meta(
        description="`auto` (0.5–99.5 percentile span), `stored` (the file's first window, else "
                    "auto), `minmax`, a preset name (a stored window's explanation or a "
                    "modality preset such as `Lung`), or `{\"center\", \"width\"}` in modality "
                    "units (e.g. HU)",
        extra={"check": _window, "default": "`auto`"})] = WindowSpec()
    crop: Annotated[CropSpec | None, Meta(description="crop before resizing")] = None
    resize: Annotated[ResizeMode, Meta(
        description="`letterbox` (keep the aspect ratio, pad) or `stretch`")] = "letterbox"
    clahe: Annotated[ClaheSpec | None, Meta(description="contrast-limited adaptive histogram "
                                                        "equalisation")] = None
    diffusion: Annotated[DiffusionSpec | None, Meta(description="Perona–Malik anisotropic "
                                                                "diffusion")] = None


@dataclass(frozen=True)
class OutputSpec:
    """What turns the network's logits into probabilities."""

    activation: Annotated[Activation | None, Meta(
        description="`softmax` or `sigmoid` (one segmentation class: sigmoid)",
        extra={"default": "`softmax`; `sigmoid` for one segmentation class"})] = None
    temperature: Annotated[float, Meta(ge=0.01, le=100.0, description=(
        "logits are divided by it before the activation (temperature scaling fitted on the "
        "validation split; 1: as trained)"))] = 1.0


@dataclass(frozen=True)
class ModelCard:
    """What the model is for and how it was made (shown before anyone relies on it)."""

    intended_use: Annotated[str, Meta(description="what the model is for")]
    training_data: Annotated[str, Meta(description="what it learnt from")]
    date: Annotated[str, Meta(description="ISO date (YYYY-MM-DD) it was made")]
    metrics: Annotated[dict[str, float], Meta(description="test-set metrics by name")] = field(
        default_factory=dict)
    limitations: Annotated[str, Meta(description="known limitations")] = ""
    authors: Annotated[str, Meta(description="who made it")] = ""


@dataclass(frozen=True)
class WeightsSpec:
    """The weights file of the folder and, once imported, its SHA-256."""

    file: Annotated[str, Meta(description="a .safetensors file name inside the model "
                                          "folder")] = WEIGHTS_NAME
    sha256: Annotated[str, Meta(description="64 hexadecimal digits, checked on loading; empty "
                                            "until imported")] = ""


@dataclass(frozen=True)
class OnnxSpec:
    """The model's ONNX graph, made from the weights at import and checked against them.

    Analysis runs it with ONNX Runtime or OpenVINO, without torch
    (:mod:`medview.inference.graph`).
    """

    file: Annotated[str, Meta(description="an .onnx file name inside the model folder")] = GRAPH_NAME
    sha256: Annotated[str, Meta(description="64 hexadecimal digits, checked before the graph "
                                            "runs")] = ""


@dataclass(frozen=True)
class Int8Spec:
    """The model's int8 graph (post-training static quantisation), or why there is none.

    Made from the fp32 graph with calibration images and kept only if it keeps the
    model's test metric and probabilities (:mod:`medview.inference.quantize`); a refused
    variant records its figures and the reason, and names no file.
    """

    calibration_images: Annotated[int, Meta(ge=1, description="images the activation ranges "
                                                              "were calibrated on (validation)")]
    test_images: Annotated[int, Meta(ge=1, description="labelled test images it was checked on")]
    metric: Annotated[Literal["auc", "dice"], Meta(
        description="the test metric compared: `auc` (classifiers), `dice` (pooled foreground "
                    "Dice, segmenters)")]
    fp32: Annotated[float, Meta(description="the metric of the fp32 graph on the test images")]
    int8: Annotated[float, Meta(description="the metric of the int8 graph on the same images")]
    max_probability_delta: Annotated[float, Meta(
        ge=0.0, description="largest absolute difference between the int8 and fp32 probabilities "
                            "over the test images (every class and pixel)")]
    label_changes: Annotated[int, Meta(ge=0, description="test images whose label differs from "
                                                         "fp32's (masks: whose mask Dice to fp32's "
                                                         "is below 0.99)")] = 0
    method: Annotated[Literal["onnxruntime-qdq"], Meta(
        description="how it was quantised")] = "onnxruntime-qdq"
    file: Annotated[str, Meta(description="an .onnx file name inside the model folder; empty "
                                          "when refused")] = ""
    sha256: Annotated[str, Meta(description="64 hexadecimal digits, checked before it runs")] = ""
    refused: Annotated[str, Meta(description="why the int8 graph was not kept; empty when "
                                             "kept")] = ""

    @property
    def kept(self) -> bool:
        """Whether the folder holds the int8 graph (analysis may run it)."""
        return bool(self.file)


@dataclass(frozen=True)
class FamiliaritySpec:
    """Where the reference of the training images lies, and how it was made."""

    file: Annotated[str, Meta(description="a .safetensors file name inside the model folder, "
                                          "other than the weights")] = REFERENCE_NAME
    method: Annotated[Literal[METHOD], Meta(
        description="how the reference was made")] = METHOD


@dataclass(frozen=True)
class Manifest:
    """A validated ``model.json``.

    Build one with :func:`parse_manifest` or :func:`read_manifest`; write one
    with :func:`write_manifest`. The file's ``output`` block is read into
    ``activation`` and ``temperature``.
    """

    name: Annotated[Name, Meta(description="the model's name (lower-case, a folder name)")]
    version: Annotated[Version, Meta(description="its version")]
    task: Annotated[Task, Meta(
        description="`classification` or `segmentation`")]
    architecture: Annotated[ArchitectureSpec, Meta(description="the network to build")]
    classes: Annotated[tuple[str, ...], Meta(
        min_length=1, description="output classes in order (a classifier needs two; "
                                  "softmax segmentation: background first)")]
    input: Annotated[InputSpec, Meta(description="the network input")]
    card: Annotated[ModelCard, Meta(description="what the model is for and how it was made")]
    activation: Annotated[str, Meta(extra={"internal": True})] = ""  # "": not read yet
    normalisation: Annotated[Normalisation, Meta(
        description="per-channel `(x - mean) / std` applied to the [0, 1] image last",
        extra={"default": "mean 0, std 1"})] = Normalisation()
    preprocessing: Annotated[Preprocessing, Meta(
        description="window, crop, resize, clahe, diffusion (in this order)",
        extra={"default": "window auto, letterbox"})] = Preprocessing()
    thresholds: Annotated[dict[str, Share], Meta(
        description="decision threshold by class name",
        extra={"default": "0.5 (sigmoid), 0 (softmax)"})] = field(default_factory=dict)
    weights: Annotated[WeightsSpec, Meta(description="the weights file and its SHA-256",
                                         extra={"default": "`weights.safetensors`"})] = WeightsSpec()
    format: Annotated[int, Meta(ge=1, description="format version of the file")] = FORMAT_VERSION
    #: Where the model applies; None: anywhere, unchecked (manifests made before it existed).
    intended_input: Annotated[IntendedInput | None, Meta(
        description="where the model applies, checked before every analysis (modalities, "
                    "body parts, views, photometric, pixel spacing, image size)",
        extra={"default": "anywhere, unchecked", "check": read_intended_input})] = None
    #: The compact description of the training images (:mod:`medview.inference.familiarity`);
    #: None: no check of "unlike the training images".
    familiarity: Annotated[FamiliaritySpec | None, Meta(
        description="the reference of the training images for the \"unlike the training "
                    "images\" check", extra={"default": "no check"})] = None
    #: Logits are divided by it before the activation (temperature scaling, fitted on the
    #: validation split by the trainer so probabilities are calibrated; 1: as trained).
    temperature: Annotated[float, Meta(extra={"internal": True})] = 1.0
    output: Annotated[OutputSpec, Meta(description="what turns logits into probabilities",
                                       extra={"default": "see below"})] = OutputSpec()
    onnx: Annotated[OnnxSpec | None, Meta(
        description="the ONNX graph analysis runs without torch",
        extra={"default": "none: torch runs the weights (imported before graphs existed)"})] = None
    int8: Annotated[Int8Spec | None, Meta(
        description="the int8 graph made at registration, with the test figures that kept "
                    "or refused it", extra={"default": "none: not quantised"})] = None

    def __post_init__(self) -> None:
        # ``output`` is the file's view of ``activation`` and ``temperature``: in step once read.
        if self.activation:
            object.__setattr__(self, "output", OutputSpec(self.activation, self.temperature))

    @property
    def key(self) -> str:
        """``name@version``: identifies the model in caches, logs and messages."""
        return f"{self.name}@{self.version}"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one network input."""
        return (self.input.channels, *self.input.size)

    def threshold(self, class_name: str) -> float:
        """Decision threshold of a class: the manifest's, else 0.5 for sigmoid, 0 for softmax."""
        default = 0.5 if self.activation == "sigmoid" else 0.0
        return self.thresholds.get(class_name, default)

    def to_dict(self) -> dict[str, Any]:
        """The manifest as JSON-ready data; :func:`parse_manifest` reads it back unchanged."""
        data = asdict(self)
        data["output"] = {"activation": data.pop("activation")}
        temperature = data.pop("temperature")
        if temperature != 1.0:
            data["output"]["temperature"] = temperature
        data["preprocessing"]["window"] = _window_to_json(self.preprocessing.window)
        data["intended_input"] = (self.intended_input.to_json() if self.intended_input
                                  else None)
        order = ("format", "name", "version", "task", "intended_input", "architecture",
                 "classes", "input", "normalisation", "preprocessing", "output", "thresholds",
                 "card", "weights", "onnx", "int8", "familiarity")
        # The order people read a model.json in; optional blocks only when present.
        return {key: data[key] for key in order
                if key not in _OPTIONAL_BLOCKS or data[key] is not None}


_OPTIONAL_BLOCKS = ("intended_input", "onnx", "int8", "familiarity")


# ----------------------------------------------------------------------- reading

def read_manifest(path: str | Path) -> Manifest:
    """Read and validate a ``model.json`` file.

    Parameters
    ----------
    path : str or Path
        The manifest file, or the model folder holding it.

    Raises
    ------
    ManifestError
        Naming the model (the folder name until the name is known), the field
        and the reason; also for a missing file or malformed JSON.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    fallback = path.parent.name or str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(fallback, MANIFEST_NAME, f"file not found in {path.parent}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(fallback, MANIFEST_NAME, f"cannot be read ({err})") from None
    except json.JSONDecodeError as err:
        raise ManifestError(fallback, MANIFEST_NAME,
                            f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}"
                            ) from None
    return parse_manifest(data, fallback_name=fallback)


def parse_manifest(data: Any, fallback_name: str = "?") -> Manifest:
    """Validate manifest data (the parsed JSON) into a :class:`Manifest`.

    Parameters
    ----------
    data : dict
        The parsed ``model.json``.
    fallback_name : str
        Name used in messages when ``data`` has no valid name.

    Raises
    ------
    ManifestError
        For the first missing, unknown or invalid field.
    """
    name = _peek_name(data, fallback_name)
    reader = Reader(partial(ManifestError, name))
    fmt = data.get("format")
    if is_int(fmt) and fmt > FORMAT_VERSION:  # before any field a newer format may have added
        reader.fail("format", f"version {fmt} is newer than this medview reads ({FORMAT_VERSION}); "
                              "update medview")
    m = reader.object(data, Manifest)
    activation = _activation(reader, m)
    return replace(m, architecture=_architecture(reader, m), activation=activation,
                   temperature=m.output.temperature, classes=_classes(reader, m),
                   input=_input(reader, m.input),
                   normalisation=_normalisation(reader, m.normalisation, m.input.channels),
                   preprocessing=_preprocessing(reader, m.preprocessing),
                   thresholds=_thresholds(reader, m.thresholds, m.classes), card=_card(reader, m.card),
                   weights=_weights(reader, m.weights), familiarity=_familiarity(reader, m.familiarity),
                   onnx=_onnx(reader, m.onnx), int8=_int8(reader, m.int8, m.onnx))


def write_manifest(manifest: Manifest, path: str | Path) -> None:
    """Write ``manifest`` as JSON atomically (temp file, then ``os.replace``).

    Parameters
    ----------
    manifest : Manifest
    path : str or Path
        The ``model.json`` file to (over)write.
    """
    path = Path(path)
    text = json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False) + "\n"
    atomic.write_text(path, text)


# ----------------------------------------------------------------------- sections
# Rules across fields, and beyond one field's type (each field's own are declared above).

def _peek_name(data: Any, fallback: str) -> str:
    if not isinstance(data, dict):
        raise ManifestError(fallback, "(top level)", "must be a JSON object")
    name = data.get("name")
    # Stripped, as the reader validates and returns it.
    name = name.strip() if isinstance(name, str) else ""
    return name if _NAME_RE.match(name) else fallback


def _architecture(reader: Reader, m: Manifest) -> ArchitectureSpec:
    name = m.architecture.name.lower()
    if name not in ARCHITECTURES:
        reader.fail("architecture.name", f"unknown architecture '{name}'; valid: "
                                         f"{', '.join(architecture_names())}")
    arch_task = ARCHITECTURES[name].task
    if arch_task != m.task:
        reader.fail("task", f"architecture '{name}' is for {arch_task}, not {m.task}")
    for key in ARCHITECTURES[name].reserved:
        if key in m.architecture.arguments:
            reader.fail(f"architecture.arguments.{key}", "is set by medview from 'classes', "
                                                         "'input.channels' and local weights; remove it")
    return replace(m.architecture, name=name)


def _classes(reader: Reader, m: Manifest) -> tuple[str, ...]:
    if m.task == "classification" and len(m.classes) < 2:
        reader.fail("classes", "a classifier needs at least two classes")
    return m.classes


def _input(reader: Reader, spec: InputSpec) -> InputSpec:
    if min(spec.size) < 16 or max(spec.size) > 4096:
        reader.fail("input.size", f"{spec.size[0]}x{spec.size[1]} is outside 16..4096 pixels")
    return spec


def _activation(reader: Reader, m: Manifest) -> str:
    # One segmentation class can only be a sigmoid (foreground probability).
    default = "sigmoid" if m.task == "segmentation" and len(m.classes) == 1 else "softmax"
    activation = m.output.activation or default
    if activation == "softmax" and m.task == "segmentation" and len(m.classes) < 2:
        reader.fail("output.activation", "softmax segmentation needs a background class first "
                                         "and at least one more; use sigmoid for a single class")
    return activation


def _normalisation(reader: Reader, spec: Normalisation, channels: int) -> Normalisation:
    reason = f"must be a list of {channels} numbers (one per input channel)"
    for key in ("mean", "std"):
        if getattr(spec, key) is not None and len(getattr(spec, key)) != channels:
            reader.fail(f"normalisation.{key}", reason)
    std = spec.std or (1.0,) * channels
    if any(s <= 0 for s in std):
        reader.fail("normalisation.std", "every value must be positive")
    return Normalisation(spec.mean or (0.0,) * channels, std)


def _preprocessing(reader: Reader, spec: Preprocessing) -> Preprocessing:
    if spec.clahe is not None and max(spec.clahe.tile_grid) > 64:
        reader.fail("preprocessing.clahe.tile_grid", "at most 64 tiles per side")
    return spec


def _window_to_json(window: WindowSpec) -> Any:
    if window.mode == "fixed":
        return {"center": window.center, "width": window.width}
    return window.preset if window.mode == "preset" else window.mode


def _thresholds(reader: Reader, thresholds: dict[str, float], classes: tuple[str, ...]
                ) -> dict[str, float]:
    for key in thresholds:
        if key not in classes:
            reader.fail(f"thresholds.{key}", f"not one of the classes ({', '.join(classes)})")
    return thresholds


def _card(reader: Reader, card: ModelCard) -> ModelCard:
    try:
        datetime.date.fromisoformat(card.date)
    except ValueError:
        reader.fail("card.date", f"'{card.date}' is not an ISO date (YYYY-MM-DD)")
    return card


def _familiarity(reader: Reader, spec: FamiliaritySpec | None) -> FamiliaritySpec | None:
    if spec is not None and (Path(spec.file).name != spec.file or spec.file == WEIGHTS_NAME
                             or not spec.file.endswith(".safetensors")):
        reader.fail("familiarity.file", "must be a .safetensors file name inside the model "
                                        "folder, other than the weights")
    return spec


def _weights(reader: Reader, spec: WeightsSpec) -> WeightsSpec:
    if Path(spec.file).name != spec.file or not spec.file.endswith(".safetensors"):
        reader.fail("weights.file", "must be a .safetensors file name inside the model folder")
    return replace(spec, sha256=_sha256(reader, "weights.sha256", spec.sha256))


def _onnx(reader: Reader, spec: OnnxSpec | None) -> OnnxSpec | None:
    if spec is None:
        return None
    if Path(spec.file).name != spec.file or not spec.file.endswith(".onnx"):
        reader.fail("onnx.file", "must be an .onnx file name inside the model folder")
    if not spec.sha256:
        reader.fail("onnx.sha256", "is required: the graph is checked before it runs")
    return replace(spec, sha256=_sha256(reader, "onnx.sha256", spec.sha256))


def _int8(reader: Reader, spec: Int8Spec | None, onnx: OnnxSpec | None) -> Int8Spec | None:
    if spec is None:
        return None
    if onnx is None:
        reader.fail("int8", "needs the fp32 graph (onnx) it was made from")
    if spec.kept == bool(spec.refused):
        reader.fail("int8", "names either its file (kept) or why it was refused, not both")
    if spec.kept:
        if Path(spec.file).name != spec.file or not spec.file.endswith(".onnx") \
                or spec.file == onnx.file:
            reader.fail("int8.file", "must be an .onnx file name inside the model folder, other "
                                     "than the fp32 graph")
        if not spec.sha256:
            reader.fail("int8.sha256", "is required: the graph is checked before it runs")
    return replace(spec, sha256=_sha256(reader, "int8.sha256", spec.sha256))


def _sha256(reader: Reader, field: str, value: str) -> str:
    sha = value.lower()
    if sha and not re.fullmatch(r"[0-9a-f]{64}", sha):
        reader.fail(field, "must be 64 hexadecimal digits")
    return sha
