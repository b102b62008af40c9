"""A study's reading (its measurements and key images), saved in the user folder.

One versioned JSON file per study, ``<user data dir>/readings/<study key>.json``: the
key is the StudyInstanceUID, or a hash of the folder for plain images (and for a study
whose UID is unusable). Images are named by :class:`~medview.core.image_refs.ImageRef`,
so the reading comes back when the study is reopened from another folder. Writes are
atomic; a damaged file is set aside (``….json.unread``) with one plain line and never
stops the study from opening. Saving keeps what the file holds on images that are not
open now (part of a study opened) and measurement kinds this version does not know.

Format (``"version": 1``)::

    {"format": "medview-reading", "version": 1, "study_uid": "1.2.3", "saved": "...",
     "annotations": [{"image": {"sop_instance_uid": "1.2.3.4", "frame": 0, ...},
                      "kind": "length", "points": [[12.0, 40.5], [80.25, 41.0]]}],
     "key_images": [{"sop_instance_uid": "1.2.3.4", "frame": 0, ...}]}

Points are ``(row, col)`` image coordinates with pixel centres on integers. Fields an
:class:`~medview.core.annotations.Annotation` gains later (text, calibration) are saved
beside ``kind`` and ``points`` under their own names.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from medview.core import atomic
from medview.core.annotations import POINTS_NEEDED, Annotation, AnnotationStore
from medview.core.errors import one_line, plain_reason
from medview.core.image_refs import FrameFinder, ImageRef
from medview.core.key_images import KeyImages
from medview.core.study import Study
from medview.core.user_dirs import user_data_dir

FORMAT, VERSION = "medview-reading", 1
READINGS_FOLDER = "readings"
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
# Annotation fields not saved as extras: the session's id, and kind and points (saved
# under their own keys). Private fields (the measurement cache) never are.
_OWN_KEYS = {"id", "kind", "points"}


@dataclass
class Loaded:
    """What :func:`load_reading` brought back.

    Attributes
    ----------
    annotations, key_images : int
        How many were added to the stores.
    notes : list of str
        One plain line each: a damaged file set aside, entries skipped.
    path : Path
        The reading's file (which may not exist).
    """

    annotations: int = 0
    key_images: int = 0
    notes: list[str] = field(default_factory=list)
    path: Path | None = None


def study_key(study: Study) -> str:
    """The file-name key of ``study``: its StudyInstanceUID, else a hash of its folder."""
    if _UID.match(study.uid) and len(study.uid) <= 64:
        return study.uid
    folder = study.uid.removeprefix("images:") if study.uid.startswith("images:") else ""
    if not folder:  # no usable UID: the study's folder and its (damaged) UID
        sources = [p for s in study.series for p, _, _ in s.frames.sources()[:1]]
        folder = f"{sources[0].parent if sources else ''}\0{study.uid}"
    digest = hashlib.sha256(os.path.normcase(folder).encode("utf-8", "replace")).hexdigest()
    return f"{'images' if study.uid.startswith('images:') else 'study'}-{digest[:24]}"


def reading_path(study: Study, root: str | Path | None = None) -> Path:
    """Where ``study``'s reading is saved (``root``: the user data folder by default)."""
    base = Path(root) if root is not None else user_data_dir()
    return base / READINGS_FOLDER / f"{study_key(study)}.json"


def load_reading(study: Study, annotations: AnnotationStore, key_images: KeyImages,
                 root: str | Path | None = None) -> Loaded:
    """Add ``study``'s saved measurements and key images to the stores.

    Entries on images that are not open are left in the file; an annotation equal to
    one already on its image is not added twice (a study opened again). Never raises
    for a bad file: it is set aside and the reason is one line in ``notes``.
    """
    path = reading_path(study, root)
    loaded = Loaded(path=path)
    data = _read(path, loaded.notes)
    if data is None:
        return loaded
    finder = FrameFinder([study])
    bad = 0
    for entry in data["annotations"]:
        try:
            ref, annotation = _annotation_from_json(entry)
        except ValueError:
            bad += 1
            continue
        key = finder.key_of(ref) if annotation is not None else None
        if key is not None and annotations.add_once(key, annotation):
            loaded.annotations += 1
    for entry in data["key_images"]:
        try:
            key = finder.key_of(ImageRef.from_json(entry))
        except ValueError:
            bad += 1
            continue
        if key is not None and key not in key_images:
            key_images.mark(key)
            loaded.key_images += 1
    if bad:
        loaded.notes.append(f"{path}: {bad} damaged saved entr{'y' if bad == 1 else 'ies'} "
                            "skipped")
    return loaded


