"""Backbones: trained network trunks that jobs start from, in folders of their own kind.

A backbone is not a model: it has no classes and no head, so it never runs in the AI
panel and the model registry does not list it. It is the starting point of a
classification job (``"model": {"architecture": "resnet18", "backbone": "NAME"}``) or
the encoder of a segmentation job (fpn, unet, ... with ``encoder_name`` of the same
architecture).

A backbone folder holds:

- ``backbone.json``: :class:`BackboneInfo` plus the weights' file name and SHA-256;
- ``weights.safetensors``: the trunk in the canonical torchvision layout of its
  architecture (see :mod:`medview.inference.backbone_layout`), ``channels`` inputs;
- ``card.md``: what it was made from, written from the info.

Backbones live in two places, like models: the user folder
``<user data dir>/backbones`` (where :func:`register_backbone` installs) and the
shipped ``models/backbones/`` (built into the installer by ``scripts/fetch_backbones.py``).
A user backbone shadows a shipped one of the same name and version.

No torch at import; reading and writing weights load it when called.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, UTC
from pathlib import Path
from typing import Annotated, Any, Literal

from medview.core import atomic
from medview.core.errors import one_line
from medview.core.schema import Meta, Wording, parse
from medview.inference.manifest import WEIGHTS_NAME, ModelError, Name, Version
from medview.inference.registry import (BACKBONES_FOLDER, SHIPPED, USER, _swap_into_place,
                                        _version_key, shipped_models_dir, user_data_dir)

__all__ = ["BackboneError", "BackboneInfo", "BackboneEntry", "BACKBONE_JSON", "CARD_NAME",
           "BACKBONES_FOLDER", "write_backbone", "read_backbone", "read_info", "find_backbone",
           "list_backbones", "register_backbone", "install_backbone", "user_backbones_dir", "shipped_backbones_dir",
           "card_text", "DEFAULT_PREPROCESSING", "default_normalisation", "SELF_SUPERVISED"]

BACKBONE_JSON = "backbone.json"
CARD_NAME = "card.md"
FORMAT = "medview-backbone/1"
#: Preprocessing of a job that sets none (the trainer's default).
DEFAULT_PREPROCESSING = {"window": "auto", "resize": "letterbox"}
#: ``method`` of the backbones a pretrain job makes (``trainer.pretrain``): learnt from
#: unlabelled images, so no layer of theirs is tuned to a labelled task yet.
SELF_SUPERVISED = ("simsiam", "byol", "moco")


def default_normalisation(channels: int) -> dict:
    """The trainer's default normalisation for ``channels`` inputs."""
    return {"mean": [0.5] * channels, "std": [0.25] * channels}


class BackboneError(ModelError):
    """A backbone cannot be written, read, found or installed; the message names it."""


