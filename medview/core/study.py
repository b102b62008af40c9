"""Patient → Study → Series → Frame: what a set of files holds, built from headers.

Building the tree reads headers only; each :class:`Frame` decodes its pixels on
first use (through the shared :data:`~medview.core.pixel_cache.PIXELS` cache),
so the first image of a long series can be shown before the rest is decoded.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from medview.core import geometry, pixels
from medview.core.io import dicom, image
from medview.core.pixel_cache import PIXELS, PixelCache

_ids = itertools.count(1)


@dataclass(eq=False)
class Frame:
    """One displayable 2-D image: a single-frame file or one frame of a multi-frame one.

    Parameters
    ----------
    path : Path
        The file holding the pixels.
    index : int
        Frame number inside the file, 0-based.
    header : Dataset or None
        The DICOM header (no pixel data; shared by all frames of one file), or
        None for a plain image.
    image_info : ImageInfo or None
        Size and format of a plain image; None for DICOM.
    """

    path: Path
    index: int = 0
    header: Dataset | None = None
    image_info: image.ImageInfo | None = None
    cache: PixelCache = field(default=PIXELS, repr=False)

    @property
    def is_dicom(self) -> bool:
        return self.header is not None

    @property
    def key(self) -> tuple:
        return (str(self.path), self.index)

    @property
    def label(self) -> str:
        """Short name for messages: the file, and the frame when multi-frame (never
        raises: it names files whose header is damaged too)."""
        try:
            n = dicom.number_of_frames(self.header) if self.header is not None else 1
        except Exception:  # noqa: BLE001 - a bad NumberOfFrames: name the file alone
            n = 1
        return self.path.name + (f" [frame {self.index + 1}/{n}]" if n > 1 else "")

    @property
    def shape(self) -> tuple[int, int]:
        if self.header is not None:
            return int(self.header.Rows), int(self.header.Columns)
        return self.image_info.rows, self.image_info.cols

    @property
    def is_decoded(self) -> bool:
        return self.cache.contains(self.key)

    def stored(self) -> np.ndarray:
        """Stored pixel values (read-only array), decoded on first use.

        Raises
        ------
        ReadError
            If the pixels cannot be decoded, with the reason.
        """
        return self.cache.get(self.key, self._decode)

    def _decode(self) -> np.ndarray:
        if self.header is not None:
            return dicom.decode_frame(self.path, self.index, self.header)
        return image.read_image(self.path)

    @cached_property
    def params(self) -> pixels.DisplayParams:
        """Everything the display pipeline needs for this frame."""
        if self.header is not None:
            return pixels.display_params(self.header, self.index)
        info = self.image_info
        return pixels.image_params("L" if info.samples == 1 else "RGB", info.bits)

    def modality_values(self) -> np.ndarray:
        """Pixel values in modality units (e.g. HU for CT)."""
        return pixels.modality_values(self.stored(), self.params)

    @cached_property
    def spacing(self) -> geometry.Spacing:
        if self.header is None:
            return geometry.Spacing(None, None, "uncalibrated")
        return geometry.pixel_spacing(self.header, self.index)

    @cached_property
    def plane(self) -> geometry.ImagePlane | None:
        return geometry.image_plane(self.header, self.index) if self.header is not None else None

    @property
    def instance_number(self) -> int | None:
        return _int_or_none(self.header.get("InstanceNumber")) if self.header is not None else None

    def get(self, keyword: str, default=None):
        """A header value by keyword (``default`` for plain images or when absent)."""
        if self.header is None:
            return default
        value = self.header.get(keyword, default)
        return default if value in (None, "") else value


class FrameList(Sequence):
    """A series' frames, stored compactly: one row per file, two int32 numbers per frame.

    A multi-frame object with 10^5 frames costs 8 bytes a frame here, not a
    Python object a frame. A :class:`Frame` is made when asked for and shared
    while anyone holds it (a weak cache), so its cached display parameters and
    plane live as long as it is in use.
    """

    def __init__(self, frames: Iterable[Frame] = ()) -> None:
        self._sources: list[tuple[Path, Dataset | None, image.ImageInfo | None]] = []
        self._source_ids: dict[str, int] = {}
        self._file = np.empty(0, np.int32)    # position -> source number
        self._index = np.empty(0, np.int32)   # position -> frame number inside the file
        self._made: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self.extend(frames)

    def __len__(self) -> int:
        return len(self._file)

    def __getitem__(self, pos):
        if isinstance(pos, slice):
            return [self._frame(i) for i in range(len(self))[pos]]
        n = len(self)
        if not -n <= pos < n:
            raise IndexError("frame position out of range")
        return self._frame(pos % n)

    def __iter__(self) -> Iterator[Frame]:
        return (self._frame(i) for i in range(len(self)))

    def add_file(self, path: Path, header: Dataset, count: int) -> None:
        """Append frames 0 .. count-1 of one DICOM file without making Frame objects."""
        source = self._source(Path(path), header, None)
        self._file = np.concatenate([self._file, np.full(count, source, np.int32)])
        self._index = np.concatenate([self._index, np.arange(count, dtype=np.int32)])

    def append(self, frame: Frame) -> None:
        self.extend([frame])

    def extend(self, frames: Iterable[Frame]) -> None:
        files, indices = [], []
        for f in frames:
            source = self._source(f.path, f.header, f.image_info)
            self._made[(source, f.index)] = f
            files.append(source)
            indices.append(f.index)
        if files:
            self._file = np.concatenate([self._file, np.asarray(files, np.int32)])
            self._index = np.concatenate([self._index, np.asarray(indices, np.int32)])

    def keys(self) -> set[tuple[str, int]]:
        """Every frame's :attr:`Frame.key`, without making Frame objects."""
        paths = [str(path) for path, _, _ in self._sources]
        return {(paths[f], int(i)) for f, i in zip(self._file.tolist(), self._index.tolist())}

    def find(self, key: tuple[str, int]) -> Frame | None:
        """The frame whose :attr:`Frame.key` is ``key``, or None when not in this list."""
        source = self._source_ids.get(str(key[0]))
        if source is None:
            return None
        hits = np.flatnonzero((self._file == source) & (self._index == int(key[1])))
        return self._frame(int(hits[0])) if hits.size else None

    def reorder(self, order: np.ndarray) -> None:
        """Put the frames in ``order`` (positions, as from :func:`numpy.lexsort`)."""
        self._file, self._index = self._file[order], self._index[order]

    def sources(self) -> list[tuple[Path, Dataset | None, image.ImageInfo | None]]:
        return list(self._sources)

    def layout(self) -> tuple[np.ndarray, np.ndarray]:
        """(source number, frame number) per position, read-only views."""
        return self._file, self._index

    def _source(self, path: Path, header: Dataset | None, info: image.ImageInfo | None) -> int:
        key = str(path)
        source = self._source_ids.get(key)
        if source is None:
            source = self._source_ids[key] = len(self._sources)
            self._sources.append((Path(path), header, info))
        return source

    def _frame(self, pos: int) -> Frame:
        key = (int(self._file[pos]), int(self._index[pos]))
        frame = self._made.get(key)
        if frame is None:
            path, header, info = self._sources[key[0]]
            frame = Frame(path, key[1], header, info)
            self._made[key] = frame
        return frame


