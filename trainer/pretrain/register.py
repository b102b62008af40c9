"""Install a pretrain run's backbone in the user's backbones folder.

``medview train JOB.json --register`` does it when the run finishes;
``medview register-model RUN_DIR`` does it later (for a run folder holding
``backbone/``). Jobs then find the backbone by name (:func:`medview.inference.backbones.find_backbone`).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["is_pretrain_run", "register_run", "usage"]

RESULT_DIR = "backbone"


def is_pretrain_run(folder: str | Path) -> bool:
    """Whether ``folder`` is a pretrain run folder (with ``backbone/``) or a backbone folder."""
    from medview.inference.backbones import BACKBONE_JSON

    folder = Path(folder)
    return (folder / RESULT_DIR / BACKBONE_JSON).exists() or (folder / BACKBONE_JSON).exists()


def register_run(folder: str | Path, *, name: str | None = None, version: str | None = None,
                 replace_existing: bool = False):
    """Install the backbone of a pretrain run (or a backbone folder given directly).

    Returns
    -------
    info : medview.inference.backbones.BackboneInfo
    path : Path
        The installed folder.

    Raises
    ------
    medview.inference.backbones.BackboneError
        If there is no valid backbone, or that name and version is installed and
        ``replace_existing`` is not set.
    """
    from medview.inference.backbones import BACKBONE_JSON, read_info, register_backbone

    folder = Path(folder)
    source = folder / RESULT_DIR if (folder / RESULT_DIR / BACKBONE_JSON).exists() else folder
    path = register_backbone(source, name=name, version=version, replace_existing=replace_existing)
    return read_info(path), path


def usage(info) -> str:
    """How a job starts from the backbone, as one line."""
    return (f"start a job from it with \"model\": {{\"architecture\": \"{info.architecture}\", "
            f"\"backbone\": \"{info.name}\"}}")
