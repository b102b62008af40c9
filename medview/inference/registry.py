"""Model registry: list, validate, load and import model folders.

Two places hold model folders (``model.json`` + ``weights.safetensors``):

- shipped: ``models/`` next to the ``medview`` package (inside the bundle when
  frozen); ``MEDVIEW_MODELS_DIR`` replaces it (tests, site installs);
- user: ``<user data dir>/models``, where ``medview models import`` writes;
  the user data dir is ``platformdirs.user_data_dir("medview")``, or
  ``MEDVIEW_USER_DIR`` when set (tests).

A user model shadows a shipped one of the same name and version. Listing
reads manifests only (no torch); loading builds the network and checks the
weights' SHA-256 and every tensor shape. Importing also makes the model's ONNX
graph (:mod:`medview.inference.graph`), which analysis opens without torch
(:func:`open_graph`).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from medview.core.errors import one_line
from medview.core.imports import load
from medview.core.user_dirs import user_cache_dir, user_data_dir  # noqa: F401 - re-exported
from medview.inference.manifest import (MANIFEST_NAME, WEIGHTS_NAME, Int8Spec, Manifest,
                                        ManifestError, ModelError, WeightsSpec, read_manifest,
                                        write_manifest)

SHIPPED, USER = "shipped", "user"
#: The folder of backbones inside a models folder: not models, never listed as such
#: (see :mod:`medview.inference.backbones`).
BACKBONES_FOLDER = "backbones"
_LEGACY_SUFFIXES = (".pth", ".pt", ".bin")


class ModelNotFoundError(ModelError):
    """No installed model has the requested name (and version)."""


@dataclass(frozen=True)
class ModelEntry:
    """One model folder as found on disk.

    Attributes
    ----------
    path : Path
        The folder.
    source : str
        ``"shipped"`` or ``"user"``.
    manifest : Manifest or None
        None when the manifest is invalid.
    error : str or None
        Why the folder cannot be used (invalid manifest, missing weights).
    error_model : str
        The model name an invalid manifest's error gives (else the folder name).
    """

    path: Path
    source: str
    manifest: Manifest | None
    error: str | None = None
    error_model: str = ""

    @property
    def name(self) -> str:
        if self.manifest is not None:
            return self.manifest.name
        return self.error_model or self.path.name

    @property
    def version(self) -> str:
        return self.manifest.version if self.manifest else "?"

    @property
    def valid(self) -> bool:
        return self.manifest is not None and self.error is None

    @property
    def weights_path(self) -> Path:
        return self.path / (self.manifest.weights.file if self.manifest else WEIGHTS_NAME)

    @property
    def graph_path(self) -> Path | None:
        """The model's ONNX graph; None for a model imported before graphs existed."""
        onnx = self.manifest.onnx if self.manifest else None
        return self.path / onnx.file if onnx else None

    @property
    def int8_path(self) -> Path | None:
        """The model's int8 graph, where one was kept (:mod:`medview.inference.quantize`)."""
        int8 = self.manifest.int8 if self.manifest else None
        return self.path / int8.file if int8 is not None and int8.kept else None


@dataclass
class LoadedModel:
    """A model ready to run: its manifest and the network with its weights, or its graph.

    Attributes
    ----------
    manifest : Manifest
    module : torch.nn.Module or None
        On the CPU, in eval mode; None for a model opened as its ONNX graph
        (:func:`open_graph`) until :meth:`network` loads it.
    path : Path
        The model folder.
    graph : Path or None
        The ONNX graph, checked against its SHA-256, when opened as a graph.
    int8 : Path or None
        Its int8 graph (checked likewise), where the model has one.
    """

    manifest: Manifest
    module: Any
    path: Path
    graph: Path | None = None
    int8: Path | None = None

    def network(self):
        """The torch network (loaded now if the model was opened as its graph)."""
        if self.module is None:
            self.module = _load_module(self.manifest, self.path / self.manifest.weights.file)
        return self.module

    @property
    def key(self) -> str:
        return self.manifest.key

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.manifest.input_shape


# ----------------------------------------------------------------------- folders

