"""The ``model.json`` manifest of a model folder: dataclasses and validation.

A model folder holds ``model.json`` (this module) and ``weights.safetensors``.
Every field is validated when the manifest is read, and a failure names the
model, the field (dotted path) and the reason, e.g.::

    ManifestError: model 'chest-demo' field 'input.size': must be two positive integers

No torch here: the registry lists models, and the trainer's data loader
workers preprocess images, without importing it.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from medview.core import atomic
from medview.core.errors import MedviewError
from medview.core.json_fields import Fields
from medview.core import vocabulary as vocab
from medview.core.json_fields import did_you_mean
from medview.inference.architectures import ARCHITECTURES, architecture_names
from medview.inference.familiarity import METHOD, REFERENCE_NAME
from medview.inference.scope import IntendedInput

FORMAT_VERSION = 1
MANIFEST_NAME = "model.json"
WEIGHTS_NAME = "weights.safetensors"
GRAPH_NAME = "model.onnx"
TASKS = ("classification", "segmentation")
ACTIVATIONS = ("softmax", "sigmoid")
RESIZE_MODES = ("letterbox", "stretch")
WINDOW_MODES = ("auto", "stored", "minmax")
CROP_KINDS = ("center", "foreground")
CONDUCTIONS = ("exponential", "quadratic")
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


# ----------------------------------------------------------------------- dataclasses

@dataclass(frozen=True)
class ArchitectureSpec:
    """Which network to build: a name from :data:`ARCHITECTURES` and its keyword arguments."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InputSpec:
    """The network input: ``size`` is (height, width); ``channels`` 1 (grey) or 3 (RGB)."""

    size: tuple[int, int]
    channels: int


@dataclass(frozen=True)
class Normalisation:
    """Per-channel ``(x - mean) / std`` applied to the [0, 1] image last."""

    mean: tuple[float, ...]
    std: tuple[float, ...]


@dataclass(frozen=True)
class WindowSpec:
    """How grey modality values become [0, 1].

    ``mode`` is ``"auto"`` (0.5-99.5 percentile span), ``"stored"`` (the file's
    first window, else auto), ``"minmax"``, ``"preset"`` (``preset`` names a
    stored window or a modality preset such as ``"Lung"``) or ``"fixed"``
    (``center`` and ``width`` in modality units, e.g. HU).
    """

    mode: str = "auto"
    preset: str = ""
    center: float = 0.0
    width: float = 1.0


@dataclass(frozen=True)
class CropSpec:
    """Crop before resizing.

    ``"center"`` keeps the central ``fraction`` of each side; ``"foreground"``
    keeps the bounding box of pixels above ``threshold`` (in the [0, 1] image),
    grown by ``margin`` (a fraction of the box size), e.g. to drop the black
    frame and side annotations of an ultrasound image.
    """

    kind: str
    fraction: float = 1.0
    threshold: float = 0.05
    margin: float = 0.0


@dataclass(frozen=True)
class ClaheSpec:
    """Contrast-limited adaptive histogram equalisation (OpenCV, 8-bit)."""

    clip_limit: float = 2.0
    tile_grid: tuple[int, int] = (8, 8)


@dataclass(frozen=True)
class DiffusionSpec:
    """Perona-Malik anisotropic diffusion; ``kappa`` is in [0, 1] intensity units."""

    iterations: int = 10
    kappa: float = 0.1
    gamma: float = 0.2
    conduction: str = "exponential"


@dataclass(frozen=True)
class Preprocessing:
    """The steps between modality values and the network input, in this order."""

    window: WindowSpec = WindowSpec()
    crop: CropSpec | None = None
    resize: str = "letterbox"
    clahe: ClaheSpec | None = None
    diffusion: DiffusionSpec | None = None


@dataclass(frozen=True)
class ModelCard:
    """What the model is for and how it was made (shown before anyone relies on it)."""

    intended_use: str
    training_data: str
    date: str
    metrics: dict[str, float] = field(default_factory=dict)
    limitations: str = ""
    authors: str = ""


@dataclass(frozen=True)
class WeightsSpec:
    """The weights file of the folder and, once imported, its SHA-256."""

    file: str = WEIGHTS_NAME
    sha256: str = ""


@dataclass(frozen=True)
class OnnxSpec:
    """The model's ONNX graph, made from the weights at import and checked against them.

    Analysis runs it with ONNX Runtime or OpenVINO, without torch
    (:mod:`medview.inference.graph`).
    """

    file: str = GRAPH_NAME
    sha256: str = ""


@dataclass(frozen=True)
class FamiliaritySpec:
    """Where the reference of the training images lies, and how it was made."""

    file: str = REFERENCE_NAME
    method: str = METHOD


