"""The open studies' readings kept on disk while the viewer runs, and exported as SR.
No Qt: the window calls :class:`ReadingKeeper` when studies arrive, when measurements or
key images change (it saves after a short pause) and before studies close; the CLI and
the window share :func:`export_reading`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from medview.core.annotations import AnnotationStore
from medview.core.errors import plain_reason
from medview.core.image_refs import FrameFinder
from medview.core.key_images import KeyImages
from medview.core.readings import load_reading, save_reading
from medview.core.study import Study


class ReadingKeeper:
    """Loads each open study's saved reading and saves the ones that changed.

    Parameters
    ----------
    annotations, key_images
        The window's stores (shared by its views).
    root : path, optional
        The user data folder (tests); the real one by default.
    """

    def __init__(self, annotations: AnnotationStore, key_images: KeyImages,
                 root: str | Path | None = None) -> None:
        self.annotations, self.key_images, self.root = annotations, key_images, root
        self._dirty: dict[int, Study] = {}

    @property
    def unsaved(self) -> bool:
        return bool(self._dirty)

    def opened(self, studies: Iterable[Study]) -> list[str]:
        """Bring back the saved readings of ``studies`` (called again as more of their
        images arrive: what is on the newly opened images is added, nothing twice).
        Unsaved changes are saved first, so that a measurement deleted a moment ago is
        not read back. Returns one line per problem."""
        notes = self.flush()
        for study in studies:
            notes += load_reading(study, self.annotations, self.key_images, self.root).notes
        return notes

    def changed(self, study: Study | None) -> None:
        """``study``'s measurements or key images changed; :meth:`flush` saves them."""
        if study is not None:
            self._dirty[id(study)] = study

    def flush(self) -> list[str]:
        """Save the studies that changed; one line per file that could not be written
        (the study stays marked, so the next flush tries again)."""
        notes = []
        for key, study in list(self._dirty.items()):
            try:
                save_reading(study, self.annotations, self.key_images, self.root)
            except Exception as exc:  # noqa: BLE001 - a full disk must not lose the session
                notes.append(f"measurements of {study.title} not saved: {plain_reason(exc)}")
                continue
            del self._dirty[key]
        return notes

    def forget(self) -> None:
        """The studies are closing (their stores are about to be cleared): nothing to save.
        Call :meth:`flush` first."""
        self._dirty.clear()


def export_reading(study: Study, annotations: AnnotationStore, key_images: KeyImages,
                   sr_path: str | Path | None, ko_path: str | Path | None = None,
                   observer: str | None = None) -> tuple[list[str], list[str]]:
    """Write ``study``'s measurements as a TID 1500 SR to ``sr_path`` and its key images
    as a Key Object Selection to ``ko_path`` (each when given and not empty).

    Returns ``(done, notes)``: one line per file written, one per thing left out. Raises
    ValueError when nothing could be written.
    """
    from medview.core.sr.key_objects import write_key_object_selection
    from medview.core.sr.measurement_report import write_measurement_report

    finder = FrameFinder([study])
    items = [(frame, a) for k, group in annotations.items()
             if (frame := finder.frame_of_key(k)) is not None for a in group]
    frames = [f for f in map(finder.frame_of_key, key_images) if f is not None]
    done, notes = [], []
    if sr_path is not None:
        if items:
            written = write_measurement_report(items, Path(sr_path), observer=observer)
            done.append(f"wrote {written.count} measurement(s) to {written.path}")
            notes += written.notes
        else:
            notes.append(f"no measurements in this study: {sr_path} not written")
    if ko_path is not None:
        if frames:
            written = write_key_object_selection(frames, Path(ko_path), observer=observer)
            done.append(f"wrote {written.count} key image(s) to {written.path}")
            notes += written.notes
        else:
            notes.append(f"no key images in this study: {ko_path} not written")
    if not done:
        raise ValueError("no measurements or key images in this study to export")
    return done, notes
