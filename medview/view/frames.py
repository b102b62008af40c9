"""A frame's pixels as far as they are in memory: the view never decodes on its own
(decoding is the loader's job, off the GUI thread)."""

from __future__ import annotations


class _NotDecoded(Exception):
    pass


def _not_decoded():
    raise _NotDecoded


def decoded(frame):
    """The stored pixels of ``frame`` if they are in memory, else None (never decodes)."""
    try:
        return frame.cache.get(frame.key, _not_decoded)
    except Exception:  # noqa: BLE001 - not decoded yet, or the cache refused it
        return None