@dataclass(frozen=True)
class Manifest:
    """A validated ``model.json``.

    Build one with :func:`parse_manifest` or :func:`read_manifest`; write one
    with :func:`write_manifest`.
    """

    name: str
    version: str
    task: str
    architecture: ArchitectureSpec
    classes: tuple[str, ...]
    input: InputSpec
    card: ModelCard
    activation: str
    normalisation: Normalisation
    preprocessing: Preprocessing = Preprocessing()
    thresholds: dict[str, float] = field(default_factory=dict)
    weights: WeightsSpec = WeightsSpec()
    format: int = FORMAT_VERSION
    #: Where the model applies; None: anywhere, unchecked (manifests made before it existed).
    intended_input: IntendedInput | None = None
    #: The compact description of the training images (:mod:`medview.inference.familiarity`);
    #: None: no check of "unlike the training images".
    familiarity: FamiliaritySpec | None = None
    #: Logits are divided by it before the activation (temperature scaling, fitted on the
    #: validation split by the trainer so probabilities are calibrated; 1: as trained).
    temperature: float = 1.0
    #: The ONNX graph; None: not made yet (imported before graphs existed), torch runs it.
    onnx: OnnxSpec | None = None

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
                 "card", "weights", "onnx", "familiarity")
        # The order people read a model.json in; optional blocks only when present.
        return {key: data[key] for key in order
                if key not in _OPTIONAL_BLOCKS or data[key] is not None}


_OPTIONAL_BLOCKS = ("intended_input", "onnx", "familiarity")


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
    top = Fields(data, partial(ManifestError, name))
    top.only(("format", "name", "version", "task", "intended_input", "architecture", "classes",
              "input", "normalisation", "preprocessing", "output", "thresholds", "card",
              "weights", "onnx", "familiarity"))
    _check_format(top)
    top.text("name", pattern=_NAME_RE,
             hint="lower-case letters, digits, '.', '_' or '-', at most 64")
    version = top.text("version", pattern=_VERSION_RE, hint="e.g. 1.0.0, no spaces")
    task = top.choice("task", TASKS)
    architecture = _architecture(top.section("architecture"), task)
    classes = _classes(top, task)
    inp = _input(top.section("input"))
    output = top.section("output", optional=True)
    activation = _activation(output, task, classes)
    return Manifest(
        name=name, version=version, task=task, architecture=architecture, classes=classes,
        input=inp, card=_card(top.section("card")), activation=activation,
        temperature=output.number("temperature", default=1.0, minimum=0.01, maximum=100.0),
        normalisation=_normalisation(top.section("normalisation", optional=True), inp.channels),
        preprocessing=_preprocessing(top.section("preprocessing", optional=True)),
        thresholds=_thresholds(top.section("thresholds", optional=True), classes),
        weights=_weights(top.section("weights", optional=True)),
        intended_input=parse_intended_input(top.section("intended_input", optional=True,
                                                        nullable=True)),
        familiarity=_familiarity(top.section("familiarity", optional=True, nullable=True)),
        onnx=_onnx(top.section("onnx", optional=True, nullable=True)),
    )


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

def _peek_name(data: Any, fallback: str) -> str:
    if not isinstance(data, dict):
        raise ManifestError(fallback, "(top level)", "must be a JSON object")
    name = data.get("name")
    # Stripped, as Fields.text validates and returns it.
    name = name.strip() if isinstance(name, str) else ""
    return name if _NAME_RE.match(name) else fallback


def _check_format(top: Fields) -> None:
    fmt = top.integer("format", default=FORMAT_VERSION, minimum=1)
    if fmt > FORMAT_VERSION:
        top.fail("format", f"version {fmt} is newer than this medview reads ({FORMAT_VERSION}); "
                           "update medview")


def _architecture(sec: Fields, task: str) -> ArchitectureSpec:
    sec.only(("name", "arguments"))
    name = sec.text("name").lower()
    if name not in ARCHITECTURES:
        sec.fail("name", f"unknown architecture '{name}'; valid: {', '.join(architecture_names())}")
    arch_task = ARCHITECTURES[name].task
    if arch_task != task:
        sec.top_fail("task", f"architecture '{name}' is for {arch_task}, not {task}")
    arguments = sec.mapping("arguments", default={})
    for key in ARCHITECTURES[name].reserved:
        if key in arguments:
            sec.fail(f"arguments.{key}", "is set by medview from 'classes', 'input.channels' "
                                         "and local weights; remove it")
    return ArchitectureSpec(name, arguments)


def _classes(top: Fields, task: str) -> tuple[str, ...]:
    classes = top.string_list("classes", min_length=1)
    if task == "classification" and len(classes) < 2:
        top.fail("classes", "a classifier needs at least two classes")
    return classes


