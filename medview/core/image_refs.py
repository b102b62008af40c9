"""Which image a measurement or key-image mark is on, in terms that outlive the session.

A :class:`~medview.core.study.Frame` is keyed by its file path and frame index while a
study is open; files move, so what is saved (the user folder's readings, DICOM SR and
Key Object Selection documents) names a DICOM image by SOP Instance UID and frame, and a
plain image by its path (then by its file name, for a moved folder). No Qt, no pydicom
import here: headers come from the study.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from medview.core.io.dicom import number_of_frames
from medview.core.study import Frame, Series, Study


@dataclass(frozen=True)
class ImageRef:
    """One image of a study, as saved.

    Attributes
    ----------
    sop_instance_uid : str
        SOP Instance UID (0008,0018) of the DICOM file; empty for a plain image.
    frame : int
        Frame index inside the file, from 0 (DICOM frame numbers are this + 1).
    sop_class_uid, series_uid : str
        SOP Class UID and Series Instance UID, which SR references need (empty when
        unknown or for a plain image).
    path : str
        Where the file was; how a plain image is found again.
    """

    sop_instance_uid: str = ""
    frame: int = 0
    sop_class_uid: str = ""
    series_uid: str = ""
    path: str = ""

    @property
    def is_dicom(self) -> bool:
        return bool(self.sop_instance_uid)

    def to_json(self) -> dict:
        """The saved form: only the fields that are set."""
        out = {k: v for k, v in (("sop_instance_uid", self.sop_instance_uid),
                                 ("sop_class_uid", self.sop_class_uid),
                                 ("series_uid", self.series_uid), ("path", self.path)) if v}
        out["frame"] = self.frame
        return out

    @classmethod
    def from_json(cls, data) -> ImageRef:
        """Read :meth:`to_json`'s form; ValueError (one line) when it is not one."""
        if not isinstance(data, dict):
            raise ValueError("an image reference is not an object")
        frame = data.get("frame", 0)
        if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
            raise ValueError(f"an image reference has a bad frame number ({frame!r})")
        texts = {}
        for name in ("sop_instance_uid", "sop_class_uid", "series_uid", "path"):
            value = data.get(name, "")
            if not isinstance(value, str):
                raise ValueError(f"an image reference has a bad {name} ({value!r})")
            texts[name] = value
        if not texts["sop_instance_uid"] and not texts["path"]:
            raise ValueError("an image reference names neither a SOP instance nor a file")
        return cls(frame=frame, **texts)

    def describe(self) -> str:
        """Short text for messages and ``medview sr show``."""
        where = self.sop_instance_uid or Path(self.path).name
        return f"{where} frame {self.frame + 1}"


def ref_of(frame: Frame) -> ImageRef:
    """The :class:`ImageRef` of an open frame."""
    if frame.header is None:
        return ImageRef(frame=frame.index, path=str(frame.path))
    return ImageRef(sop_instance_uid=_text(frame.header, "SOPInstanceUID"), frame=frame.index,
                    sop_class_uid=_text(frame.header, "SOPClassUID"),
                    series_uid=_text(frame.header, "SeriesInstanceUID"), path=str(frame.path))


class FrameFinder:
    """Finds the open frames of some studies by :class:`ImageRef`, and refs by frame key.

    Parameters
    ----------
    studies : iterable of Study
        What is open; only these studies' frames are found.
    """

    def __init__(self, studies: Iterable[Study]) -> None:
        self._by_uid: dict[str, tuple[Series, str]] = {}
        self._by_path: dict[str, Series] = {}
        self._by_name: dict[str, list[tuple[Series, str]]] = {}
        self._frame_counts: dict[str, int] = {}
        for study in studies:
            for series in study.series:
                self._add(series)

    def _add(self, series: Series) -> None:
        for path, header, _info in series.frames.sources():
            key = str(path)
            self._by_path[key] = series
            self._frame_counts[key] = number_of_frames(header) if header is not None else 1
            if header is not None:
                uid = _text(header, "SOPInstanceUID")
                if uid:
                    self._by_uid.setdefault(uid, (series, key))
            else:
                self._by_name.setdefault(Path(key).name, []).append((series, key))

    def key_of(self, ref: ImageRef) -> tuple[str, int] | None:
        """The open frame's key (path, index) for ``ref``, or None when it is not open."""
        hit = self._find(ref)
        return (hit[1], ref.frame) if hit is not None else None

    def frame(self, ref: ImageRef) -> Frame | None:
        """The open :class:`Frame` for ``ref``, or None when it is not open."""
        hit = self._find(ref)
        return hit[0].frames.find((hit[1], ref.frame)) if hit is not None else None

    def frame_of_key(self, key: tuple) -> Frame | None:
        """The open frame with :attr:`Frame.key` ``key``, or None."""
        series = self._by_path.get(str(key[0]))
        return series.frames.find(key) if series is not None else None

    def ref_of_key(self, key: tuple) -> ImageRef | None:
        """The :class:`ImageRef` of the open frame keyed ``key``, or None."""
        frame = self.frame_of_key(key)
        return ref_of(frame) if frame is not None else None

    def owns(self, ref: ImageRef) -> bool:
        """Whether ``ref`` names a file of the open studies (whatever its frame)."""
        return self._find(ref, check_frame=False) is not None

    def _find(self, ref: ImageRef, check_frame: bool = True) -> tuple[Series, str] | None:
        hit = None
        if ref.sop_instance_uid:
            hit = self._by_uid.get(ref.sop_instance_uid)
        elif ref.path in self._by_path:
            hit = (self._by_path[ref.path], ref.path)
        else:
            same_name = self._by_name.get(Path(ref.path).name, [])
            hit = same_name[0] if len(same_name) == 1 else None  # a moved folder
        if hit is None or (check_frame and ref.frame >= self._frame_counts[hit[1]]):
            return None
        return hit


def _text(header, keyword: str) -> str:
    return str(header.get(keyword, "") or "").strip()
