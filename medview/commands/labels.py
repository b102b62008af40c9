"""``medview labels new | list | set | export | import``: labelling projects without the viewer,
so a project labelled on one PC can be checked, exported and trained on another."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medview.commands.common import EXIT_OK, CliError, print_json
from medview.labels.files import LabelsError
from medview.labels.labelling import Labeller
from medview.labels.project import SKIP, TASKS, Project


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``labels`` actions and their arguments to ``parser``."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = actions.add_parser("new", help="create a labelling project file")
    new.add_argument("project", help="the project file to write (e.g. chest.mvlabels.json)")
    new.add_argument("--task", choices=TASKS, required=True)
    new.add_argument("--classes", metavar="A,B,…",
                     help="class names (classification), in key order 1, 2, …")
    new.add_argument("--segments", metavar="NAME[:#RRGGBB],…",
                     help="segment names and optional colours (segmentation); segment k is "
                          "mask value k")
    new.add_argument("--studies", nargs="+", required=True, metavar="DIR",
                     help="folders (or files, DICOMDIRs) whose images are labelled")
    new.add_argument("--labels", required=True, metavar="DIR",
                     help="the folder where labels are stored (may be on a shared drive)")
    new.add_argument("--name", default="", help="shown in the viewer (default: the file name)")
    lst = actions.add_parser("list", help="progress: labelled per class, skipped, unlabelled")
    lst.add_argument("project")
    lst.add_argument("--json", action="store_true", help="print JSON instead of text")
    put = actions.add_parser("set", help="label one image (a class, 'skip', or a mask)")
    put.add_argument("project")
    put.add_argument("image", help="the image file")
    put.add_argument("label", nargs="?", default=None,
                     help=f"class name or number from 1, or '{SKIP}' (classification)")
    put.add_argument("--mask", metavar="FILE",
                     help="a mask of the image (PNG or DICOM; 0 background, k segment k, "
                          "or 0/255), stored as DICOM SEG (segmentation)")
    put.add_argument("--frame", type=int, default=1, metavar="N",
                     help="frame of a multi-frame file, from 1 (default 1)")
    exp = actions.add_parser("export", help="write the labels in the trainer's layout: "
                             "labels.csv (classification) or images/ + masks/ (segmentation)")
    exp.add_argument("project")
    exp.add_argument("--out", required=True, metavar="DIR", help="the folder to write into")
    imp = actions.add_parser("import", help="label images from a CSV (path,label; segmentation: "
                             "path,mask), paths relative to the CSV")
    imp.add_argument("project")
    imp.add_argument("csv")
    imp.add_argument("--replace", action="store_true",
                     help="replace labels images have already (default: keep them)")


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; every expected failure is one line (exit 2)."""
    try:
        return _ACTIONS[args.action](args)
    except LabelsError as err:
        raise CliError(str(err)) from None


def _new(args) -> int:
    if args.task == "classification":
        if not args.classes or args.segments:
            raise CliError("--task classification needs --classes A,B,… (and no --segments)")
        names, colours = _split(args.classes), None
    else:
        if not args.segments or args.classes:
            raise CliError("--task segmentation needs --segments NAME,… (and no --classes)")
        parts = [s.partition(":") for s in _split(args.segments)]
        names = [n for n, _, _ in parts]
        colours = [c for _, _, c in parts] if all(c for _, _, c in parts) else None
        if colours is None and any(c for _, _, c in parts):
            raise CliError("--segments: give a colour to every segment or to none")
    project = Project.create(args.project, args.task, names, args.studies, args.labels,
                             colours=colours, name=args.name)
    print(f"{project.path}: {project.task} project '{project.name}' "
          f"({', '.join(project.label_names)}); labels in {project.label_dir}")
    return EXIT_OK


def _list(args) -> int:
    labeller = Labeller.open(args.project)
    done = labeller.progress()
    if args.json:
        print_json({"project": str(labeller.project.path), "task": labeller.project.task,
                    "total": done.total, "labelled": done.labelled, "skipped": done.skipped,
                    "unlabelled": done.unlabelled, "per_class": done.per_class,
                    "orphans": [o.describe() for o in done.orphans],
                    "unreadable_labels": [f"{p}: {r}" for p, r in done.problems],
                    "images_not_loaded": [f"{p}: {r}" for p, r in labeller.images.skipped]})
        return EXIT_OK
    print(f"{labeller.project.path}: {done.summary()}")
    _notes(done.lines()[1:] + [f"not loaded: {p}: {r}" for p, r in labeller.images.skipped])
    return EXIT_OK


def _set(args) -> int:
    if (args.label is None) == (args.mask is None):
        raise CliError("give either a LABEL or --mask FILE")
    if args.frame < 1:
        raise CliError(f"--frame counts from 1 (got {args.frame})")
    labeller = Labeller.open(args.project)
    image = labeller.image(args.image, args.frame - 1)
    if args.mask is not None:
        from medview.labels.exchange import read_mask

        label = labeller.set_mask(image, read_mask(Path(args.mask)))
        what = "mask " + (", ".join(label.segments) or "(empty)")
    else:
        label = labeller.assign(image, args.label)
        what = label.value
    print(f"{image.describe()}: {what} (by {label.who})")
    return EXIT_OK


def _export(args) -> int:
    from medview.labels.exchange import export_labels

    labeller = Labeller.open(args.project)
    done = export_labels(labeller, Path(args.out))
    if labeller.project.task == "classification":
        print(f"{done.path}: {done.count} labelled images (path,label,patient_id)")
    else:
        print(f"{done.path}: {done.count} image/mask pairs in images/ and masks/ (classes: "
              f"background, {', '.join(labeller.project.label_names)})")
    _notes(done.notes)
    return EXIT_OK


def _import(args) -> int:
    from medview.labels.exchange import import_csv

    labeller = Labeller.open(args.project)
    done = import_csv(labeller, Path(args.csv), replace=args.replace)
    print(f"{done.path}: {done.count} labels added to {labeller.project.path.name}; "
          f"{labeller.progress().summary()}")
    _notes(done.notes)
    return EXIT_OK


_ACTIONS = {"new": _new, "list": _list, "set": _set, "export": _export, "import": _import}


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _notes(lines) -> None:
    for line in lines:
        print(f"medview: note: {line}", file=sys.stderr)