@dataclass(eq=False)
class Series:
    """Frames that share a SeriesInstanceUID (or, for plain images, a folder)."""

    uid: str
    number: int | None = None
    modality: str = ""
    description: str = ""
    frames: FrameList = field(default_factory=FrameList)
    study: Study | None = field(default=None, repr=False)
    id: int = field(default_factory=lambda: next(_ids))

    def __post_init__(self) -> None:
        if not isinstance(self.frames, FrameList):
            self.frames = FrameList(self.frames)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def title(self) -> str:
        """One-line caption for browsers: number, modality, description."""
        parts = [f"#{self.number}" if self.number is not None else "",
                 self.modality, self.description or "(no description)"]
        return " ".join(p for p in parts if p)

    def sort(self) -> None:
        """Order frames along the slice normal, else by InstanceNumber, then frame index.

        Position along the normal (ImagePositionPatient · normal) is used only
        when every frame has a plane and they all share one orientation, e.g.
        not for a localiser mixed into an axial series. Works on the compact
        frame list: a file's plane is computed once unless it has per-frame groups.
        """
        if len(self.frames) > 1:
            self.frames.reorder(_frame_order(self.frames))


@dataclass(eq=False)
class Study:
    uid: str
    date: str = ""
    time: str = ""
    description: str = ""
    accession: str = ""
    series: list[Series] = field(default_factory=list)
    patient: Patient | None = field(default=None, repr=False)

    @property
    def modalities(self) -> list[str]:
        return sorted({s.modality for s in self.series if s.modality})

    @property
    def title(self) -> str:
        date = _format_date(self.date)
        return " ".join(p for p in (date, self.description or "(no description)") if p)


