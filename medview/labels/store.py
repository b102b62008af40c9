"""Labels on disk: one small JSON file per labelled image and writer, newest wins on read.

Layout of a project's label folder::

    3f0c…e1.anna@ct-ws2.json      the label anna gave image 3f0c…e1 on PC ct-ws2
    3f0c…e1.ben@reading-pc.json   ben's label of the same image, from another PC
    masks/3f0c…e1.anna@ct-ws2.dcm anna's mask of it (DICOM SEG), for segmentation

Why files per (image, writer) rather than one labels file or a log:

* **Two PCs on one share never write the same file.** Each writer only replaces its own
  files, so no write can clobber another PC's label; there is no shared file to lock
  (network shares lock badly) and no merge step that could drop lines.
* **A crash loses at most the label being written.** Each file is written atomically
  (temp file, fsync, rename): a file is either the old label or the new one, never half.
* **Reading merges.** For each image the record with the latest ``when`` (then the
  writer's name, so every PC picks the same one) is the image's label; a newer
  "unlabelled" record clears it. Clocks of clinic PCs agree to well under the seconds
  between two people's edits of one image; the losing record stays on disk, not deleted.

Each record names who (OS user), where (host), when (UTC), the image (SOP Instance UID,
frame, path) and the patient (PatientID), so exports split by patient with no extra
work. A file that cannot be read is listed in :attr:`LabelStore.problems`, never dropped
silently and never deleted.
"""

from __future__ import annotations

import getpass
import re
import socket
from dataclasses import asdict, dataclass
from datetime import datetime, UTC
from pathlib import Path
from typing import TYPE_CHECKING

from medview.labels.files import LabelsError, read_json, write_json
from medview.labels.project import SKIP

if TYPE_CHECKING:  # images reads headers (pydicom); the store itself needs none
    from medview.labels.images import ProjectImage

__all__ = ["Label", "LabelStore", "writer_name", "LABELLED", "SKIPPED", "UNLABELLED"]

LABELLED, SKIPPED, UNLABELLED = "labelled", "skipped", "unlabelled"
#: The value of a segmentation label: the image has a mask (its segments say which).
MASK = "mask"
MASKS = "masks"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def writer_name(user: str | None = None, host: str | None = None) -> str:
    """``user@host`` with only file-name-safe characters: whose files these are."""
    user = user or _os_user()
    host = host or socket.gethostname() or "pc"
    return f"{_SAFE.sub('_', user)}@{_SAFE.sub('_', host)}"


@dataclass(frozen=True)
class Label:
    """One image's label as recorded.

    Attributes
    ----------
    image_id : str
        :attr:`~medview.labels.images.ProjectImage.id`.
    value : str
        The class name (segmentation: ``"mask"``); ``"skip"`` for a skipped image;
        ``""`` cleared.
    who, host : str
        The OS user and the PC that wrote it.
    when : str
        ISO 8601 UTC time with microseconds.
    sop_instance_uid, path, patient_id : str
        The image and its patient, as they were when labelled.
    frame : int
        Frame index from 0.
    mask : str
        The mask (DICOM SEG) file, relative to the label folder; segmentation only.
    segments : tuple of str
        The segments the mask contains; segmentation only.
    """

    image_id: str
    value: str
    who: str
    host: str
    when: str
    sop_instance_uid: str = ""
    frame: int = 0
    path: str = ""
    patient_id: str = ""
    mask: str = ""
    segments: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        """``"labelled"``, ``"skipped"`` or ``"unlabelled"``."""
        if not self.value:
            return UNLABELLED
        return SKIPPED if self.value == SKIP else LABELLED

    @property
    def writer(self) -> str:
        return writer_name(self.who, self.host)

    def to_json(self) -> dict:
        data = asdict(self)
        data["segments"] = list(self.segments)
        return {"format": "medview-label", **data}

    @classmethod
    def from_json(cls, data: dict) -> Label:
        """Read :meth:`to_json`'s form; ValueError when it is not one."""
        if data.get("format") != "medview-label":
            raise ValueError("not a medview label record")
        fields = {k: data.get(k) for k in cls.__dataclass_fields__}
        for k in ("image_id", "value", "who", "host", "when"):
            if not isinstance(fields[k], str):
                raise ValueError(f"its {k} is missing")
        for k in ("sop_instance_uid", "path", "patient_id", "mask"):
            if not isinstance(fields[k] or "", str):
                raise ValueError(f"its {k} is not text")
            fields[k] = fields[k] or ""
        frame = fields["frame"]
        if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
            raise ValueError("its frame is not a number from 0")
        segments = fields["segments"] or []
        if not isinstance(segments, list) or not all(isinstance(x, str) for x in segments):
            raise ValueError("its segments are not a list of names")
        fields["segments"] = tuple(segments)
        return cls(**fields)


class LabelStore:
    """The labels of one project's label folder, as this writer sees and writes them.

    Parameters
    ----------
    label_dir : Path
        The project's label folder.
    user, host : str, optional
        Who writes, and on which PC (default: this OS user and this PC); tests use them
        to play two PCs.
    """

    def __init__(self, label_dir: str | Path, user: str | None = None,
                 host: str | None = None) -> None:
        self.label_dir = Path(label_dir)
        self.who = user or _os_user()
        self.host = host or socket.gethostname() or "pc"
        self.labels: dict[str, Label] = {}
        #: Files in the label folder that could not be read, with the reason.
        self.problems: list[tuple[Path, str]] = []
        self.reload()

    @property
    def writer(self) -> str:
        return writer_name(self.who, self.host)

    def reload(self) -> None:
        """Read every writer's records again (to see what other PCs saved since)."""
        labels: dict[str, Label] = {}
        self.problems = []
        if not self.label_dir.is_dir():
            self.labels = labels
            return
        for path in sorted(self.label_dir.glob("*.json")):
            if path.name.startswith("."):  # an atomic write's temporary file
                continue
            try:
                label = Label.from_json(read_json(path))
            except (LabelsError, ValueError) as exc:
                self.problems.append((path, str(exc).removeprefix(f"{path}: ")))
                continue
            old = labels.get(label.image_id)
            if old is None or (label.when, label.writer) > (old.when, old.writer):
                labels[label.image_id] = label
        self.labels = labels

    def get(self, image_id: str) -> Label | None:
        """The image's label, or None when it has none (or it was cleared)."""
        label = self.labels.get(image_id)
        return label if label is not None and label.state != UNLABELLED else None

    def set(self, image: ProjectImage, value: str, mask: str = "",
            segments: tuple[str, ...] = ()) -> Label:
        """Record ``value`` (a class name, ``"mask"``, ``"skip"`` or ``""`` to clear) for
        ``image`` now; a mask is named relative to the label folder.

        The caller checks ``value`` against the project. The record is on disk when
        this returns; if it cannot be written, :class:`LabelsError` names the folder
        and the labels in memory are unchanged.
        """
        label = Label(image.id, value, self.who, self.host, _now(), image.sop_instance_uid,
                      image.frame, str(image.path), image.patient_id, mask, tuple(segments))
        write_json(self.record_path(image.id), label.to_json())
        self.labels[image.id] = label
        return label

    def record_path(self, image_id: str) -> Path:
        """This writer's record file for an image."""
        return self.label_dir / f"{image_id}.{self.writer}.json"

    def mask_path(self, image_id: str) -> Path:
        """This writer's mask (DICOM SEG) file for an image."""
        return self.label_dir / MASKS / f"{image_id}.{self.writer}.dcm"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no user name in the environment
        return "user"