def _input(sec: Fields) -> InputSpec:
    sec.only(("size", "channels"))
    size = sec.int_pair("size")
    if min(size) < 16 or max(size) > 4096:
        sec.fail("size", f"{size[0]}x{size[1]} is outside 16..4096 pixels")
    channels = sec.integer("channels")
    if channels not in (1, 3):
        sec.fail("channels", f"must be 1 (grey) or 3 (RGB), got {channels}")
    return InputSpec(size, channels)


def _activation(sec: Fields, task: str, classes: tuple[str, ...]) -> str:
    sec.only(("activation", "temperature"))
    # One segmentation class can only be a sigmoid (foreground probability).
    default = "sigmoid" if task == "segmentation" and len(classes) == 1 else "softmax"
    activation = sec.choice("activation", ACTIVATIONS, default=default)
    if activation == "softmax" and task == "segmentation" and len(classes) < 2:
        sec.fail("activation", "softmax segmentation needs a background class first and at "
                               "least one more; use sigmoid for a single class")
    return activation


def _normalisation(sec: Fields, channels: int) -> Normalisation:
    sec.only(("mean", "std"))
    reason = f"must be a list of {channels} numbers (one per input channel)"
    mean = sec.float_list("mean", length=channels, default=(0.0,) * channels, reason=reason)
    std = sec.float_list("std", length=channels, default=(1.0,) * channels, reason=reason)
    if any(s <= 0 for s in std):
        sec.fail("std", "every value must be positive")
    return Normalisation(mean, std)


def _preprocessing(sec: Fields) -> Preprocessing:
    sec.only(("window", "crop", "resize", "clahe", "diffusion"))
    return Preprocessing(
        window=_window(sec),
        crop=_crop(sec.section("crop", optional=True, nullable=True)),
        resize=sec.choice("resize", RESIZE_MODES, default="letterbox"),
        clahe=_clahe(sec.section("clahe", optional=True, nullable=True)),
        diffusion=_diffusion(sec.section("diffusion", optional=True, nullable=True)),
    )


def _window(sec: Fields) -> WindowSpec:
    raw = sec.get("window", "auto")
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            sec.fail("window", "must not be empty")
        if text.lower() in WINDOW_MODES:
            return WindowSpec(text.lower())
        return WindowSpec("preset", preset=text)
    win = sec.section("window")
    win.only(("center", "width"))
    center = win.number("center")
    width = win.number("width", minimum=1.0)
    return WindowSpec("fixed", center=center, width=width)


def _window_to_json(window: WindowSpec) -> Any:
    if window.mode == "fixed":
        return {"center": window.center, "width": window.width}
    return window.preset if window.mode == "preset" else window.mode


def _crop(sec: Fields | None) -> CropSpec | None:
    if sec is None:
        return None
    sec.only(("kind", "fraction", "threshold", "margin"))
    kind = sec.choice("kind", CROP_KINDS)
    fraction = sec.number("fraction", default=1.0, minimum=0.05, maximum=1.0)
    threshold = sec.number("threshold", default=0.05, minimum=0.0, maximum=1.0)
    margin = sec.number("margin", default=0.0, minimum=0.0, maximum=1.0)
    return CropSpec(kind, fraction, threshold, margin)


def _clahe(sec: Fields | None) -> ClaheSpec | None:
    if sec is None:
        return None
    sec.only(("clip_limit", "tile_grid"))
    clip = sec.number("clip_limit", default=2.0, minimum=0.1, maximum=100.0)
    grid = sec.int_pair("tile_grid", default=(8, 8))
    if max(grid) > 64:
        sec.fail("tile_grid", "at most 64 tiles per side")
    return ClaheSpec(clip, grid)


def _diffusion(sec: Fields | None) -> DiffusionSpec | None:
    if sec is None:
        return None
    sec.only(("iterations", "kappa", "gamma", "conduction"))
    iterations = sec.integer("iterations", default=10, minimum=1, maximum=500)
    kappa = sec.number("kappa", default=0.1, minimum=1e-6, maximum=10.0)
    # gamma > 0.25 makes the explicit 4-neighbour scheme unstable (Perona & Malik 1990).
    gamma = sec.number("gamma", default=0.2, minimum=1e-6, maximum=0.25)
    conduction = sec.choice("conduction", CONDUCTIONS, default="exponential")
    return DiffusionSpec(iterations, kappa, gamma, conduction)