@dataclass(frozen=True)
class BackboneInfo:
    """What a backbone is and how it was made (``backbone.json``).

    Attributes
    ----------
    name, version : str
        As for models: lower-case name, version without spaces.
    architecture : str
        A backbone architecture (``resnet18``, ``densenet121``, ...).
    channels : int
        Input channels of the stem (1 grey, 3 RGB).
    input_size : tuple of int
        (height, width) it was trained at; a job that sets none uses it.
    preprocessing, normalisation : dict
        As in a job / model.json; jobs that set none use these (train/serve skew).
    source : str
        One line: how it was made (a job, an imported file, official weights ...).
    method : str
        E.g. ``simsiam``, ``imagenet-supervised``, ``imported``.
    images, studies : int
        How many images and studies it learnt from (0 when unknown).
    duration_s : float
        How long the making took (0 when unknown).
    created : str
        ISO 8601 time.
    datasets : list of str
        The folders or data sets it learnt from.
    licence : str
        Terms of the weights (empty when they are the clinic's own).
    """

    name: Annotated[Name, Meta(description="lower-case name, as for models")]
    architecture: Annotated[str, Meta(description="a backbone architecture (`resnet18`, "
                                                  "`densenet121`, ...)")]
    version: Annotated[Version, Meta(description="version without spaces")] = "1"
    channels: Annotated[Literal[1, 3], Meta(description="input channels of the stem (1 grey, 3 "
                                                        "RGB)")] = 1
    input_size: Annotated[tuple[int, int], Meta(description="(height, width) it was trained at, "
                                                            "at least 32 pixels")] = (224, 224)
    preprocessing: Annotated[dict[str, Any], Meta(description="as in a job / model.json")] = field(
        default_factory=lambda: dict(DEFAULT_PREPROCESSING))
    normalisation: Annotated[dict[str, Any], Meta(description="as in a job / model.json")] = field(
        default_factory=lambda: default_normalisation(1))
    source: Annotated[str, Meta(description="one line: how it was made")] = ""
    method: Annotated[str, Meta(description="e.g. `simsiam`, `imagenet-supervised`, "
                                            "`imported`")] = ""
    images: Annotated[int, Meta(ge=0, description="images it learnt from (0: unknown)")] = 0
    studies: Annotated[int, Meta(ge=0, description="studies it learnt from (0: unknown)")] = 0
    duration_s: Annotated[float, Meta(ge=0, description="how long the making took")] = 0.0
    created: Annotated[str, Meta(description="ISO 8601 time")] = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    datasets: Annotated[list[str], Meta(description="the folders or data sets it learnt "
                                                    "from")] = field(default_factory=list)
    licence: Annotated[str, Meta(description="terms of the weights (empty: the clinic's "
                                             "own)")] = ""

    @property
    def key(self) -> str:
        """``name/version``, as jobs name it."""
        return f"{self.name}/{self.version}"

    @property
    def self_supervised(self) -> bool:
        """Made by a pretrain job from unlabelled images (:data:`SELF_SUPERVISED`)."""
        return self.method in SELF_SUPERVISED

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["input_size"] = list(self.input_size)
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str) -> BackboneInfo:
        """Parse and check ``backbone.json`` content.

        Raises
        ------
        BackboneError
            Naming ``where`` and the first bad field.
        """
        def error(field_path: str, reason: str) -> BackboneError:
            if field_path == "(top level)":
                return BackboneError(f"{where}: not a backbone description (expected a JSON object)")
            return BackboneError(f"{where}: field '{field_path}': {reason}")

        # Fields a later medview adds are ignored: a backbone stays usable.
        info = parse(data, cls, error, wording=Wording(forbid_unknown=False))
        _check_info(info, where)
        return replace(info, datasets=list(info.datasets))


@dataclass(frozen=True)
class BackboneEntry:
    """One backbone folder as found on disk (``info`` None when unreadable)."""

    path: Path
    source: str
    info: BackboneInfo | None
    error: str | None = None


def _check_info(info: BackboneInfo, where: str) -> None:
    from medview.inference.backbone_layout import BACKBONE_ARCHITECTURES

    if info.architecture not in BACKBONE_ARCHITECTURES:
        raise BackboneError(f"{where}: architecture '{info.architecture}' is not a backbone "
                            f"architecture; valid: {', '.join(BACKBONE_ARCHITECTURES)}")
    if min(info.input_size) < 32:
        raise BackboneError(f"{where}: input_size must be two sizes of at least 32 pixels")


# ----------------------------------------------------------------------- folders

def user_backbones_dir() -> Path:
    """Where registered backbones go: ``<user data dir>/backbones``."""
    return user_data_dir() / BACKBONES_FOLDER


def shipped_backbones_dir() -> Path:
    """The backbones shipped with medview: ``models/backbones/``."""
    return shipped_models_dir() / BACKBONES_FOLDER


def folder_name(info: BackboneInfo) -> str:
    """``NAME-VERSION``: a backbone's folder in a backbones directory."""
    return f"{info.name}-{info.version}"


# ----------------------------------------------------------------------- read / write

