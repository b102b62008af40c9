"""How much physical memory this machine has, asked of the operating system. No Qt, no torch.

Linux and macOS: ``sysconf`` (pages × page size); Windows: ``GlobalMemoryStatusEx``.
Budgets that scale with the machine (the decoded-frame cache,
:func:`medview.core.pixel_cache.default_budget_bytes`) read it.
"""

from __future__ import annotations

import ctypes
import os
import sys


class MEMORYSTATUSEX(ctypes.Structure):
    """winbase.h's structure for ``GlobalMemoryStatusEx`` (defined everywhere, so that a
    test checks its layout)."""

    _fields_ = [("dwLength", ctypes.c_uint32), ("dwMemoryLoad", ctypes.c_uint32),
                ("ullTotalPhys", ctypes.c_uint64), ("ullAvailPhys", ctypes.c_uint64),
                ("ullTotalPageFile", ctypes.c_uint64), ("ullAvailPageFile", ctypes.c_uint64),
                ("ullTotalVirtual", ctypes.c_uint64), ("ullAvailVirtual", ctypes.c_uint64),
                ("ullAvailExtendedVirtual", ctypes.c_uint64)]


def total_ram_bytes() -> int | None:
    """Total physical memory in bytes; None where the system does not say."""
    try:
        if sys.platform == "win32":
            return _windows_total()
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None
    return pages * size if pages > 0 and size > 0 else None


def _windows_total() -> int | None:
    status = MEMORYSTATUSEX()
    status.dwLength = ctypes.sizeof(status)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
        return None
    return int(status.ullTotalPhys) or None
