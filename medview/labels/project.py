"""The labelling project file: its task, its classes, the studies it covers, its label folder.

A project is one small JSON file (``*.mvlabels.json`` by convention)::

    {"format": "medview-labels", "version": 1, "name": "chest",
     "task": "classification", "classes": ["normal", "lesion"],
     "studies": ["cases/chest"], "label_dir": "chest-labels"}

A segmentation project lists ``"segments": [{"name": "lesion", "colour": "#e6194b"}]``
instead of ``classes``; segment k (from 1) is mask value k. ``"model": "NAME[/VERSION]"``
names the model in use, once one is chosen. Paths are stored relative to
the project file's folder where they can be, so a project moved together with its cases
(or opened from another PC's mount of the same share) still finds them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from medview.labels.files import LabelsError, read_json, write_json

__all__ = ["Project", "Segment", "TASKS", "FORMAT", "SKIP"]

FORMAT, VERSION = "medview-labels", 1
TASKS = ("classification", "segmentation")
#: The word that marks an image as skipped (never a class name).
SKIP = "skip"
# Colours of segments 1, 2, … when the user names none (distinct on grey images).
_PALETTE = ("#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0",
            "#f032e6", "#bcf60c")


@dataclass(frozen=True)
class Segment:
    """One segmentation label: its name and display colour (``#rrggbb``)."""

    name: str
    colour: str


@dataclass
class Project:
    """A labelling project.

    Attributes
    ----------
    path : Path
        The project file.
    task : {"classification", "segmentation"}
    classes : list of str
        Class names (classification; key N assigns ``classes[N - 1]``).
    segments : list of Segment
        Segmentation labels; segment k (from 1) is mask value k.
    studies : list of Path
        Folders (or files, DICOMDIRs) whose images are labelled, resolved.
    label_dir : Path
        Where labels are stored, resolved.
    name : str
        Shown in the viewer and in ``medview labels list``.
    model : str
        The model in use for the project (``NAME`` or ``NAME/VERSION`` of a registered
        model): what ranks its unlabelled images and what a retrained model is compared
        with. Empty when none is chosen yet.
    """

    path: Path
    task: Literal["classification", "segmentation"]
    studies: list[Path]
    label_dir: Path
    classes: list[str] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    name: str = ""
    model: str = ""

    @property
    def label_names(self) -> list[str]:
        """What a label may be: the class names, or the segment names."""
        if self.task == "classification":
            return list(self.classes)
        return [s.name for s in self.segments]

    @classmethod
    def create(cls, path: str | Path, task: str, names: list[str], studies: list[str | Path],
               label_dir: str | Path, colours: list[str] | None = None, name: str = "") -> Project:
        """Check and write a new project file (an existing one is not overwritten).

        Parameters
        ----------
        path : str or Path
            The project file to write.
        task : {"classification", "segmentation"}
        names : list of str
            Class names, or segment names.
        studies : list of str or Path
            Folders or files of images to label; each must exist.
        label_dir : str or Path
            The folder for labels (created if missing).
        colours : list of str, optional
            Segment colours ``#rrggbb``; default a fixed palette.
        name : str
            Default: the file name without its suffixes.

        Raises
        ------
        LabelsError
            On a bad argument, an existing file, or a folder that cannot be written.
        """
        path = Path(path).absolute()
        if path.exists():
            raise LabelsError(f"{path}: already exists; choose a new project file")
        project = cls(path=path, task=task, studies=[Path(s).absolute() for s in studies],
                      label_dir=Path(label_dir).absolute(), name=name or path.name.split(".")[0])
        if task == "segmentation":
            colours = list(colours or _PALETTE[: len(names)])
            project.segments = [Segment(n, c) for n, c in zip(names, colours)]
            if len(colours) < len(names):
                raise LabelsError(f"{path}: {len(names)} segments but {len(colours)} colours")
        else:
            project.classes = list(names)
        project.check()
        for study in project.studies:
            if not study.exists():
                raise LabelsError(f"{study}: not found")
        project.save()
        try:
            project.label_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LabelsError(f"{project.label_dir}: cannot create the label folder "
                              f"({exc.strerror or exc})") from None
        return project

    @classmethod
    def load(cls, path: str | Path) -> Project:
        """Read a project file.

        Raises
        ------
        LabelsError
            If it is missing, unreadable or not a valid project.
        """
        path = Path(path).absolute()
        data = read_json(path)
        if data.get("format") != FORMAT:
            raise LabelsError(f"{path}: not a medview labelling project")
        if data.get("version") != VERSION:
            raise LabelsError(f"{path}: project version {data.get('version')!r} is not supported "
                              f"(this medview reads version {VERSION})")
        base = path.parent
        try:
            project = cls(path=path, task=data["task"],
                          studies=[_resolve(base, s) for s in data["studies"]],
                          label_dir=_resolve(base, data["label_dir"]),
                          classes=[str(c) for c in data.get("classes", [])],
                          segments=[Segment(str(s["name"]), str(s["colour"]))
                                    for s in data.get("segments", [])],
                          name=str(data.get("name", "")), model=str(data.get("model") or ""))
        except (KeyError, TypeError) as exc:
            raise LabelsError(f"{path}: a required value is missing or malformed ({exc})") from None
        project.check()
        return project

    def check(self) -> None:
        """Raise :class:`LabelsError` unless the task, names and colours are usable."""
        where = self.path
        if self.task not in TASKS:
            raise LabelsError(f"{where}: task must be {' or '.join(TASKS)}, not {self.task!r}")
        names = self.label_names
        least = 2 if self.task == "classification" else 1
        if len(names) < least:
            raise LabelsError(f"{where}: {self.task} needs at least {least} "
                              f"{'classes' if least > 1 else 'segment'}")
        for n in names:
            if not n.strip() or n != n.strip():
                raise LabelsError(f"{where}: label name {n!r} is empty or has spaces around it")
            if n.lower() == SKIP:
                raise LabelsError(f"{where}: '{SKIP}' marks skipped images; it cannot be a class")
        if len(set(names)) != len(names):
            raise LabelsError(f"{where}: a label name appears twice")
        if len(names) > 255:
            raise LabelsError(f"{where}: at most 255 labels")
        for s in self.segments:
            if len(s.colour) != 7 or s.colour[0] != "#" or not _is_hex(s.colour[1:]):
                raise LabelsError(f"{where}: colour {s.colour!r} of '{s.name}' is not #rrggbb")
        if not self.studies:
            raise LabelsError(f"{where}: names no studies to label")

    def save(self) -> None:
        """Write the project file atomically (:class:`LabelsError` when it cannot be)."""
        base = self.path.parent
        data = {"format": FORMAT, "version": VERSION, "name": self.name, "task": self.task,
                "studies": [_portable(base, s) for s in self.studies],
                "label_dir": _portable(base, self.label_dir)}
        if self.task == "classification":
            data["classes"] = list(self.classes)
        else:
            data["segments"] = [{"name": s.name, "colour": s.colour} for s in self.segments]
        if self.model:
            data["model"] = self.model
        write_json(self.path, data)

    def class_index(self, text: str) -> int:
        """The label named ``text`` (or numbered, from 1) as an index into :attr:`label_names`.

        Raises
        ------
        LabelsError
            If it is neither, listing the valid names.
        """
        names = self.label_names
        if text in names:
            return names.index(text)
        if text.isdigit() and 1 <= int(text) <= len(names):
            return int(text) - 1
        raise LabelsError(f"{self.path}: no label {text!r} (labels: {', '.join(names)}; "
                          f"or '{SKIP}')")


def _resolve(base: Path, stored: str) -> Path:
    if not isinstance(stored, str) or not stored:
        raise TypeError("a path is not text")
    p = Path(stored)
    return p if p.is_absolute() else Path(os.path.normpath(base / p))


def _portable(base: Path, path: Path) -> str:
    """``path`` relative to ``base`` where it can be (not across Windows drives), with /."""
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:
        return str(path)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)