def save_reading(study: Study, annotations: AnnotationStore, key_images: KeyImages,
                 root: str | Path | None = None) -> Path | None:
    """Write ``study``'s measurements and key images to its reading file (atomically).

    Returns the path, or None when there is nothing to save and no file yet. Raises
    OSError when the file cannot be written (the caller reports it in one line).
    """
    path = reading_path(study, root)
    finder = FrameFinder([study])
    entries = []
    for key, items in annotations.items():
        ref = finder.ref_of_key(key)
        if ref is not None:
            entries += [_annotation_to_json(ref, a) for a in items if a.complete]
    marked = [r.to_json() for r in map(finder.ref_of_key, key_images) if r is not None]
    kept_entries, kept_marks = _kept_from_file(path, finder)
    entries, marked = kept_entries + entries, kept_marks + marked
    if not entries and not marked and not path.exists():
        return None
    saved = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    data = {"format": FORMAT, "version": VERSION, "study_uid": study.uid, "saved": saved,
            "annotations": entries, "key_images": marked}
    atomic.write_text(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return path


# -- the file ----------------------------------------------------------------------


def read_reading_file(path: Path) -> dict:
    """The parsed, checked top level of a reading file; ValueError/OSError if unusable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except json.JSONDecodeError as err:  # cut short or edited by hand
        raise ValueError(f"not valid JSON at line {err.lineno}, column {err.colno}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a medview reading (format is not {FORMAT!r})")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"bad format version {version!r}")
    if version > VERSION:
        raise ValueError(f"written by a newer medview (format version {version})")
    for name in ("annotations", "key_images"):
        if not isinstance(data.get(name, []), list):
            raise ValueError(f"{name!r} is not a list")
        data.setdefault(name, [])
    return data


def _read(path: Path, notes: list[str]) -> dict | None:
    """The file's content, None when absent; a bad file is set aside with a note."""
    if not path.exists():
        return None
    try:
        return read_reading_file(path)
    except Exception as exc:  # noqa: BLE001 - any damage: report, never block the study
        notes.append(_set_aside(path, plain_reason(exc) if not isinstance(exc, ValueError)
                                else one_line(exc, None)))
        return None


def _set_aside(path: Path, reason: str) -> str:
    aside = path.with_name(path.name + ".unread")
    try:
        os.replace(path, aside)
        kept = f"kept as {aside.name}"
    except OSError:
        kept = "left in place"
    return (f"{path}: saved measurements could not be read ({reason}); {kept}, "
            "the study opens without them")


def _kept_from_file(path: Path, finder: FrameFinder) -> tuple[list, list]:
    """Entries of the existing file that memory does not hold: on images not open now,
    or of annotation kinds this version does not know."""
    notes: list[str] = []
    data = _read(path, notes)
    if data is None:
        return [], []
    entries = []
    for entry in data["annotations"]:
        try:
            ref, annotation = _annotation_from_json(entry)
        except ValueError:
            continue
        if annotation is None or not finder.owns(ref):
            entries.append(entry)
    marks = []
    for entry in data["key_images"]:
        try:
            if not finder.owns(ImageRef.from_json(entry)):
                marks.append(entry)
        except ValueError:
            continue
    return entries, marks


# -- one annotation ---------------------------------------------------------------


def _annotation_to_json(ref: ImageRef, a: Annotation) -> dict:
    out = {"image": ref.to_json(), "kind": a.kind,
           "points": [[float(r), float(c)] for r, c in a.points]}
    for f in dataclasses.fields(a):
        if f.name not in _OWN_KEYS and not f.name.startswith("_"):
            out[f.name] = _jsonable(getattr(a, f.name))
    return out


def _annotation_from_json(entry) -> tuple[ImageRef, Annotation | None]:
    """The reference and the annotation (None for a kind this version does not know);
    ValueError for a damaged entry."""
    if not isinstance(entry, dict):
        raise ValueError("an annotation is not an object")
    ref = ImageRef.from_json(entry.get("image"))
    kind = entry.get("kind")
    if not isinstance(kind, str):
        raise ValueError("an annotation has no kind")
    if kind not in POINTS_NEEDED:
        return ref, None
    points = entry.get("points")
    if (not isinstance(points, list) or len(points) < POINTS_NEEDED[kind]
            or not all(_is_point(p) for p in points)):
        raise ValueError(f"a {kind} annotation has bad points")
    known = {f.name for f in dataclasses.fields(Annotation)} - _OWN_KEYS
    extra = {k: v for k, v in entry.items() if k in known and not k.startswith("_")}
    return ref, Annotation(kind, [(float(r), float(c)) for r, c in points], **extra)


def _is_point(p) -> bool:
    return (isinstance(p, list) and len(p) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    for v in p))


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
