"""A thread-safe, size-bounded LRU cache of decoded frames.

Series load header-first; pixels are decoded on demand (by the viewer's worker
pool or the CLI) and kept here so scrolling back does not decode again, while
a 2000-slice study cannot exhaust a clinic PC's memory: the budget is a share of
the machine's RAM (:func:`default_budget_bytes`) unless the user sets one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np

from medview.core.ram import total_ram_bytes

MB = 1024 * 1024
#: the budget is this share of the machine's RAM, within the floor and the ceiling: a
#: 4 GB office PC keeps 256 MB of frames (a 512² CT of ~500 slices), 8 GB 512 MB,
#: 32 GB and more 2 GB; the rest stays for the system, the viewer and the AI.
RAM_SHARE = 1 / 16
FLOOR_BYTES = 256 * MB
CEILING_BYTES = 2048 * MB
#: where the machine does not say how much RAM it has (as for an 8 GB PC)
UNKNOWN_RAM_BYTES = 512 * MB


def default_budget_bytes(total_ram: int | None = None) -> int:
    """The frame cache's budget for a machine with ``total_ram`` bytes of RAM.

    Parameters
    ----------
    total_ram : int, optional
        Default: this machine's (:func:`medview.core.ram.total_ram_bytes`).

    Returns
    -------
    int
        :data:`RAM_SHARE` of it, at least :data:`FLOOR_BYTES` and at most
        :data:`CEILING_BYTES`; :data:`UNKNOWN_RAM_BYTES` when the RAM is unknown.
    """
    total = total_ram_bytes() if total_ram is None else total_ram
    if not total:
        return UNKNOWN_RAM_BYTES
    return int(min(CEILING_BYTES, max(FLOOR_BYTES, total * RAM_SHARE)))


def budget_bytes(setting_mb: int = 0) -> int:
    """The budget for the user's setting in MB: itself from 64 MB up, else (0) the
    machine's default (:func:`default_budget_bytes`)."""
    return setting_mb * MB if setting_mb >= 64 else default_budget_bytes()


class PixelCache:
    """LRU of numpy arrays bounded by total bytes.

    Parameters
    ----------
    max_bytes : int, optional
        Total size above which the least recently used frames are dropped; default
        :func:`default_budget_bytes`.
    """

    def __init__(self, max_bytes: int | None = None) -> None:
        self.max_bytes = default_budget_bytes() if max_bytes is None else max_bytes
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached array for ``key``, calling ``load()`` on a miss.

        ``load`` runs outside the lock so several threads decode in parallel;
        if two race for one key, the first stored result wins.
        """
        with self._lock:
            arr = self._items.get(key)
            if arr is not None:
                self._items.move_to_end(key)
                return arr
        arr = load()
        arr.setflags(write=False)  # shared between threads and views
        with self._lock:
            if key in self._items:
                return self._items[key]
            self._items[key] = arr
            self._bytes += arr.nbytes
            self._evict()
        return arr

    def adopt(self, key: Hashable, arr: np.ndarray) -> bool:
        """Hold ``arr`` for ``key`` in place of the cached array, if one is cached.

        For an array holding the same values in memory that lives anyway (a slice of a
        volume): the cached copy is freed. ``arr`` is made read-only. Returns whether
        ``key`` was cached.
        """
        arr.setflags(write=False)
        with self._lock:
            old = self._items.get(key)
            if old is None:
                return False
            self._items[key] = arr
            self._bytes += arr.nbytes - old.nbytes
        return True

    def contains(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def discard(self, key: Hashable) -> None:
        with self._lock:
            arr = self._items.pop(key, None)
            if arr is not None:
                self._bytes -= arr.nbytes

    @property
    def nbytes(self) -> int:
        return self._bytes

    def _evict(self) -> None:
        while self._bytes > self.max_bytes and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self._bytes -= old.nbytes


PIXELS = PixelCache()