def user_models_dir() -> Path:
    """Where imported models go: ``<user data dir>/models``."""
    return user_data_dir() / "models"


def shipped_models_dir() -> Path:
    """The read-only models shipped with medview (``MEDVIEW_MODELS_DIR`` overrides it)."""
    override = os.environ.get("MEDVIEW_MODELS_DIR")
    if override:
        return Path(override)
    bundle = getattr(sys, "_MEIPASS", None)  # PyInstaller unpacks data files here
    if bundle:
        return Path(bundle) / "models"
    return Path(__file__).resolve().parents[2] / "models"


# ----------------------------------------------------------------------- registry

class Registry:
    """Every model folder in the shipped and user model directories.

    Parameters
    ----------
    roots : sequence of (Path, str), optional
        Folders to scan with their source label, lowest priority first;
        default: shipped, then user.
    """

    def __init__(self, roots: list[tuple[Path, str]] | None = None) -> None:
        self.roots = roots if roots is not None else [(shipped_models_dir(), SHIPPED),
                                                      (user_models_dir(), USER)]

    @property
    def user_dir(self) -> Path:
        """The folder imports write to (the last root)."""
        return self.roots[-1][0]

    def entries(self) -> list[ModelEntry]:
        """Every model folder, valid or not, sorted by name then version."""
        found = [_entry(folder, source) for root, source in self.roots
                 for folder in _model_folders(root)]
        return sorted(found, key=lambda e: (e.name, _version_key(e.version), e.source == USER))

    def available(self) -> list[ModelEntry]:
        """Usable models; a user model hides a shipped one with the same name and version."""
        chosen: dict[tuple[str, str], ModelEntry] = {}
        for entry in self.entries():  # user entries sort after shipped ones, so they win
            if entry.valid:
                chosen[(entry.name, entry.version)] = entry
        return list(chosen.values())

    def find(self, name: str, version: str | None = None) -> ModelEntry:
        """The model called ``name``: that version, else the highest version.

        Raises
        ------
        ModelNotFoundError
            Listing what is installed.
        ModelError
            If the only folder by that name is invalid (with its reason).
        """
        matches = [e for e in self.available()
                   if e.name == name and (version is None or e.version == version)]
        if matches:
            return max(matches, key=lambda e: _version_key(e.version))
        broken = [e for e in self.entries() if not e.valid and (
            e.name == name or e.path.name.startswith(f"{name}-"))]
        if broken:
            raise ModelError(broken[0].error)
        raise ModelNotFoundError(self._not_found_message(name, version))

    def load(self, name: str, version: str | None = None) -> LoadedModel:
        """Build the network of ``name`` and load its weights (see :func:`load_entry`)."""
        return load_entry(self.find(name, version))

    def import_model(self, source: str | Path, manifest: str | Path | None = None,
                     replace_existing: bool = False) -> ModelEntry:
        """Copy a model into the user directory after checking that it loads and runs.

        Parameters
        ----------
        source : str or Path
            A model folder; a ``.safetensors`` file; or a legacy PyTorch state
            dict (``.pth``/``.pt``/``.bin``, converted to safetensors).
        manifest : str or Path, optional
            The ``model.json`` for a file source (default: ``model.json`` next to it).
        replace_existing : bool
            Overwrite an installed model with the same name and version.

        Returns
        -------
        ModelEntry
            The installed model.

        Raises
        ------
        ModelError
            ManifestError / WeightsError naming the model and what is wrong;
            also when the model is already installed.
        """
        from medview.inference import weights

        manifest_path, weights_path = _import_sources(Path(source), manifest)
        parsed = read_manifest(manifest_path)
        _verify_sha256(parsed, weights_path)
        if weights_path.suffix.lower() in _LEGACY_SUFFIXES:
            state = weights.read_legacy_pth(weights_path, parsed.name)
        else:
            state = weights.read_safetensors(weights_path, parsed.name)
        module = build_module(parsed)
        weights.load_state(module, state, parsed.name, weights_path)
        check_output(module, parsed)
        return self._install(parsed, module, replace_existing,
                             _reference_file(parsed, manifest_path.parent))

    def _install(self, parsed: Manifest, module, replace_existing: bool,
                 reference: Path | None = None) -> ModelEntry:
        from medview.inference.graph import make_graph
        from medview.inference.weights import write_safetensors

        target = self.user_dir / _folder_name(parsed)
        if target.exists() and not replace_existing:
            raise ModelError(f"model '{parsed.name}' version {parsed.version} is already "
                             f"installed in {target}; use --replace to overwrite it")
        self.user_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".import-", dir=self.user_dir))
        try:
            digest = write_safetensors(module.state_dict(), staging / WEIGHTS_NAME,
                                       {"medview.model": parsed.key})
            # A new graph is made here; an int8 block of the source described another.
            final = replace(parsed, weights=WeightsSpec(WEIGHTS_NAME, digest),
                            onnx=make_graph(module, parsed, staging), int8=None)
            write_manifest(final, staging / MANIFEST_NAME)
            if reference is not None:
                shutil.copy2(reference, staging / parsed.familiarity.file)
            _swap_into_place(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return _entry(target, USER)

    def _not_found_message(self, name: str, version: str | None) -> str:
        installed = ", ".join(f"{e.name} {e.version}" for e in self.available())
        what = f"model '{name}'" + (f" version {version}" if version else "")
        if not installed:
            return f"{what} not found: {no_models_message(self)}"
        return f"{what} not found; installed: {installed}"


def load_reference(manifest: Manifest, folder: Path):
    """The reference of the training images a manifest names (None if it names none).

    Raises
    ------
    ModelError
        If the file is missing or not a valid reference.
    """
    from medview.inference.familiarity import Reference

    if manifest.familiarity is None:
        return None
    try:
        return Reference.load(folder / manifest.familiarity.file)
    except (OSError, ValueError) as err:
        raise ModelError(f"model '{manifest.name}': its reference of the training images "
                         f"({manifest.familiarity.file}) cannot be read ({err}); "
                         "reinstall the model") from None


def _reference_file(parsed: Manifest, folder: Path) -> Path | None:
    """The reference file to install with a model, checked first."""
    if load_reference(parsed, folder) is None:
        return None
    return folder / parsed.familiarity.file


def no_models_message(registry: Registry) -> str:
    """What to tell a user who has no model installed, and how to import one."""
    return ("no AI model is installed (looked in "
            + " and ".join(str(root) for root, _ in registry.roots)
            + "); import one with 'medview models import FOLDER' (model.json + "
              "weights.safetensors) or 'medview models import WEIGHTS.safetensors|.pth "
              "--manifest model.json'")


# ----------------------------------------------------------------------- loading

def load_entry(entry: ModelEntry) -> LoadedModel:
    """Build the network of a model folder and load its weights.

    Raises
    ------
    ModelError
        ManifestError for an invalid manifest, architecture or argument;
        WeightsError for missing, corrupt, altered (SHA-256 mismatch) or
        mis-shaped weights. Each names the model.
    """
    if not entry.valid:
        raise ModelError(entry.error)
    return LoadedModel(entry.manifest, _load_module(entry.manifest, entry.weights_path),
                       entry.path)


def add_graph(entry: ModelEntry) -> ModelEntry:
    """Make the ONNX graph of a model folder that has none, and record it in its manifest.

    For models imported before graphs existed, and for the shipped models when they are
    made (``medview models make-graph``). Loads torch.

    Raises
    ------
    ModelError
        If the model cannot be loaded, or its graph not made or not checked.
    """
    from medview.inference.graph import make_graph

    model = load_entry(entry)
    spec = make_graph(model.module, entry.manifest, entry.path)
    old_int8 = entry.int8_path  # made from the graph just replaced: quantise again
    write_manifest(replace(entry.manifest, onnx=spec, int8=None), entry.path / MANIFEST_NAME)
    if old_int8 is not None:
        old_int8.unlink(missing_ok=True)
    return _entry(entry.path, entry.source)


def record_int8(entry: ModelEntry, spec: Int8Spec, graph: Path | None) -> ModelEntry:
    """Record an int8 outcome in a model's manifest (:mod:`medview.inference.quantize`).

    Parameters
    ----------
    entry : ModelEntry
    spec : Int8Spec
        Kept (names its file) or refused.
    graph : pathlib.Path or None
        The int8 graph to move into the folder under ``spec.file`` (kept), else None.

    Returns
    -------
    ModelEntry
        Read again. A previous int8 graph that is no longer named is removed.
    """
    old = entry.int8_path
    if graph is not None:
        os.replace(graph, entry.path / spec.file)
    write_manifest(replace(entry.manifest, int8=spec), entry.path / MANIFEST_NAME)
    if old is not None and old.name != spec.file:
        old.unlink(missing_ok=True)
    return _entry(entry.path, entry.source)


def open_graph(entry: ModelEntry) -> LoadedModel:
    """A model as its ONNX graph, for ONNX Runtime or OpenVINO: no torch is imported.

    Raises
    ------
    ModelError
        For an invalid entry, a model without a graph, or a graph whose SHA-256 differs
        from the manifest's (WeightsError).
    """
    from medview.inference import weights

    if not entry.valid:
        raise ModelError(entry.error)
    graph = entry.graph_path
    if graph is None:
        raise ModelError(f"model '{entry.name}' has no ONNX graph; re-import it "
                         "('medview models import') to make one")
    for path, sha in ((graph, entry.manifest.onnx.sha256),
                      (entry.int8_path, entry.manifest.int8.sha256 if entry.int8_path else "")):
        if path is not None and weights.sha256_file(path) != sha:
            raise weights.WeightsError(entry.name, path, "SHA-256 differs from model.json "
                                       "(file altered or damaged); re-import the model")
    return LoadedModel(entry.manifest, None, entry.path, graph, entry.int8_path)


def _load_module(manifest: Manifest, path: Path):
    """The network of ``manifest`` with the weights of ``path`` (SHA-256 checked), in eval mode."""
    from medview.inference import weights

    _verify_sha256(manifest, path)
    state = weights.read_safetensors(path, manifest.name)
    module = build_module(manifest)
    weights.load_state(module, state, manifest.name, path)
    return module.eval()


def build_module(manifest: Manifest):
    """The untrained network a manifest describes (random weights, nothing downloaded).

    Raises
    ------
    ManifestError
        Naming ``architecture.name``, ``architecture.arguments`` or
        ``input.size`` when the network cannot be built for this manifest.
    """
    from medview.inference import architectures

    spec = manifest.architecture
    try:
        module = architectures.build(spec.name, manifest.input.channels, len(manifest.classes),
                                     spec.arguments)
    except architectures.UnknownArchitectureError as err:
        field = "architecture.arguments.encoder_name" if "encoder" in str(err) else \
            "architecture.name"
        raise ManifestError(manifest.name, field, str(err)) from None
    except RuntimeError as err:
        if "operator" in str(err) and "does not exist" in str(err):
            # a torch/torchvision build mismatch is the installation's fault, not the model's
            raise ModelError(f"model '{manifest.name}': cannot be built because torch and "
                             f"torchvision do not match ({one_line(err, None)}); "
                             "reinstall them from the same index") from None
        raise ManifestError(manifest.name, "architecture.arguments",
                            f"rejected by {spec.name}: {one_line(err, None)}") from None
    except (TypeError, ValueError, KeyError) as err:
        raise ManifestError(manifest.name, "architecture.arguments",
                            f"rejected by {spec.name}: {one_line(err, None)}") from None
    _check_stride(module, manifest)
    return module


def check_output(module, manifest: Manifest) -> None:
    """Run one test input and check the output shape the manifest promises, and that
    the output is finite.

    Raises
    ------
    ManifestError
        For ``input.size`` when the network cannot take it, or ``classes``
        when the output has another number of channels.
    ModelError
        When the output holds NaN or infinity.
    """
    torch = load("torch")
    c, h, w = manifest.input_shape
    try:
        with torch.inference_mode():
            # seeded noise, not zeros: a blank image can hide weights that overflow
            probe = torch.randn(1, c, h, w, generator=torch.Generator().manual_seed(0))
            out = module(probe)
    except RuntimeError as err:
        raise ManifestError(manifest.name, "input.size",
                            f"the network cannot take {h}x{w}: {one_line(err, None)}"
                            ) from None
    k = len(manifest.classes)
    expected = (1, k) if manifest.task == "classification" else (1, k, h, w)
    if tuple(out.shape) != expected:
        raise ManifestError(manifest.name, "classes", f"network output {tuple(out.shape)} does "
                                                      f"not match {expected}")
    if not bool(torch.isfinite(out).all()):  # finite weights can still overflow
        raise ModelError(f"model '{manifest.name}': the network answers NaN or infinity for a "
                         "test image, so its weights cannot give results; it is refused")


def _verify_sha256(manifest: Manifest, path: Path) -> None:
    """Refuse weights whose SHA-256 differs from the one the manifest records."""
    from medview.inference import weights

    if manifest.weights.sha256 and path.is_file() and path.name == manifest.weights.file:
        if weights.sha256_file(path) != manifest.weights.sha256:
            raise weights.WeightsError(manifest.name, path, "SHA-256 differs from model.json "
                                       "(file altered or damaged); re-import the model")


def _check_stride(module, manifest: Manifest) -> None:
    """smp encoders halve the size up to 5 times: the input must divide evenly."""
    stride = getattr(getattr(module, "encoder", None), "output_stride", None)
    if stride and any(s % stride for s in manifest.input.size):
        h, w = manifest.input.size
        raise ManifestError(manifest.name, "input.size",
                            f"{h}x{w} must be divisible by {stride} for this encoder")


# ----------------------------------------------------------------------- helpers

def _model_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    # Dot-folders are staging areas of imports in progress; backbones are not models.
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and p.name != BACKBONES_FOLDER)


