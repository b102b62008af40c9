"""The planes of a volume as the frames of a view (MPR), without Qt.

A :class:`PlaneStack` is what a :class:`~medview.view.model.ViewModel` index runs over
when it shows a reformatted volume: one plane of a kind (axial, coronal, sagittal,
optionally turned: oblique) at each position :meth:`Volume.positions
<medview.core.volume.Volume.positions>` offers, cut by :mod:`medview.core.mpr` when
first shown. Each is a :class:`PlaneFrame`, which answers what the view asks of a frame
of a series (key, shape, display parameters, pixels, spacing, plane in the patient), so
the display pipeline, measurements, orientation markers and links treat it as any image.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medview.core.imports import load
from medview.view.links import PARALLEL

#: Cut planes kept per stack: the one on screen and a few scrolled past.
KEEP = 6
MODE_NAMES = {"mip": "MIP", "minip": "MinIP", "avg": "Average"}
#: Header values a plane frame takes from its series (what links and captions ask for).
SERIES_TAGS = ("FrameOfReferenceUID", "StudyInstanceUID", "SeriesInstanceUID", "Modality")


class _Held:
    """A plane's pixels, answering as the shared pixel cache does for a frame: always
    in memory (see :func:`medview.view.frames.decoded`)."""

    __slots__ = ("pixels",)

    def __init__(self, pixels: np.ndarray) -> None:
        self.pixels = pixels

    def get(self, key, make=None) -> np.ndarray:
        return self.pixels

    def contains(self, key) -> bool:
        return True


class PlaneFrame:
    """One cut plane, shown like a frame of a series.

    Parameters
    ----------
    image : medview.core.mpr.PlaneImage
        The pixels and where they lie in the patient.
    key : tuple
        Names the plane (volume, kind, position, slab, rotation): measurements and
        rendered buffers are kept under it.
    tags : dict
        Header values shared with the series (:data:`SERIES_TAGS`).
    """

    header = None
    image_info = None
    is_dicom = False
    is_decoded = True
    instance_number = None
    index = 0

    def __init__(self, image, key: tuple, tags: dict) -> None:
        self.image = image
        self.key = key
        self._tags = tags
        self.cache = _Held(image.pixels)

    @property
    def label(self) -> str:
        return f"{self.image.kind} plane at {self.image.position_mm:.1f} mm"

    @property
    def path(self) -> Path:
        """A name for lists of results (a plane has no file of its own)."""
        return Path(f"MPR {self.label}")

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.pixels.shape

    @property
    def params(self):
        return self.image.params

    @property
    def plane(self):
        return self.image.plane

    @property
    def spacing(self):
        return self.image.plane.spacing

    @property
    def slab_mm(self) -> float:
        return self.image.slab_mm

    def stored(self) -> np.ndarray:
        return self.image.pixels

    def modality_values(self) -> np.ndarray:
        return load("medview.core.pixels").modality_values(self.image.pixels, self.params)

    def get(self, keyword: str, default=None):
        value = self._tags.get(keyword)
        return default if value in (None, "") else value


class PlaneStack(Sequence):
    """The planes of one kind through a volume, one per position along the normal.

    Parameters
    ----------
    volume : medview.core.volume.Volume
    kind : {"axial", "coronal", "sagittal"}
        The plane before ``rotation``.
    slab_mm : float
        Slab thickness (0: a thin plane); ``mode`` combines the slab.
    mode : {"mip", "minip", "avg"}
    rotation : array_like, optional
        3×3 rotation about the volume centre (oblique planes).
    name : str, optional
        What the view calls the planes ("Oblique"); default the kind.
    token : str
        Names the volume in the frame keys (e.g. its series UID).
    tags : dict, optional
        Header values the planes share with the series (:data:`SERIES_TAGS`).
    """

    def __init__(self, volume, kind: str, *, slab_mm: float = 0.0, mode: str = "mip",
                 rotation=None, name: str | None = None, token: str = "",
                 tags: dict | None = None) -> None:
        self.volume, self.kind, self.mode = volume, kind, mode
        self.slab_mm = float(slab_mm)
        self.rotation = None if rotation is None else np.array(rotation, dtype=np.float64)
        self.name = name or kind.capitalize()
        self.token = token or f"volume-{id(volume)}"
        self.tags = dict(tags or {})
        self.positions = volume.positions(kind, self.rotation)
        # the plane normal: position_of is linear in the point, with no offset
        self.normal = np.array([volume.position_of(kind, axis, self.rotation)
                                for axis in np.eye(3)])
        self._cut: OrderedDict[int, PlaneFrame] = OrderedDict()

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        n = len(self)
        if not -n <= index < n:
            raise IndexError("plane position out of range")
        index %= n
        frame = self._cut.get(index)
        if frame is None:
            frame = self._cut[index] = self._make(index)
            while len(self._cut) > KEEP:
                self._cut.popitem(last=False)
        else:
            self._cut.move_to_end(index)
        return frame

    def _make(self, index: int) -> PlaneFrame:
        position = float(self.positions[index])
        image = self.volume.plane(self.kind, position, slab_mm=self.slab_mm, mode=self.mode,
                                  rotation=self.rotation)
        turn = () if self.rotation is None else tuple(np.round(self.rotation, 6).ravel())
        key = ("mpr", self.token, self.kind, round(position, 3), self.slab_mm, self.mode, turn)
        return PlaneFrame(image, key, self.tags)

    # -- positions -----------------------------------------------------------------

    @property
    def step_mm(self) -> float:
        """Distance between neighbouring planes (mm)."""
        return float(np.diff(self.positions).mean()) if len(self) > 1 else 0.0

    def index_of(self, position_mm: float) -> int:
        """The plane nearest ``position_mm`` along :attr:`normal`."""
        return int(np.argmin(np.abs(self.positions - position_mm)))

    def index_through(self, point) -> int:
        """The plane nearest a patient point (mm)."""
        return self.index_of(float(np.asarray(point, dtype=np.float64) @ self.normal))

    def nearest(self, normal, position_mm: float) -> int | None:
        """The plane nearest ``position_mm`` along ``normal`` (either sense), or None
        when ``normal`` is not this stack's (see :func:`medview.view.links.nearest_index`)."""
        cos = float(np.asarray(normal, dtype=np.float64) @ self.normal)
        if abs(cos) < PARALLEL:
            return None
        return self.index_of(position_mm if cos > 0 else -position_mm)

    def variant(self, **changes) -> PlaneStack:
        """The same stack with other ``slab_mm``, ``mode`` or ``rotation``."""
        args = {"slab_mm": self.slab_mm, "mode": self.mode, "rotation": self.rotation,
                "name": self.name, "token": self.token, "tags": self.tags, **changes}
        return PlaneStack(self.volume, self.kind, **args)

    # -- text ------------------------------------------------------------------------

    def caption(self, index: int) -> list[str]:
        """The lines a view shows about plane ``index``: name, number, position, slab."""
        lines = [f"{self.name} {index + 1}/{len(self)}  Pos {self.positions[index]:.1f} mm"]
        if self.slab_mm > 0:
            lines.append(f"{MODE_NAMES[self.mode]} slab {self.slab_mm:g} mm")
        return lines


def series_tags(series) -> dict:
    """The :data:`SERIES_TAGS` of a series' first frame."""
    frame = series.frames[0] if len(series.frames) else None
    return {k: frame.get(k) for k in SERIES_TAGS} if frame is not None else {}
