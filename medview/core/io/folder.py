"""Load files, folders (recursively) and DICOMDIRs into a :class:`~medview.core.study.Library`.

Only headers are read here. Anything unreadable is listed in
``Library.skipped`` with its one-line reason, and loading goes on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from medview.core.errors import ReadError, is_fatal, plain_reason
from medview.core.io import dicom, dicomdir, image, seg
from medview.core.study import Library

# Files every OS scatters in folders; listing them as "skipped" is noise.
_IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini", ".ds_store"})

Progress = Callable[[int, int, Path], None]


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Every file under ``paths`` (files as given, folders walked recursively, sorted)."""
    for p in map(Path, paths):
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and name.lower() not in _IGNORED_NAMES:
                        yield Path(root) / name
        else:
            yield p


def load_paths(paths: Iterable[str | Path], progress: Progress | None = None,
               cancelled: Callable[[], bool] | None = None,
               deliver: Callable[[Library], None] | None = None) -> Library:
    """Read the headers of everything under ``paths`` into a Library.

    Parameters
    ----------
    paths : iterable of str or Path
        Files, folders and DICOMDIR files, in any mix.
    progress : callable, optional
        Called as ``progress(done, total, path)`` after each file.
    cancelled : callable, optional
        Polled between files; loading stops early when it returns True.
    deliver : callable, optional
        Called with a Library of each file (or its skip reason, not yet sorted) as
        soon as it is read, so that a viewer can show good files before the slowest
        one is read.

    Returns
    -------
    Library
        Sorted patient → study → series tree; ``skipped`` lists each file that
        could not be used with its reason. With ``deliver``, only what was not
        delivered (unreadable DICOMDIRs).
    """
    library = Library()
    files = list(_expand_dicomdirs(iter_files(paths), library))
    for done, path in enumerate(files, 1):
        if cancelled is not None and cancelled():
            break
        if deliver is None:
            _add_file(library, path)
        else:
            one = Library()
            _add_file(one, path)
            deliver(one)  # unsorted: the receiver merges and sorts many at once
        if progress is not None:
            progress(done, len(files), path)
    library.finish()
    return library


def _expand_dicomdirs(files: Iterable[Path], library: Library) -> Iterator[Path]:
    """Replace each DICOMDIR by the files it references (each once)."""
    seen: set[Path] = set()
    for path in files:
        targets = [path]
        if path.name.upper() == "DICOMDIR":
            try:
                targets = dicomdir.referenced_files(path)
            except ReadError as err:
                library.skip(err.path, err.reason)
                continue
        for target in targets:
            key = target.resolve()
            if key not in seen:
                seen.add(key)
                yield target


def _add_file(library: Library, path: Path) -> None:
    try:
        if image.is_image_path(path):
            library.add_image(path, image.probe_image(path))
            return
        header = dicom.read_header(path)
        dicom.check_displayable(path, header)  # a SEG's pixels too: bounds before decoding
        if seg.is_segmentation(header):
            library.add_segmentation(seg.read_seg(path))
            return
        library.add_dicom(path, header)
    except ReadError as err:
        library.skip(err.path, err.reason)
    except OSError as exc:
        library.skip(path, f"cannot read file ({exc.strerror or exc})")
    except BaseException as exc:  # noqa: BLE001 - last line of defence, incl. a native
        # reader's PanicException: one odd file must not stop a folder
        if is_fatal(exc):
            raise
        library.skip(path, plain_reason(exc))