@dataclass(eq=False)
class Patient:
    id: str
    name: str
    birth_date: str = ""
    sex: str = ""
    studies: list[Study] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.name or '(no name)'} [{self.id or 'no ID'}]"


@dataclass
class Library:
    """Everything loaded, grouped patient → study → series, and what was skipped."""

    patients: list[Patient] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    #: DICOM SEGs found among the files (:class:`medview.core.io.seg.SegOverlay`): shown
    #: over the frames they reference, not as series of their own
    segmentations: list = field(default_factory=list)

    def series(self) -> list[Series]:
        """All series in display order."""
        return [s for p in self.patients for st in p.studies for s in st.series]

    def frames(self) -> list[Frame]:
        return [f for s in self.series() for f in s.frames]

    def skip(self, path: Path, reason: str) -> None:
        self.skipped.append((Path(path), reason))

    def add_dicom(self, path: Path, header: Dataset) -> None:
        """Add every frame of a DICOM file whose header has been read."""
        series = self._series_for(header)
        series.frames.add_file(Path(path), header, dicom.number_of_frames(header))

    def add_segmentation(self, seg) -> None:
        """Add a SEG read by :func:`medview.core.io.seg.read_seg` (once per SOP instance)."""
        if all(s.sop_instance_uid != seg.sop_instance_uid for s in self.segmentations):
            self.segmentations.append(seg)

    def add_image(self, path: Path, info: image.ImageInfo) -> None:
        """Add a plain image; images of one folder form one series."""
        path = Path(path)
        folder = str(path.parent)
        patient = self._get_patient("", "(image files)", "", "")
        study = self._get_study(patient, f"images:{folder}", "", "", path.parent.name, "")
        series = self._get_series(study, f"images:{folder}", None, "OT", path.parent.name)
        series.frames.append(Frame(path, 0, None, info))

    def finish(self) -> None:
        """Sort frames, series and studies once loading is done."""
        for patient in self.patients:
            for study in patient.studies:
                for series in study.series:
                    series.sort()
                study.series.sort(key=lambda s: (s.number is None, s.number or 0, s.description))
            patient.studies.sort(key=lambda st: (st.date, st.time))

    def merge(self, other: Library, finish: bool = True) -> None:
        """Add another library's content (e.g. a second drop) to this one; with
        ``finish=False`` the sort is left to a later :meth:`finish` (many small merges)."""
        for patient in other.patients:
            mine = self._get_patient(patient.id, patient.name, patient.birth_date, patient.sex)
            for study in patient.studies:
                existing = next((s for s in mine.studies if s.uid == study.uid), None)
                if existing is None:
                    study.patient = mine
                    mine.studies.append(study)
                    continue
                for series in study.series:
                    _merge_series(existing, series)
        self.skipped.extend(other.skipped)
        for seg in other.segmentations:
            self.add_segmentation(seg)
        if finish:
            self.finish()

    # -- grouping -------------------------------------------------------------

    def _series_for(self, ds: Dataset) -> Series:
        patient = self._get_patient(str(ds.get("PatientID", "") or ""),
                                    _person_name(ds.get("PatientName")),
                                    str(ds.get("PatientBirthDate", "") or ""),
                                    str(ds.get("PatientSex", "") or ""))
        study = self._get_study(patient, str(ds.get("StudyInstanceUID", "") or "(no study UID)"),
                                str(ds.get("StudyDate", "") or ""), str(ds.get("StudyTime", "") or ""),
                                str(ds.get("StudyDescription", "") or ""),
                                str(ds.get("AccessionNumber", "") or ""))
        return self._get_series(study, str(ds.get("SeriesInstanceUID", "") or "(no series UID)"),
                                _int_or_none(ds.get("SeriesNumber")),
                                str(ds.get("Modality", "") or ""),
                                str(ds.get("SeriesDescription", "") or ""))

    def _get_patient(self, pid: str, name: str, birth: str, sex: str) -> Patient:
        for p in self.patients:
            if p.id == pid and p.name == name:
                return p
        patient = Patient(pid, name, birth, sex)
        self.patients.append(patient)
        return patient

    @staticmethod
    def _get_study(patient: Patient, uid: str, date: str, time: str, description: str,
                   accession: str) -> Study:
        for s in patient.studies:
            if s.uid == uid:
                return s
        study = Study(uid, date, time, description, accession, patient=patient)
        patient.studies.append(study)
        return study

    @staticmethod
    def _get_series(study: Study, uid: str, number: int | None, modality: str,
                    description: str) -> Series:
        for s in study.series:
            if s.uid == uid:
                return s
        series = Series(uid, number, modality, description, study=study)
        study.series.append(series)
        return series


