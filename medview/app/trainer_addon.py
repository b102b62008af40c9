"""The trainer add-on: where medview finds the torch that its default bundle leaves out.

The default bundle (``dist/medview``, :file:`build.spec`) is the viewer and the AI without
torch: analysis runs each model's ONNX graph. What needs torch -- training, settings
searches, pre-training, and model import / registration / ONNX export (which build the
network once to make or write its graph) -- runs in the **trainer add-on**, a second
folder ``medview-trainer`` holding the same ``medview`` command line with torch and
without Qt. The app runs those commands as ``medview-trainer COMMAND ...`` subprocesses
(:mod:`medview.app.torch_commands`, :func:`trainer.jobs.trainer_command`, and the CLI,
which forwards them: :func:`forward`).

The torch commands run in, first match wins:

1. this process, when it can import torch (a source install, or the add-on itself);
2. ``MEDVIEW_TRAINER_ADDON``: the add-on's folder or its executable (a site install);
3. a frozen app's neighbours: ``medview-trainer`` inside the app's folder, then beside it
   (``/opt/medview-trainer`` next to ``/opt/medview``).

Otherwise :func:`missing_reason` says, in one line, that the add-on is not installed
and where to put it. Nothing here imports torch (``find_spec`` only looks).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from medview.core.errors import MedviewError

__all__ = ["ADDON_NAME", "ENV_VAR", "TRAINER_ONLY", "AddonMissing", "has_torch", "addon_executable",
           "search_places", "find_addon", "missing_reason", "torch_medview", "needs_torch", "forward"]

ADDON_NAME = "medview-trainer"
ENV_VAR = "MEDVIEW_TRAINER_ADDON"

#: Top-level packages only the add-on carries: build.spec leaves them out of the app, and
#: the app's tests hide them to check that the GUI works without them.
TRAINER_ONLY = ("torch", "torchvision", "segmentation_models_pytorch", "timm", "optuna")

#: ``medview`` sub-commands (and ``models`` actions) that load torch.
_TORCH_COMMANDS = {"train", "search", "register-model"}
_TORCH_MODEL_ACTIONS = {"import", "make-graph", "export-onnx", "import-backbone"}


class AddonMissing(MedviewError):
    """No torch here and no trainer add-on found; the message says where to put it."""


def has_torch() -> bool:
    """Whether this process can import torch (without importing it)."""
    return importlib.util.find_spec("torch") is not None


def addon_executable(folder: Path) -> Path:
    """The add-on's executable inside its folder."""
    return folder / (f"{ADDON_NAME}.exe" if sys.platform == "win32" else ADDON_NAME)


def search_places() -> list[Path]:
    """Where the add-on may be, in the order it is looked for (folders or executables)."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return [Path(configured)]
    if not getattr(sys, "frozen", False):
        return []  # a source install uses the torch installed beside it
    app = Path(sys.executable).resolve().parent
    return [app / ADDON_NAME, app.parent / ADDON_NAME]


def find_addon() -> Path | None:
    """The add-on's executable, or None when it is in none of :func:`search_places`."""
    for place in search_places():
        exe = place if place.is_file() else addon_executable(place)
        if exe.is_file() and os.access(exe, os.X_OK):
            return exe
    return None


def missing_reason() -> str | None:
    """None when the torch commands can run; else why not and where the add-on goes."""
    if has_torch() or find_addon() is not None:
        return None
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return (f"{ENV_VAR}={configured}: no trainer add-on there (set it to the "
                f"'{ADDON_NAME}' folder or to its executable)")
    if getattr(sys, "frozen", False):
        app = Path(sys.executable).resolve().parent
        return (f"The trainer add-on is not installed: put the '{ADDON_NAME}' folder next to "
                f"this medview folder ({app.parent / ADDON_NAME}) or set {ENV_VAR} to its path. "
                "Training and importing or registering models need it; viewing and analysis do not.")
    return (f"torch is not installed in this Python ({sys.executable}): install it "
            f"(pip install torch torchvision) or set {ENV_VAR} to a trainer add-on folder.")


def torch_medview() -> list[str]:
    """The start of a command line that runs ``medview``'s torch sub-commands.

    Raises
    ------
    AddonMissing
        With :func:`missing_reason`.
    """
    if has_torch():
        if getattr(sys, "frozen", False):
            return [sys.executable]  # the add-on itself (or a bundle that carries torch)
        return [sys.executable, "-m", "medview"]
    exe = find_addon()
    if exe is None:
        raise AddonMissing(missing_reason())
    return [str(exe)]


def needs_torch(name: str, argv: list[str]) -> bool:
    """Whether ``medview NAME ARGV`` loads torch (``--queue`` only adds a job to the queue)."""
    if name == "models":
        return bool(argv) and argv[0] in _TORCH_MODEL_ACTIONS
    return name in _TORCH_COMMANDS and "--queue" not in argv


def forward(name: str, argv: list[str]) -> int:
    """Run ``medview NAME ARGV`` in the add-on with this terminal; its exit status.

    Raises
    ------
    AddonMissing
    """
    return subprocess.call([*torch_medview(), name, *argv])