def write_backbone(folder: str | Path, state: dict, info: BackboneInfo) -> Path:
    """Write a backbone folder atomically (a staging folder beside it, then a rename).

    Parameters
    ----------
    folder : str or Path
        The backbone folder to create or replace.
    state : dict of str to Tensor
        The trunk in the canonical layout of ``info.architecture`` with
        ``info.channels`` inputs (checked: names and shapes, finite values).
    info : BackboneInfo

    Returns
    -------
    Path
        ``folder``.

    Raises
    ------
    BackboneError
        If the info is invalid or the tensors are not exactly that layout.
    """
    from medview.inference import weights
    from medview.inference.backbone_layout import expected_layout

    folder = Path(folder)
    _check_info(info, str(folder))
    expected = expected_layout(info.architecture, info.channels)
    wrong = [k for k, v in state.items() if expected.get(k) != tuple(v.shape)]
    missing = [k for k in expected if k not in state]
    if wrong or missing:
        raise BackboneError(f"{folder}: the tensors are not a {info.channels}-channel "
                            f"{info.architecture} trunk ({len(missing)} missing, {len(wrong)} "
                            f"unexpected or mis-shaped, e.g. '{(missing + wrong)[0]}')")
    weights.check_finite(state, info.name, folder / WEIGHTS_NAME)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        digest = weights.write_safetensors(state, staging / WEIGHTS_NAME,
                                           {"medview.backbone": info.key,
                                            "architecture": info.architecture})
        data = {"format": FORMAT, **info.to_dict(),
                "weights": {"file": WEIGHTS_NAME, "sha256": digest}}
        atomic.write_text(staging / BACKBONE_JSON, json.dumps(data, indent=2) + "\n")
        atomic.write_text(staging / CARD_NAME, card_text(info))
        _swap_into_place(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def read_info(folder: str | Path) -> BackboneInfo:
    """A backbone folder's :class:`BackboneInfo` (``backbone.json`` only, no torch).

    Raises
    ------
    BackboneError
        If the folder has no readable, valid ``backbone.json``.
    """
    return _read_json(Path(folder))[0]


def read_backbone(folder: str | Path) -> tuple[BackboneInfo, dict]:
    """A backbone's info and tensors (safetensors only; SHA-256 and layout checked).

    Raises
    ------
    BackboneError
        If the description is invalid, the weights are missing, altered (SHA-256
        differs from ``backbone.json``), not safetensors, or not the stated layout.
    """
    from medview.inference import weights
    from medview.inference.backbone_layout import expected_layout

    folder = Path(folder)
    info, spec = _read_json(folder)
    path = folder / spec["file"]
    if path.suffix != ".safetensors" or path.parent != folder:
        raise BackboneError(f"{folder}: weights must be a .safetensors file in the folder")
    if spec.get("sha256") and path.is_file() and weights.sha256_file(path) != spec["sha256"]:
        raise BackboneError(f"backbone '{info.name}' weights '{path.name}': SHA-256 differs "
                            f"from {BACKBONE_JSON} (file altered or damaged)")
    try:
        state = weights.read_safetensors(path, info.name)
    except ModelError as err:
        raise BackboneError(f"backbone {err}") from None
    expected = expected_layout(info.architecture, info.channels)
    if set(state) != set(expected) or any(tuple(v.shape) != expected[k] for k, v in state.items()):
        raise BackboneError(f"backbone '{info.name}' weights '{path.name}': not a "
                            f"{info.channels}-channel {info.architecture} trunk")
    return info, state


def _read_json(folder: Path) -> tuple[BackboneInfo, dict]:
    path = folder / BACKBONE_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackboneError(f"{folder}: not a backbone folder (no {BACKBONE_JSON})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BackboneError(f"{path}: cannot be read ({one_line(err, None)})") from None
    info = BackboneInfo.from_dict(data, str(path))
    spec = data.get("weights")
    if not isinstance(spec, dict) or not isinstance(spec.get("file"), str):
        raise BackboneError(f"{path}: field 'weights' must give the weights 'file'")
    return info, spec


def card_text(info: BackboneInfo) -> str:
    """The ``card.md`` of a backbone, from its info."""
    h, w = info.input_size
    minutes = f"{info.duration_s / 60:.1f} minutes" if info.duration_s else "not recorded"
    lines = [
        f"# Backbone {info.name} {info.version}", "",
        "A network trunk that training jobs start from (not a model: it has no classes "
        "and is never run on its own).", "",
        f"- Architecture: {info.architecture}, {info.channels} input channel(s), trained at {h}x{w}",
        f"- Method: {info.method or 'not recorded'}",
        f"- Source: {info.source or 'not recorded'}",
        f"- Learnt from: {_learnt_from(info)}",
        f"- Data: {', '.join(info.datasets) if info.datasets else 'not recorded'}",
        f"- Time taken: {minutes}",
        f"- Created: {info.created}",
        f"- Preprocessing: {json.dumps(info.preprocessing)}",
        f"- Normalisation: {json.dumps(info.normalisation)}",
    ]
    if info.licence:
        lines.append(f"- Licence: {info.licence}")
    lines += ["", "Use it in a job: `\"model\": {\"architecture\": \"" + info.architecture
              + "\", \"backbone\": \"" + info.key + "\"}`.", ""]
    return "\n".join(lines)


def _learnt_from(info: BackboneInfo) -> str:
    if not info.images:
        return "not recorded"
    return f"{info.images:,} image(s)" + (f" of {info.studies:,} study(ies)" if info.studies else "")


# ----------------------------------------------------------------------- registry

def list_backbones() -> list[BackboneEntry]:
    """Every backbone folder, shipped then user, valid or not (sorted by name, version)."""
    found = []
    for root, source in ((shipped_backbones_dir(), SHIPPED), (user_backbones_dir(), USER)):
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                found.append(BackboneEntry(folder, source, read_info(folder)))
            except BackboneError as err:
                found.append(BackboneEntry(folder, source, None, str(err)))
    return sorted(found, key=lambda e: (e.info.name if e.info else e.path.name,
                                        _version_key(e.info.version if e.info else "0"),
                                        e.source == USER))


def find_backbone(name: str, version: str | None = None) -> Path:
    """The folder of backbone ``name``: that version, else the highest; user before shipped.

    Raises
    ------
    BackboneError
        Listing the backbones there are when none matches.
    """
    chosen: dict[tuple[str, str], Path] = {}
    for entry in list_backbones():  # user entries sort after shipped ones, so they win
        if entry.info is not None:
            chosen[(entry.info.name, entry.info.version)] = entry.path
    matches = [(v, p) for (n, v), p in chosen.items()
               if n == name and (version is None or v == version)]
    if matches:
        return max(matches, key=lambda vp: _version_key(vp[0]))[1]
    what = f"backbone '{name}'" + (f" version {version}" if version else "")
    have = ", ".join(f"{n}/{v}" for n, v in sorted(chosen)) or "none"
    raise BackboneError(f"{what} not found (in {user_backbones_dir()} and "
                        f"{shipped_backbones_dir()}); installed: {have}")


def register_backbone(folder: str | Path, *, name: str | None = None, version: str | None = None,
                      replace_existing: bool = False) -> Path:
    """Install a backbone folder into the user folder (checked, then written atomically).

    Parameters
    ----------
    folder : str or Path
        A backbone folder (e.g. a pretrain run's output).
    name, version : str, optional
        Install under another name or version than its ``backbone.json`` gives.
    replace_existing : bool
        Overwrite an installed backbone with the same name and version.

    Returns
    -------
    Path
        The installed folder, ``<user data dir>/backbones/NAME-VERSION``.

    Raises
    ------
    BackboneError
        If the folder is not a valid backbone, or that name and version is installed
        and ``replace_existing`` is not set.
    """
    info, state = read_backbone(folder)
    info = replace(info, name=name or info.name, version=version or info.version)
    return install_backbone(state, info, replace_existing=replace_existing)


def install_backbone(state: dict, info: BackboneInfo, *, replace_existing: bool = False) -> Path:
    """Write a backbone straight into the user folder (see :func:`register_backbone`).

    Raises
    ------
    BackboneError
        As :func:`write_backbone`, or when that name and version is installed and
        ``replace_existing`` is not set.
    """
    target = user_backbones_dir() / folder_name(info)
    if target.exists() and not replace_existing:
        raise BackboneError(f"backbone '{info.name}' version {info.version} is already "
                            f"installed in {target}; use --replace to overwrite it")
    return write_backbone(target, state, info)
