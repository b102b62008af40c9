"""The images a project covers, each with an identity that outlives paths and sessions.

A DICOM image is the SOP Instance UID and frame (files may be moved or copied to another
PC); a plain image (PNG, JPEG, ...) is its path relative to the project file's folder and
frame. :attr:`ProjectImage.id` is a short hash of that identity, used to name label files.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from medview.core.study import Frame
from medview.labels.project import Project

__all__ = ["ProjectImage", "ProjectImages", "image_id", "scan", "from_frames"]


@dataclass(frozen=True)
class ProjectImage:
    """One labellable image (a single-frame file, or one frame of a multi-frame one).

    Attributes
    ----------
    id : str
        Stable identity (see :func:`image_id`).
    path : Path
        The file, as found now.
    frame : int
        Frame index inside the file, from 0.
    sop_instance_uid : str
        Empty for a plain image.
    patient_id : str
        DICOM PatientID; empty when none.
    """

    id: str
    path: Path
    frame: int = 0
    sop_instance_uid: str = ""
    patient_id: str = ""

    def describe(self) -> str:
        """Short text for messages: the file and, past the first, the frame."""
        return str(self.path) + (f" [frame {self.frame + 1}]" if self.frame else "")


@dataclass
class ProjectImages:
    """A project's images in viewing order, and the files that could not be read."""

    images: list[ProjectImage] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_id = {im.id: im for im in self.images}
        self._by_file: dict[str, list[ProjectImage]] = {}
        for im in self.images:  # one resolve per image: paths are compared resolved
            self._by_file.setdefault(str(im.path.resolve()), []).append(im)

    def __len__(self) -> int:
        return len(self.images)

    def get(self, image_id: str) -> ProjectImage | None:
        return self._by_id.get(image_id)

    def find(self, path: str | Path, frame: int = 0) -> ProjectImage | None:
        """The image at ``path`` (any spelling of it) and ``frame``, or None."""
        return next((im for im in self.in_file(path) if im.frame == frame), None)

    def in_file(self, path: str | Path) -> list[ProjectImage]:
        """Every frame of the file at ``path`` that the project covers."""
        return list(self._by_file.get(str(Path(path).resolve()), ()))


def image_id(project_dir: Path, path: Path, frame: int, sop_instance_uid: str = "") -> str:
    """The identity of an image as a 20-character hex string.

    DICOM: the SOP Instance UID and frame; plain images: the path relative to the
    project's folder (with ``/``) and frame.
    """
    if sop_instance_uid:
        identity = f"sop:{sop_instance_uid}:{frame}"
    else:
        try:
            where = Path(os.path.relpath(Path(path).absolute(), project_dir)).as_posix()
        except ValueError:  # another Windows drive
            where = Path(path).absolute().as_posix()
        identity = f"file:{where}:{frame}"
    return hashlib.sha1(identity.encode("utf-8")).hexdigest()[:20]


def scan(project: Project, progress: Callable[[int, int, Path], None] | None = None,
         cancelled: Callable[[], bool] | None = None) -> ProjectImages:
    """Read the headers of the project's studies (no pixels) into :class:`ProjectImages`."""
    from medview.core.io.folder import load_paths

    missing = [(s, "not found (a study of the project)") for s in project.studies if not s.exists()]
    library = load_paths([s for s in project.studies if s.exists()], progress=progress,
                         cancelled=cancelled)
    found = from_frames(project, library.frames())
    found.skipped[:0] = missing + list(library.skipped)
    return found


def from_frames(project: Project, frames: Iterable[Frame]) -> ProjectImages:
    """The project images among ``frames`` (e.g. the viewer's open library), in their order.

    Files inside the project's label folder (its SEG masks) are not images to label.
    """
    base = project.path.parent
    labels = project.label_dir.resolve()
    images, seen = [], set()
    for f in frames:
        if labels in Path(f.path).resolve().parents:
            continue
        uid = str(f.get("SOPInstanceUID", "") or "")
        im = ProjectImage(image_id(base, f.path, f.index, uid), Path(f.path), f.index, uid,
                          str(f.get("PatientID", "") or ""))
        if im.id not in seen:  # the same instance twice (a copy): labelled once
            seen.add(im.id)
            images.append(im)
    return ProjectImages(images)
