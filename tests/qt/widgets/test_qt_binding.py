"""Guards against a Qt binding that would crash the application.

PySide6 6.12.0 on CPython 3.11 returns ``None`` from every void method without
taking a reference to it, so each ``setText``/``setData``/``show`` call lowers
``None``'s reference count by one; after some tens of thousands of calls Python
aborts with "Fatal Python error: none_dealloc: deallocating None". A clinic
workstation would crash minutes into a session. From CPython 3.12 ``None`` is
immortal and the bug is harmless; PySide6 6.11.3 does not have it.
"""

from __future__ import annotations

import sys

import pytest
import PySide6
from PySide6.QtCore import QObject


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from CPython 3.12")
def test_void_qt_calls_do_not_drop_references_to_none(qapp):
    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(1000):
        obj.setObjectName("x")
    lost = before - sys.getrefcount(None)
    assert lost < 10, (
        f"PySide6 {PySide6.__version__} drops a reference to None on every void call "
        f"({lost} in 1000 calls); the application will abort with 'deallocating None'. "
        "Install a PySide6 without this bug (6.11.3 is fine) or run on CPython >= 3.12."
    )
