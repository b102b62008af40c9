"""A thread-safe, size-bounded LRU cache of decoded frames.

Series load header-first; pixels are decoded on demand (by the viewer's worker
pool or the CLI) and kept here so scrolling back does not decode again, while
a 2000-slice study cannot exhaust a clinic PC's memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np

DEFAULT_BUDGET_BYTES = 1536 * 1024 * 1024


class PixelCache:
    """LRU of numpy arrays bounded by total bytes.

    Parameters
    ----------
    max_bytes : int
        Total size above which the least recently used frames are dropped.
    """

    def __init__(self, max_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.max_bytes = max_bytes
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