def _merge_series(study: Study, series: Series) -> None:
    """Add ``series`` to ``study``; frames of an already open series join it once."""
    mine = next((s for s in study.series if s.uid == series.uid), None)
    if mine is None:
        series.study = study
        study.series.append(series)
        return
    known = mine.frames.keys()
    mine.frames.extend(f for f in series.frames if f.key not in known)


def _frame_order(frames: FrameList) -> np.ndarray:
    """Positions of ``frames`` in display order (see :meth:`Series.sort`)."""
    sources = frames.sources()
    file_of, index_of = frames.layout()
    instance = [_int_or_none(h.get("InstanceNumber")) if h is not None else None
                for _, h, _ in sources]
    inst = np.array([instance[f] or 0 for f in file_of.tolist()], np.int64)
    location = _slice_locations(sources, file_of, index_of)
    if location is not None:
        return np.lexsort((index_of, inst, location))
    no_inst = np.array([instance[f] is None for f in file_of.tolist()])
    path_rank = np.argsort(np.argsort([str(p) for p, _, _ in sources], kind="stable"))
    return np.lexsort((index_of, path_rank[file_of], inst, no_inst))


def _slice_locations(sources, file_of: np.ndarray, index_of: np.ndarray) -> np.ndarray | None:
    """Position along the shared slice normal per frame; None unless every frame has a
    plane and all share one orientation. A file without per-frame groups has one plane,
    computed once for all its frames."""
    normals, locations = set(), np.empty(len(file_of))
    for f, (_, header, _) in enumerate(sources):
        positions = np.flatnonzero(file_of == f)
        if header is None:
            return None
        per_frame = "PerFrameFunctionalGroupsSequence" in header
        for pos in positions if per_frame else positions[:1]:
            plane = geometry.image_plane(header, int(index_of[pos]) if per_frame else 0)
            if plane is None:
                return None
            normals.add(tuple(np.round(plane.normal, 3)))
            if len(normals) > 1:
                return None
            if per_frame:
                locations[pos] = geometry.slice_location(plane)
            else:
                locations[positions] = geometry.slice_location(plane)
    return locations


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _person_name(value) -> str:
    """PatientName as 'Family, Given' (the ^ separators of PS3.5 6.2 replaced)."""
    if value is None:
        return ""
    text = str(value)
    parts = [p for p in text.split("=")[0].split("^") if p]
    if len(parts) >= 2:
        return f"{parts[0]}, {' '.join(parts[1:])}"
    return parts[0] if parts else ""


def _format_date(da: str) -> str:
    """DICOM DA (YYYYMMDD) as ISO YYYY-MM-DD; anything else unchanged."""
    return f"{da[:4]}-{da[4:6]}-{da[6:8]}" if len(da) == 8 and da.isdigit() else da