def _thresholds(sec: Fields, classes: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for key in sec.keys():
        if key not in classes:
            sec.fail(key, f"not one of the classes ({', '.join(classes)})")
        out[key] = sec.number(key, minimum=0.0, maximum=1.0)
    return out


def _card(sec: Fields) -> ModelCard:
    sec.only(("intended_use", "training_data", "date", "metrics", "limitations", "authors"))
    date = sec.text("date")
    try:
        datetime.date.fromisoformat(date)
    except ValueError:
        sec.fail("date", f"'{date}' is not an ISO date (YYYY-MM-DD)")
    metrics_sec = sec.section("metrics", optional=True)
    metrics = {k: metrics_sec.number(k) for k in metrics_sec.keys()}
    return ModelCard(intended_use=sec.text("intended_use"),
                     training_data=sec.text("training_data"), date=date, metrics=metrics,
                     limitations=sec.text("limitations", default="", allow_empty=True),
                     authors=sec.text("authors", default="", allow_empty=True))


def parse_intended_input(sec: Fields | None) -> IntendedInput | None:
    """The ``intended_input`` block (of a manifest, or of a training job that states it).

    Parameters
    ----------
    sec : Fields or None
        The block; None when absent (the model applies anywhere, unchecked).
    """
    if sec is None:
        return None
    sec.only(("description", "modalities", "body_parts", "views", "photometric",
              "pixel_spacing_mm", "image_size", "non_dicom", "unknown_body_part"))
    spacing = sec.get("pixel_spacing_mm", None)
    if spacing is not None:
        spacing = sec.float_list("pixel_spacing_mm", length=2,
                                 reason="must be [smallest, largest] in mm")
        if not 0 < spacing[0] <= spacing[1]:
            sec.fail("pixel_spacing_mm", "must be 0 < smallest <= largest")
    size = sec.get("image_size", None)
    if size is not None:
        size = sec.int_pair("image_size", reason="must be [smallest side, largest side] in "
                                                 "pixels")
    if size is not None and not size[0] <= size[1]:
        sec.fail("image_size", "must be [smallest side, largest side] in pixels, "
                               "1 <= smallest <= largest")
    return IntendedInput(
        modalities=_terms(sec, "modalities", vocab.MODALITIES),
        body_parts=_terms(sec, "body_parts", vocab.BODY_PARTS),
        views=_terms(sec, "views", vocab.VIEWS),
        photometric=_terms(sec, "photometric", vocab.PHOTOMETRIC),
        pixel_spacing_mm=tuple(spacing) if spacing is not None else None, image_size=size,
        non_dicom=sec.boolean("non_dicom", default=False),
        unknown_body_part=sec.boolean("unknown_body_part", default=False),
        description=sec.text("description", default="", allow_empty=True),
    )


def _terms(sec: Fields, key: str, known) -> tuple[str, ...]:
    """DICOM defined terms, upper-cased; an unknown one fails with the closest known term."""
    raw = sec.get(key, [])
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        sec.fail(key, "must be a list of DICOM defined terms (strings); [] means any")
    terms = []
    for value in raw:
        term = " ".join(value.split()).upper()
        if term not in known:
            hint = did_you_mean(term.lower(), [k.lower() for k in known])
            sec.fail(key, f"unknown term '{value.strip()}'{hint}")
        if term not in terms:
            terms.append(term)
    return tuple(terms)


def _familiarity(sec: Fields | None) -> FamiliaritySpec | None:
    if sec is None:
        return None
    sec.only(("file", "method"))
    name = sec.text("file", default=FamiliaritySpec.file)
    if Path(name).name != name or not name.endswith(".safetensors") or name == WEIGHTS_NAME:
        sec.fail("file", "must be a .safetensors file name inside the model folder, "
                         "other than the weights")
    method = sec.choice("method", (METHOD,), default=METHOD)
    return FamiliaritySpec(name, method)


def _weights(sec: Fields) -> WeightsSpec:
    sec.only(("file", "sha256"))
    name = sec.text("file", default=WEIGHTS_NAME)
    if Path(name).name != name or not name.endswith(".safetensors"):
        sec.fail("file", "must be a .safetensors file name inside the model folder")
    return WeightsSpec(name, _sha256(sec))


def _onnx(sec: Fields | None) -> OnnxSpec | None:
    if sec is None:
        return None
    sec.only(("file", "sha256"))
    name = sec.text("file", default=GRAPH_NAME)
    if Path(name).name != name or not name.endswith(".onnx"):
        sec.fail("file", "must be an .onnx file name inside the model folder")
    sha = _sha256(sec)
    if not sha:
        sec.fail("sha256", "is required: the graph is checked before it runs")
    return OnnxSpec(name, sha)


def _sha256(sec: Fields) -> str:
    sha = sec.text("sha256", default="", allow_empty=True).lower()
    if sha and not re.fullmatch(r"[0-9a-f]{64}", sha):
        sec.fail("sha256", "must be 64 hexadecimal digits")
    return sha
