"""``medview sr export | show | import``: a study's saved measurements and key images as
DICOM SR (TID 1500) and Key Object Selection documents, and back."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medview.commands.common import EXIT_OK, CliError, print_json
from medview.core.annotations import KIND_NAMES, SOURCE_NAMES, AnnotationStore
from medview.core.image_refs import FrameFinder
from medview.core.key_images import KeyImages
from medview.core.study import Study


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``sr`` actions and their arguments to ``parser``."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    exp = actions.add_parser(
        "export", help="write a study's saved measurements as a DICOM SR (TID 1500) and, "
                       "with --key-images, its key images as a Key Object Selection document")
    exp.add_argument("study_dir", help="the study's folder (or a DICOMDIR)")
    exp.add_argument("out", help="the SR file to write")
    exp.add_argument("--key-images", metavar="FILE",
                     help="also write the key images to this Key Object Selection file")
    exp.add_argument("--study", type=int, default=None, metavar="N",
                     help="which study, from 1 in 'medview info' order, when the folder "
                          "holds several")
    exp.add_argument("--observer", metavar="NAME",
                     help="the reader, as a DICOM person name (Family^Given)")
    show = actions.add_parser("show", help="the measurements or key images of an SR file")
    show.add_argument("path", help="a TID 1500 SR or Key Object Selection file")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    imp = actions.add_parser(
        "import", help="add an SR file's measurements or key images to the saved reading "
                       "of its study (they show when the study is opened)")
    imp.add_argument("path", help="a TID 1500 SR or Key Object Selection file")
    imp.add_argument("study_dir", help="the folder holding the study's images")


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; expected failures raise :class:`~medview.cli.CliError`."""
    return _ACTIONS[args.action](args)


def _export(args) -> int:
    from medview.app.readings import export_reading
    from medview.core.readings import load_reading

    study = _choose_study(Path(args.study_dir), args.study)
    store, keys = AnnotationStore(), KeyImages()
    _notes(load_reading(study, store, keys).notes)
    try:
        done, notes = export_reading(study, store, keys, args.out, args.key_images,
                                     observer=args.observer)
    except ValueError as err:
        hint = " (its key images need --key-images FILE)" if len(keys) and not len(store) else ""
        raise CliError(f"{args.study_dir}: {err}{hint}") from None
    for line in done:
        print(line)
    _notes(notes)
    return EXIT_OK


def _show(args) -> int:
    from medview.core.sr.read import read_document

    doc = read_document(Path(args.path))
    if args.json:
        print_json(_document_json(doc))
        return EXIT_OK
    what = "Measurement report (TID 1500)" if doc.kind == "measurements" else \
        f"Key Object Selection ({doc.title})"
    print(f"{args.path}: {what}")
    print(f"  patient {doc.patient_name or '(no name)'} [{doc.patient_id or 'no ID'}], "
          f"study {doc.study_uid}")
    for m in doc.measurements:
        values = "; ".join(f"{v.name} {v.value:.4g}{_unit(v.unit)}" for v in m.values)
        spacing = SOURCE_NAMES.get(m.source, m.source) or "spacing not stated"
        points = " ".join(f"({r:g}, {c:g})" for r, c in m.points)
        print(f"  {m.label or KIND_NAMES[m.kind]}: {values} [{spacing}] on image "
              f"{m.image.describe()} at {points}")
    for ref in doc.key_images:
        print(f"  key image {ref.describe()}")
    _notes(doc.notes)
    return EXIT_OK


def _import(args) -> int:
    from medview.core.readings import load_reading, save_reading
    from medview.core.sr.read import read_document, to_annotations, to_key_images

    doc = read_document(Path(args.path))
    study = _study_by_uid(Path(args.study_dir), doc.study_uid)
    store, keys = AnnotationStore(), KeyImages()
    _notes(load_reading(study, store, keys).notes)
    finder = FrameFinder([study])
    placed, notes = to_annotations(doc, finder)
    marked, more = to_key_images(doc, finder)
    added = sum(store.add_once(key, annotation) for key, annotation in placed)
    new_keys = [k for k in marked if k not in keys]
    for key in new_keys:
        keys.mark(key)
    _notes(doc.notes + notes + more)
    path = save_reading(study, store, keys)
    print(f"added {added} measurement(s) and {len(new_keys)} key image(s) to {path}")
    return EXIT_OK


_ACTIONS = {"export": _export, "show": _show, "import": _import}


def _studies(folder: Path) -> list[Study]:
    from medview.core.io.folder import load_paths

    if not folder.exists():
        raise CliError(f"{folder}: file not found")
    studies = [st for p in load_paths([folder]).patients for st in p.studies]
    if not studies:
        raise CliError(f"{folder}: no readable images")
    return studies


def _choose_study(folder: Path, number: int | None) -> Study:
    studies = _studies(folder)
    if number is None:
        if len(studies) > 1:
            raise CliError(f"{folder}: holds {len(studies)} studies; choose one with --study N "
                           "(see 'medview info')")
        return studies[0]
    if not 1 <= number <= len(studies):
        raise CliError(f"{folder}: --study {number} out of range (1–{len(studies)})")
    return studies[number - 1]


def _study_by_uid(folder: Path, uid: str) -> Study:
    for study in _studies(folder):
        if study.uid == uid:
            return study
    raise CliError(f"{folder}: does not hold the SR's study ({uid})")


def _document_json(doc) -> dict:
    return {
        "kind": doc.kind, "title": doc.title, "study_uid": doc.study_uid,
        "patient_id": doc.patient_id, "patient_name": doc.patient_name,
        "measurements": [{
            "kind": m.kind, "label": m.label, "points": [list(p) for p in m.points],
            "image": m.image.to_json(), "calibration": m.source,
            "values": [{"name": v.name, "value": v.value, "unit": v.unit} for v in m.values],
        } for m in doc.measurements],
        "key_images": [ref.to_json() for ref in doc.key_images],
        "notes": doc.notes,
    }


def _notes(lines) -> None:
    for line in lines:
        print(f"medview: note: {line}", file=sys.stderr)


def _unit(unit: str) -> str:
    return unit if unit in ("", "°") else f" {unit}"
