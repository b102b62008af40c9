"""Backbones from weights made elsewhere: a torchvision, timm or smp state dict → a backbone folder.

The file is read without running anything in it: ``.safetensors``, or a ``.pth``/``.pt``
through ``torch.load(weights_only=True)``, which refuses pickled code (a file that
carries an object or an ``os.system`` call is refused with one line naming it). Its keys
are mapped onto the canonical layout (:mod:`medview.inference.backbone_layout`), an RGB
stem is summed to one channel, and the report says how many tensors were loaded,
adapted and skipped (by name).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from medview.inference.backbones import BackboneError, BackboneInfo, install_backbone, write_backbone

__all__ = ["IMAGENET_GREY", "ImportResult", "read_state_file", "import_backbone"]

#: ImageNet's per-channel means and deviations averaged over R, G, B: the normalisation of
#: a grey image seen by summed RGB filters (as timm uses for one input channel).
IMAGENET_GREY = {"mean": [0.449], "std": [0.226]}
_PICKLE_SUFFIXES = (".pth", ".pt", ".bin")


@dataclass(frozen=True)
class ImportResult:
    """Where the backbone went and what the mapping did."""

    folder: Path
    info: BackboneInfo
    report: object  # backbone_layout.LayoutReport


def read_state_file(path: str | Path) -> dict:
    """Tensors of a ``.safetensors`` or ``.pth``/``.pt`` file, never unpickling code.

    Raises
    ------
    BackboneError
        One line naming the file: missing, unreadable, not a state dict, or carrying
        pickled code (refused by the safe loader).
    """
    from medview.inference import weights
    from medview.inference.manifest import ModelError

    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".safetensors":
            return weights.read_safetensors(path, path.stem)
        if suffix in _PICKLE_SUFFIXES:
            return weights.read_legacy_pth(path, path.stem)
    except ModelError as err:
        reason = getattr(err, "reason", str(err))
        raise BackboneError(f"{path}: {reason}") from None
    raise BackboneError(f"{path}: expected a .safetensors file or a PyTorch state dict (.pth/.pt)")


def import_backbone(path: str | Path, name: str, architecture: str, *, version: str = "1",
                    out: str | Path | None = None, register: bool = False,
                    replace_existing: bool = False, info: BackboneInfo | None = None
                    ) -> ImportResult:
    """Make a backbone folder from a state dict file.

    Parameters
    ----------
    path : str or Path
        A torchvision / timm classifier's, or an smp network's or encoder's, state dict.
    name, version : str
        The backbone's name and version.
    architecture : str
        Its architecture (``resnet18``, ``densenet121``, ...).
    out : str or Path, optional
        The folder to write (default: ``NAME-VERSION`` in the current folder); ignored
        when ``register`` is set.
    register : bool
        Install into the user's backbones folder instead.
    replace_existing : bool
        With ``register``: overwrite an installed backbone of that name and version.
    info : BackboneInfo, optional
        Provenance to record (source, method, licence, normalisation); name, version,
        architecture and channels are set here. Default: "imported from FILE", ImageNet
        grey normalisation.

    Returns
    -------
    ImportResult

    Raises
    ------
    BackboneError
        If the file is refused or unreadable, or its tensors are not that architecture
        (naming the missing or mis-shaped ones).
    """
    from medview.inference import weights
    from medview.inference.backbone_layout import LayoutError, to_canonical

    path = Path(path)
    state = read_state_file(path)
    try:
        canonical, report = to_canonical(state, architecture, channels=1)
    except LayoutError as err:
        raise BackboneError(f"{path}: {err}") from None
    base = info or BackboneInfo(
        name=name, architecture=architecture, normalisation=dict(IMAGENET_GREY), method="imported",
        source=f"imported from {path.name} (sha256 {weights.sha256_file(path)[:16]})")
    final = replace(base, name=name, version=version, architecture=architecture, channels=1)
    if register:
        folder = install_backbone(canonical, final, replace_existing=replace_existing)
    else:
        folder = write_backbone(Path(out) if out else Path(f"{name}-{version}"), canonical, final)
    return ImportResult(folder, final, report)

