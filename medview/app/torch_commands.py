"""The GUI's model imports and registrations, run as ``medview`` subprocesses.

Importing or registering a model (or a backbone) loads torch (the network is built, run
once and exported to its ONNX graph, :mod:`medview.inference.graph`): ~650 MB and
seconds that the GUI process would keep for its whole life, while analysis itself needs
only the graph. So the GUI runs these as ``medview models import`` / ``medview
register-model`` in a child process, from a pool thread, and reads what was installed
back from the registry. Where this program has no torch (the default bundle) they run
in the trainer add-on (:mod:`medview.app.trainer_addon`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from medview.app import trainer_addon
from medview.core.errors import MedviewError


class CommandError(MedviewError):
    """The subprocess failed; the message is its last line (the CLI's one-line error)."""


def medview_command(*args: str) -> list[str]:
    """``medview ARGS`` (a torch command) where torch is: this Python, the frozen
    program itself, or the trainer add-on.

    Raises
    ------
    medview.app.trainer_addon.AddonMissing
        Saying where to put the add-on.
    """
    return [*trainer_addon.torch_medview(), *args]


def command_folder(command: list[str]) -> str | None:
    """The folder to run ``command`` in: the checkout for ``python -m medview``."""
    return _source_root() if command[1:3] == ["-m", "medview"] else None


def run_medview(*args: str) -> str:
    """Run ``medview ARGS`` to the end; its output, or :class:`CommandError`."""
    command = medview_command(*args)
    # Windows: the add-on is a console program; no console window may flash up
    proc = subprocess.run(command, capture_output=True, text=True, encoding="utf-8",
                          errors="replace", cwd=command_folder(command),
                          creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise CommandError(last.removeprefix("medview: ").strip())
    return proc.stdout


def import_model(source: str | Path, manifest: str | Path | None = None,
                 replace_existing: bool = False):
    """``medview models import`` in a subprocess; the installed registry entry."""
    from medview.inference.manifest import read_manifest

    source = Path(source).resolve()  # the child runs in another folder
    args = ["models", "import", str(source)]
    if manifest:
        manifest = Path(manifest).resolve()
        args += ["--manifest", str(manifest)]
    if replace_existing:
        args.append("--replace")
    run_medview(*args)
    parsed = read_manifest(manifest or (source if source.is_dir() else source.parent))
    return _installed(parsed.name, parsed.version)


def register_model(run_dir: str | Path, name: str | None = None, version: str | None = None,
                   replace_existing: bool = False, force: bool = False):
    """``medview register-model`` in a subprocess; the installed registry entry."""
    from medview.inference.manifest import read_manifest

    folder = Path(run_dir).resolve()
    model = folder / "model" if (folder / "model" / "model.json").is_file() else folder
    args = ["register-model", str(folder)]
    for flag, value in (("--name", name), ("--version", version)):
        if value:
            args += [flag, value]
    args += [flag for flag, on in (("--replace", replace_existing), ("--force", force)) if on]
    run_medview(*args)
    parsed = read_manifest(model)
    return _installed(name or parsed.name, version or parsed.version)


def register_backbone(folder: str | Path):
    """``medview register-model`` of a backbone folder (or pretrain run) in a subprocess;
    the installed backbone's info."""
    from medview.inference import backbones

    folder = Path(folder).resolve()
    run_medview("register-model", str(folder))
    source = folder / "backbone" if (folder / "backbone" / backbones.BACKBONE_JSON).is_file() \
        else folder
    info = backbones.read_info(source)
    return backbones.read_info(backbones.user_backbones_dir() / backbones.folder_name(info))


def _installed(name: str, version: str):
    from medview.inference.registry import Registry

    return Registry().find(name, version)  # a user model shadows a shipped one


def _source_root() -> str:
    """The checkout holding the ``medview`` package, so ``-m medview`` finds it."""
    return str(Path(__file__).resolve().parents[2])