def _entry(folder: Path, source: str) -> ModelEntry:
    try:
        manifest = read_manifest(folder)
    except ManifestError as err:
        return ModelEntry(folder, source, None, str(err), err.model)
    error = None
    for kind, name in (("weights", manifest.weights.file),
                       ("graph", manifest.onnx.file if manifest.onnx else None),
                       ("int8 graph", manifest.int8.file if manifest.int8 else None)):
        if name and not (folder / name).is_file():
            error = f"model '{manifest.name}' {kind} '{name}': file not found in {folder}"
            break
    return ModelEntry(folder, source, manifest, error)


def _import_sources(source: Path, manifest: str | Path | None) -> tuple[Path, Path]:
    """(manifest file, weights file) of something to import."""
    if not source.exists():
        raise ModelError(f"{source}: not found")
    if source.is_dir():
        manifest_path = Path(manifest) if manifest else source / MANIFEST_NAME
        return manifest_path, _weights_in_folder(source, manifest_path)
    manifest_path = Path(manifest) if manifest else source.parent / MANIFEST_NAME
    if not manifest_path.is_file():
        raise ModelError(f"{source}: a weights file needs its manifest; pass --manifest "
                         f"model.json (none found at {manifest_path})")
    if source.suffix.lower() not in (".safetensors", *_LEGACY_SUFFIXES):
        raise ModelError(f"{source}: expected a model folder, a .safetensors file or a "
                         f"PyTorch state dict (.pth/.pt)")
    return manifest_path, source


def _weights_in_folder(folder: Path, manifest_path: Path) -> Path:
    parsed = read_manifest(manifest_path)
    named = folder / parsed.weights.file
    if named.is_file():
        return named
    legacy = sorted(p for p in folder.iterdir() if p.suffix.lower() in _LEGACY_SUFFIXES)
    if len(legacy) == 1:
        return legacy[0]
    raise ModelError(f"model '{parsed.name}' weights '{parsed.weights.file}': file not found in "
                     f"{folder}")


def _folder_name(manifest: Manifest) -> str:
    return f"{manifest.name}-{manifest.version}"


def _swap_into_place(staging: Path, target: Path) -> None:
    """Move a finished import into place; an old version is removed only once the new one is in."""
    if not target.exists():
        os.replace(staging, target)
        return
    old = target.with_name(f".old-{target.name}")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def _version_key(version: str) -> tuple:
    """Natural order: 1.10 after 1.9; numbers before words at each position."""
    parts = re.split(r"[.\-+_]", version)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)
