"""Fixtures for the widget tests (Qt runs offscreen: ``tests/conftest.py`` sees to it)."""

import os
from pathlib import Path

import pytest

#: Where the screenshot tests leave their PNGs for a person to look at.
SCREENSHOT_DIR = Path(os.environ.get("MEDVIEW_SCREENSHOT_DIR", "/tmp/medview_widgets"))


@pytest.fixture
def clipboard(qapp):
    """The application clipboard, emptied before the test."""
    cb = qapp.clipboard()
    cb.clear()
    return cb


@pytest.fixture
def dark_theme(qapp):
    """Apply the reading-room theme for one test, then restore the previous look."""
    from medview.qt.theme import apply_dark_theme

    style, palette, sheet = qapp.style().name(), qapp.palette(), qapp.styleSheet()
    apply_dark_theme(qapp)
    yield qapp
    qapp.setStyleSheet(sheet)
    qapp.setStyle(style)
    qapp.setPalette(palette)


@pytest.fixture
def screenshot_dir():
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR
