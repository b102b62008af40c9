"""The ``medview`` command: the GUI by default, and headless sub-commands.

Every failure of a sub-command (bad files, bad arguments, and anything a
damaged file provokes, including exceptions from native code that do not derive
from ``Exception``) prints one line naming the file and exits with status 2; a
traceback never reaches the user. :func:`_run_command` is that one boundary.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from medview import __version__
from medview.commands.common import EXIT_BAD_INPUT, EXIT_OK, CliError

# name -> (help, builder of its argument parser, handler); filled by @command
_COMMANDS: dict[str, tuple[str, Callable, Callable]] = {}
# Commands that decode files: native decoders' stderr is silenced while they run.
_READS_FILES: set[str] = set()


def command(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None],
            reads_files: bool = False):
    """Register ``fn`` as sub-command ``name``; ``configure`` adds its arguments.

    ``reads_files`` commands run with native libraries' own stderr output
    (libjpeg, OpenJPEG, GDCM traces) silenced: medview reports reasons itself.
    """
    def register(fn):
        _COMMANDS[name] = (help, configure, fn)
        if reads_files:
            _READS_FILES.add(name)
        return fn
    return register


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``medview`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _quiet_libraries()
    if argv and argv[0] in _COMMANDS:
        forwarded = _in_trainer_addon(argv[0], argv[1:])
        return _run_command(argv[0], argv[1:]) if forwarded is None else forwarded
    return _run_gui(argv)


def _in_trainer_addon(name: str, argv: list[str]) -> int | None:
    """A torch command where this program has no torch (the default bundle) runs in the
    trainer add-on (:mod:`medview.app.trainer_addon`): its exit status, or None to run here."""
    from medview.app import trainer_addon

    if not trainer_addon.needs_torch(name, argv) or trainer_addon.has_torch():
        return None
    try:
        return trainer_addon.forward(name, argv)
    except trainer_addon.AddonMissing as err:
        return _fail(str(err))
    except KeyboardInterrupt:
        return 130


def _run_gui(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="medview",
        description="Offline radiology workstation. With no PATHS, opens the bundled sample study.",
        epilog="Sub-commands: " + ", ".join(f"{n} ({h})" for n, (h, _, _) in _COMMANDS.items())
        + ". Run 'medview COMMAND --help' for one.")
    parser.add_argument("paths", nargs="*", help="DICOM/image files, folders or DICOMDIRs to open")
    parser.add_argument("--version", action="version", version=f"medview {__version__}")
    args = parser.parse_args(argv)
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        return _fail(f"{missing[0]}: file not found")
    if importlib.util.find_spec("PySide6") is None:  # the trainer add-on has no viewer
        return _fail("this is medview's trainer add-on: it runs 'train', 'search', "
                     "'register-model' and 'models import' for medview and has no viewer; "
                     "start medview itself to view images")
    from medview.qt.app import run  # Qt only when the window is wanted

    return run(args.paths)


def _run_command(name: str, argv: list[str]) -> int:
    help_text, configure, handler = _COMMANDS[name]
    parser = argparse.ArgumentParser(prog=f"medview {name}", description=help_text)
    configure(parser)
    args = parser.parse_args(argv)
    try:
        with _native_stderr_silenced(name in _READS_FILES):
            return handler(args)
    except CliError as err:
        return _fail(str(err))
    except KeyboardInterrupt:
        return 130
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - the one boundary: native panics too
        return _fail(_failure_line(args, exc))


def _failure_line(args: argparse.Namespace, exc: BaseException) -> str:
    """``FILE: reason`` for an exception no command turned into a CliError."""
    from medview.core.errors import ReadError, plain_reason

    if isinstance(exc, ReadError):
        return str(exc)
    subject = next((getattr(args, k) for k in ("path", "src", "paths", "inputs")
                    if getattr(args, k, None)), None)
    if isinstance(subject, list):
        subject = subject[0] if len(subject) == 1 else None
    reason = plain_reason(exc)
    return f"{subject}: {reason}" if subject is not None else reason


@contextmanager
def _native_stderr_silenced(active: bool) -> Iterator[None]:
    """Point file descriptor 2 at the null device; keep ``sys.stderr`` on the real one.

    Native decoders print to fd 2 directly ("Unsupported JPEG data precision 12",
    OpenJPEG's marker complaints); medview's own one-line messages go through
    ``sys.stderr``, which is re-opened on a duplicate of the original descriptor.
    """
    try:
        if not active:
            raise OSError
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # inactive, or no stderr (windowed build)
        yield
        return
    previous = sys.stderr
    try:  # under test capture sys.stderr is not fd 2: leave it alone
        python_on_fd2 = previous.fileno() == 2
    except (OSError, ValueError, AttributeError):
        python_on_fd2 = False
    real = os.fdopen(saved, "w", buffering=1, encoding=getattr(previous, "encoding", None) or "utf-8",
                     errors="backslashreplace")
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    if python_on_fd2:
        sys.stderr = real
    try:
        yield
    finally:
        real.flush()
        os.dup2(saved, 2)
        sys.stderr = previous
        real.close()


def _fail(message: str) -> int:
    print(f"medview: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _quiet_libraries() -> None:
    """pydicom warns on every non-conformant value; medview reports reasons itself."""
    warnings.simplefilter("ignore")
    logging.getLogger("pydicom").setLevel(logging.ERROR)


# -- info ----------------------------------------------------------------------

def _configure_info(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="a DICOM/image file (all tags), or a folder/DICOMDIR (the tree)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


@command("info", "show the patient/study/series tree of a folder, or all tags of one file",
         _configure_info, reads_files=True)
def info(args) -> int:
    from medview.commands.info import info_file, info_tree

    path = Path(args.path)
    if not path.exists():
        raise CliError(f"{path}: file not found")
    if path.is_file() and path.name.upper() != "DICOMDIR":
        return info_file(path, as_json=args.json)
    return info_tree(path, as_json=args.json)



# -- export --------------------------------------------------------------------

def _configure_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="a DICOM/image file, or a folder (its first series)")
    p.add_argument("out", help="output PNG file")
    p.add_argument("--frame", type=int, default=None, metavar="N",
                   help="image number within the file or series, from 1 (default 1)")
    p.add_argument("--series", type=int, default=1, metavar="N",
                   help="series number in display order when PATH is a folder (default 1)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--window", nargs=2, type=float, metavar=("CENTER", "WIDTH"),
                       help="window centre and width in modality units (e.g. HU)")
    group.add_argument("--preset", metavar="NAME",
                       help="a stored window (e.g. WINDOW1) or modality preset (e.g. Lung)")
    mpr = p.add_argument_group("multiplanar reformatting (PATH: a folder holding a CT/MR series)")
    mpr.add_argument("--plane", choices=("axial", "coronal", "sagittal"),
                     help="render this plane of the series' volume instead of one image")
    mpr.add_argument("--slice", type=int, metavar="N",
                     help="plane number from 1, in ascending position along the plane normal "
                          "(default: the middle one)")
    mpr.add_argument("--slab", type=float, default=0.0, metavar="MM",
                     help="slab thickness in mm (default 0: a thin plane)")
    mpr.add_argument("--slab-mode", choices=("mip", "minip", "avg"), default="mip",
                     help="how a slab is combined: maximum, minimum or mean (default mip)")


@command("export", "render an image or MPR plane to PNG exactly as the viewer shows it",
         _configure_export, reads_files=True)
def export(args) -> int:
    from medview.commands.export import export_plane, export_png

    if args.plane is None:
        if args.slice is not None or args.slab:
            raise CliError("--slice and --slab need --plane")
        export_png(Path(args.path), Path(args.out), frame=args.frame or 1, series=args.series,
                   window=args.window, preset=args.preset)
        return EXIT_OK
    if args.frame is not None:
        raise CliError("--frame and --plane cannot be combined (use --slice)")
    if not args.slab >= 0:
        raise CliError(f"--slab must be 0 mm or more (got {args.slab:g})")
    notes = export_plane(Path(args.path), Path(args.out), plane=args.plane,
                         slice_number=args.slice, slab_mm=args.slab, slab_mode=args.slab_mode,
                         series=args.series, window=args.window, preset=args.preset)
    for note in notes:
        print(f"medview: note: {args.path}: {note}", file=sys.stderr)
    return EXIT_OK



# -- anonymize -----------------------------------------------------------------

def _configure_anonymize(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", help="a DICOM file or a folder")
    p.add_argument("dst", help="output file or folder (must not be the source)")
    p.add_argument("--patient-name", default=None, help="replacement patient name")
    p.add_argument("--patient-id", default=None, help="replacement patient ID")


@command("anonymize", "de-identify DICOM files (PS3.15 basic profile), pixels untouched",
         _configure_anonymize, reads_files=True)
def anonymize(args) -> int:
    from medview.commands.anonymize import run_anonymize

    return run_anonymize(Path(args.src), Path(args.dst), args.patient_name, args.patient_id)



# -- models, analyze (AI; owned by medview/commands/{models,analyze}.py) ----------
# Imported on use only: torch loads when a model runs, never for other commands.

def _configure_models(p: argparse.ArgumentParser) -> None:
    from medview.commands.models import configure

    configure(p)


@command("models", "list, show, import and export AI models", _configure_models)
def models(args) -> int:
    from medview.commands.models import run

    return run(args)


def _configure_analyze(p: argparse.ArgumentParser) -> None:
    from medview.commands.analyze import configure

    configure(p)


@command("analyze", "run an AI model on images, one JSON line per image", _configure_analyze,
         reads_files=True)
def analyze(args) -> int:
    from medview.commands.analyze import run

    return run(args)


# -- sr (saved measurements and key images as DICOM SR; medview/commands/sr.py) ----

def _configure_sr(p: argparse.ArgumentParser) -> None:
    from medview.commands.sr import configure

    configure(p)


@command("sr", "export a study's measurements and key images as DICOM SR, show or import one",
         _configure_sr, reads_files=True)
def sr(args) -> int:
    from medview.commands.sr import run

    return run(args)


# -- pacs, listen (PACS client and storage SCP; owned by medview/commands/pacs.py) ----
# Imported on use only; no socket is opened unless a command names a node, or 'listen'.

def _configure_pacs(p: argparse.ArgumentParser) -> None:
    from medview.commands.pacs import configure

    configure(p)


@command("pacs", "configure PACS nodes; echo, find, retrieve from and send to them", _configure_pacs)
def pacs(args) -> int:
    from medview.commands.pacs import run

    return run(args)


def _configure_listen(p: argparse.ArgumentParser) -> None:
    from medview.commands.pacs import configure_listen

    configure_listen(p)


@command("listen", "receive DICOM objects pushed by a modality or PACS (storage SCP)",
         _configure_listen)
def listen(args) -> int:
    from medview.commands.pacs import run_listen

    return run_listen(args)


# -- labels (labelling projects; owned by medview/commands/labels.py) -------------

def _configure_labels(p: argparse.ArgumentParser) -> None:
    from medview.commands.labels import configure

    configure(p)


@command("labels", "labelling projects: create, show progress, label, export for training, import",
         _configure_labels, reads_files=True)
def labels(args) -> int:
    from medview.commands.labels import run

    return run(args)


# -- demo-data (trainer foundation; owned by medview/commands/demo_data.py) -------

def _configure_demo_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", help="new (or empty) folder to write the data set into")
    p.add_argument("--n", type=int, default=50, metavar="N",
                   help="images per class (normal, lesion) and segmentation images (default 50)")
    p.add_argument("--size", type=int, default=256, metavar="S",
                   help="image rows = columns in pixels (default 256)")
    p.add_argument("--seed", type=int, default=0, metavar="K",
                   help="random seed; the same seed writes the same images (default 0)")
    p.add_argument("--masks", action="store_true",
                   help="also write a lesion mask per classification lesion image (a mask column in labels.csv)")


@command("demo-data", "write a synthetic chest-radiograph data set (DICOM + PNG, labels, masks)",
         _configure_demo_data)
def demo_data(args) -> int:
    from medview.commands.demo_data import run_demo_data

    return run_demo_data(Path(args.out), n=args.n, size=args.size, seed=args.seed, masks=args.masks)


# -- train, search, register-model, jobs (trainer; owned by medview/commands/train.py)
# Imported on use only: torch loads when a job runs, never for the other commands.

def _configure_train(p: argparse.ArgumentParser) -> None:
    from medview.commands.train import configure_train

    configure_train(p)


@command("train", "fine-tune a model on labelled images (JSON-line progress events on stdout)",
         _configure_train)
def train(args) -> int:
    from medview.commands.train import run_train

    return run_train(args)


def _configure_search(p: argparse.ArgumentParser) -> None:
    from medview.commands.train import configure_search

    configure_search(p)


@command("search", "find the best learning rate, batch size and optimizer for a job (k-fold search)",
         _configure_search)
def search(args) -> int:
    from medview.commands.train import run_search

    return run_search(args)


def _configure_register_model(p: argparse.ArgumentParser) -> None:
    from medview.commands.train import configure_register

    configure_register(p)


@command("register-model", "install a trained model (a finished job's folder) for 'analyze'",
         _configure_register_model)
def register_model(args) -> int:
    from medview.commands.train import run_register

    return run_register(args)


def _configure_jobs(p: argparse.ArgumentParser) -> None:
    from medview.commands.train import configure_jobs

    configure_jobs(p)


@command("jobs", "list, add, start and cancel queued training jobs", _configure_jobs)
def jobs(args) -> int:
    from medview.commands.train import run_jobs

    return run_jobs(args)
