"""``medview labels new | list | set | export | import | next | compare``: labelling projects
without the viewer, so a project labelled on one PC can be checked, exported and trained on
another, its next most useful images listed, and a retrained model compared with the one in
use."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medview.commands.common import EXIT_OK, CliError, print_json
from medview.labels.files import LabelsError
from medview.labels.labelling import Labeller
from medview.labels.project import SKIP, TASKS, Project
from medview.labels.uncertainty import METHODS


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
    exp.add_argument("--hold-out", action="store_true",
                     help="leave the project's held-out patients (about 1 in 5) out, for "
                          "comparing models on them later ('medview labels compare')")
    imp = actions.add_parser("import", help="label images from a CSV (path,label; segmentation: "
                             "path,mask), paths relative to the CSV")
    imp.add_argument("project")
    imp.add_argument("csv")
    imp.add_argument("--replace", action="store_true",
                     help="replace labels images have already (default: keep them)")
    nxt = actions.add_parser("next", help="the unlabelled images the model in use is least "
                             "sure of: the most useful to label next")
    nxt.add_argument("project")
    nxt.add_argument("--n", type=int, default=10, metavar="K", help="how many (default 10)")
    nxt.add_argument("--model", metavar="NAME[/VERSION]|DIR",
                     help="the model to ask (default: the project's model in use)")
    nxt.add_argument("--method", choices=METHODS, default=METHODS[0],
                     help="disagreement of the model on the image and on its left-right "
                          "flip (default), or entropy of its prediction")
    nxt.add_argument("--json", action="store_true", help="print JSON instead of text")
    cmp = actions.add_parser("compare", help="two models side by side on the project's "
                             "held-out labelled cases (AUC or Dice with 95%% intervals)")
    cmp.add_argument("project")
    cmp.add_argument("--model", action="append", default=[], metavar="NAME[/VERSION]|DIR",
                     help="a registered model, a model folder or a training run's folder; "
                          "give it twice (A, then B), or once to compare with the project's "
                          "model in use")
    cmp.add_argument("--json", action="store_true", help="print JSON instead of text")


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
    done = export_labels(labeller, Path(args.out), hold_out=args.hold_out)
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


def _next(args) -> int:
    from medview.analysis.labelling import find_model, open_analyzer, rank

    if args.n < 1:
        raise CliError(f"--n must be at least 1 (got {args.n})")
    labeller = Labeller.open(args.project)
    spec = args.model or labeller.project.model
    if not spec:
        raise CliError(f"{labeller.project.path}: no model in use for this project; give "
                       "--model NAME")
    ref = _with_graph(find_model(spec))
    ranked, notes = rank(labeller, open_analyzer(ref), args.method, args.n)
    if args.json:
        print_json({"project": str(labeller.project.path), "model": ref.label,
                    "method": args.method,
                    "images": [{"path": str(r.image.path), "frame": r.image.frame + 1,
                                "score": r.score, "model_says": r.label} for r in ranked],
                    "notes": notes})
    else:
        print(f"{labeller.project.path}: {len(ranked)} most useful to label next "
              f"({args.method} of {ref.label}, most uncertain first)")
        for r in ranked:
            print(r.describe())
    _notes(notes)
    return EXIT_OK


def _compare(args) -> int:
    from medview.analysis.labelling import find_model, open_analyzer, run_cases
    from medview.labels.compare import held_out_cases, summarise

    labeller = Labeller.open(args.project)
    specs = list(args.model)
    if len(specs) == 1 and labeller.project.model:
        specs.insert(0, labeller.project.model)
    if len(specs) != 2:
        raise CliError("give --model twice (A, then B), or once with a project that has a "
                       "model in use")
    refs = [_with_graph(find_model(s)) for s in specs]
    images, notes = held_out_cases(labeller, [r.run_dir for r in refs if r.run_dir])
    analyzers = [open_analyzer(r) for r in refs]
    results, kept, left_out = run_cases(labeller, analyzers, images)
    done = summarise(labeller, [r.label for r in refs], [a.manifest for a in analyzers], results,
                     kept, notes + left_out)
    if args.json:
        print_json(done.to_json())
    else:
        print(f"{labeller.project.path}: A = {done.models[0]}, B = {done.models[1]}")
        for line in done.lines():
            print(line)
    _notes(done.notes)
    return EXIT_OK


def _with_graph(ref):
    """``ref`` with an ONNX graph: a training run's model gets one now (as registering would
    make it; this loads torch, which the command may and the viewer does not)."""
    if ref.entry.graph_path is not None:
        return ref
    from dataclasses import replace

    from medview.inference.manifest import ModelError
    from medview.inference.registry import add_graph

    print(f"medview: note: making the ONNX graph of {ref.entry.path}", file=sys.stderr)
    try:
        return replace(ref, entry=add_graph(ref.entry))
    except ModelError as err:
        raise CliError(str(err)) from None


_ACTIONS = {"new": _new, "list": _list, "set": _set, "export": _export, "import": _import,
            "next": _next, "compare": _compare}


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _notes(lines) -> None:
    for line in lines:
        print(f"medview: note: {line}", file=sys.stderr)
