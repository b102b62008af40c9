"""Key images: the frames a reader marks as the ones that matter in a study. No Qt.

Kept by frame key (:attr:`medview.core.study.Frame.key`) while studies are open, like
:class:`~medview.core.annotations.AnnotationStore`; :mod:`medview.core.readings` saves
them with the study and :mod:`medview.core.sr` exports them as a DICOM Key Object
Selection document.
"""

from __future__ import annotations

from collections.abc import Iterator


class KeyImages:
    """An ordered set of frame keys, in the order they were marked."""

    def __init__(self) -> None:
        self._keys: dict[tuple, None] = {}

    def mark(self, key: tuple) -> None:
        self._keys[key] = None

    def unmark(self, key: tuple) -> bool:
        """Remove ``key``; whether it was marked."""
        if key not in self._keys:
            return False
        del self._keys[key]
        return True

    def toggle(self, key: tuple) -> bool:
        """Mark or unmark ``key``; whether it is marked now."""
        if key in self._keys:
            del self._keys[key]
            return False
        self._keys[key] = None
        return True

    def clear(self) -> None:
        self._keys.clear()

    def forget_frames(self, keys) -> None:
        for k in keys:
            self._keys.pop(k, None)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __iter__(self) -> Iterator[tuple]:
        return iter(list(self._keys))

    def __len__(self) -> int:
        return len(self._keys)
