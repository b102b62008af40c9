"""User settings over ``QSettings``, with a defaults dict and typed getters.

Settings live in one INI file per user (``~/.config/medview/medview.ini`` on
Linux, ``%APPDATA%\\medview\\medview.ini`` on Windows) rather than in the
Windows registry: one plain file is easy for a clinic's IT to back up, copy to
another workstation or delete to reset.

The INI backend stores everything as text and reads a one-element list back as
a plain string; :meth:`Settings.value` converts back to the type of the key's
default, so callers never see ``"true"`` for ``True``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow, QWidget

ORGANISATION = "medview"
APPLICATION = "medview"
MAX_RECENT = 10
#: Bump when docks are added/renamed/rearranged so that an old saved layout is ignored.
#: 2: the DICOM Tags panel is a tab beside the AI panel (stacked under it, it got two rows).
STATE_VERSION = 2

#: Every known key with its default; the default's type is the key's type.
DEFAULTS: dict[str, Any] = {
    "general/theme": "dark",
    "general/last_open_dir": "",
    "general/last_export_dir": "",
    "general/confirm_quit": False,
    "viewer/smooth_interpolation": True,
    "viewer/show_overlay": True,
    "viewer/show_orientation": True,
    "viewer/invert_wheel": False,
    "viewer/wl_sensitivity": 1.0,
    "viewer/cine_fps": 10,
    "viewer/layout": "1x1",
    "viewer/hanging_protocols": True,
    "browser/show_thumbnails": True,
    "cache/pixel_cache_mb": 1024,
    "export/format": "png",
    "export/burn_in_overlay": False,
    "inference/device": "auto",
    "recent/items": [],
}

_RECENT_KEY = "recent/items"
_PRESETS_GROUP = "presets"


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float)):
        return bool(raw)
    return str(raw).strip().lower() in {"true", "1", "yes", "on"}


def _to_list(raw: Any) -> list[str]:
    # INI reads [] back as None/"" and ["a"] back as "a".
    if raw is None or raw == "":
        return []
    if isinstance(raw, (list, tuple)):
        return [str(x) for x in raw]
    return [str(raw)]


def _coerce(raw: Any, default: Any) -> Any:
    """Convert a stored value to the type of ``default``; the default if it can't be."""
    if default is None:
        return raw
    try:
        if isinstance(default, bool):
            return _to_bool(raw)
        if isinstance(default, int):
            return int(float(raw))
        if isinstance(default, float):
            value = float(raw)
            return value if math.isfinite(value) else default
        if isinstance(default, list):
            return _to_list(raw)
        if isinstance(default, str):
            return "" if raw is None else str(raw)
    except (TypeError, ValueError):
        return default
    return raw


def _same_path_key(path: str) -> str:
    """What two spellings of one path have in common (case-folded on Windows)."""
    return os.path.normcase(os.path.abspath(path))


class Settings:
    """Typed access to the persistent settings of medview.

    Parameters
    ----------
    path : str or None
        An INI file to use instead of the per-user one (tests, portable
        installs). ``None`` uses organisation and application ``"medview"``.

    Attributes
    ----------
    qsettings : QSettings
        The underlying store, for keys this class has no getter for.

    Examples
    --------
    >>> s = Settings("/tmp/medview-test.ini")
    >>> s.set_value("viewer/cine_fps", 25)
    >>> s.value("viewer/cine_fps")
    25
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            self.qsettings = QSettings(
                QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION
            )
        else:
            self.qsettings = QSettings(os.fspath(path), QSettings.Format.IniFormat)

    @property
    def file_name(self) -> str:
        """The INI file the settings are stored in."""
        return self.qsettings.fileName()

    # --- plain keys ---------------------------------------------------------
    def value(self, key: str, default: Any = None) -> Any:
        """The stored value of ``key``, converted to the type of its default.

        Parameters
        ----------
        key : str
            A key of :data:`DEFAULTS`, or any other key.
        default : object, optional
            Used (and its type used for conversion) for keys not in
            :data:`DEFAULTS`; ignored for known keys.
        """
        fallback = DEFAULTS.get(key, default)
        if not self.qsettings.contains(key):
            return list(fallback) if isinstance(fallback, list) else fallback
        return _coerce(self.qsettings.value(key), fallback)

    def set_value(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``; ``None`` removes the key (back to its default)."""
        if value is None:
            self.qsettings.remove(key)
        elif isinstance(value, (list, tuple)):
            self.qsettings.setValue(key, [str(v) for v in value])
        else:
            self.qsettings.setValue(key, value)

    def reset(self, key: str) -> None:
        """Forget the stored value of ``key``."""
        self.qsettings.remove(key)

    def sync(self) -> None:
        """Write pending changes to disk now (Qt also does this on exit)."""
        self.qsettings.sync()

    # --- recent files and folders ------------------------------------------
    def recent_items(self) -> list[str]:
        """Recently opened files/folders, most recent first; missing ones are forgotten."""
        items = _to_list(self.qsettings.value(_RECENT_KEY))
        kept = [p for p in items if os.path.exists(p)][:MAX_RECENT]
        if kept != items:
            self.set_value(_RECENT_KEY, kept)
        return kept

    def add_recent(self, path: str | os.PathLike[str]) -> None:
        """Put ``path`` first in the recent list (once; at most :data:`MAX_RECENT` kept)."""
        new = os.path.abspath(os.fspath(path))
        key = _same_path_key(new)
        items = _to_list(self.qsettings.value(_RECENT_KEY))
        items = [new] + [p for p in items if _same_path_key(p) != key]
        self.set_value(_RECENT_KEY, items[:MAX_RECENT])

    def clear_recent(self) -> None:
        """Forget all recent items."""
        self.qsettings.remove(_RECENT_KEY)

    # --- window layout ------------------------------------------------------
    def save_geometry(self, window: QWidget, name: str | None = None) -> None:
        """Remember the size/position of ``window`` and, for a main window, its docks.

        Parameters
        ----------
        window : QWidget
            Usually the ``QMainWindow``; any top-level widget works.
        name : str, optional
            Settings group; defaults to the window's objectName, else its class name.
        """
        group = self._window_group(window, name)
        self.qsettings.setValue(f"{group}/geometry", window.saveGeometry())
        if isinstance(window, QMainWindow):
            self.qsettings.setValue(f"{group}/state", window.saveState(STATE_VERSION))

    def restore_geometry(self, window: QWidget, name: str | None = None) -> bool:
        """Restore what :meth:`save_geometry` stored; False when nothing (valid) was stored.

        Call it after all docks and toolbars exist (they are matched by objectName).
        """
        group = self._window_group(window, name)
        geometry = self.qsettings.value(f"{group}/geometry")
        if not isinstance(geometry, QByteArray) or geometry.isEmpty():
            return False
        ok = window.restoreGeometry(geometry)
        state = self.qsettings.value(f"{group}/state")
        if isinstance(window, QMainWindow) and isinstance(state, QByteArray):
            ok = window.restoreState(state, STATE_VERSION) and ok
        return ok

    def save_splitter(self, name: str, splitter) -> None:
        """Remember the pane sizes of ``splitter`` (a ``QSplitter``) under ``name``."""
        self.qsettings.setValue(f"splitters/{name}", splitter.saveState())

    def restore_splitter(self, name: str, splitter) -> bool:
        """Restore what :meth:`save_splitter` stored; False when nothing (valid) was stored."""
        state = self.qsettings.value(f"splitters/{name}")
        return isinstance(state, QByteArray) and not state.isEmpty() and splitter.restoreState(state)

    @staticmethod
    def _window_group(window: QWidget, name: str | None) -> str:
        return "window_" + (name or window.objectName() or type(window).__name__)

    # --- user window/level presets -----------------------------------------
    def user_presets(self, modality: str) -> list[tuple[str, float, float]]:
        """The user's window presets for ``modality`` as ``(name, center, width)``.

        Entries that are malformed, or whose width is below 1 (PS3.3 C.11.2.1.2
        requires width >= 1 for the LINEAR function), are dropped.
        """
        raw = self.qsettings.value(self._presets_key(modality))
        if not raw:
            return []
        try:
            data = json.loads(raw if isinstance(raw, str) else ",".join(_to_list(raw)))
        except (TypeError, ValueError):
            return []
        presets = []
        for entry in data if isinstance(data, list) else []:
            try:
                name, center, width = entry
                center, width = float(center), float(width)
            except (TypeError, ValueError):
                continue
            if math.isfinite(center) and math.isfinite(width) and width >= 1:
                presets.append((str(name), center, width))
        return presets

    def set_user_presets(
        self, modality: str, presets: Iterable[tuple[str, float, float]]
    ) -> None:
        """Replace the user's presets for ``modality``; an empty list removes them.

        Raises
        ------
        ValueError
            If a width is below 1 or a value is not a finite number.
        """
        clean = []
        for name, center, width in presets:
            center, width = float(center), float(width)
            if not (math.isfinite(center) and math.isfinite(width)) or width < 1:
                raise ValueError(f"preset {name!r}: need finite center and width >= 1")
            clean.append([str(name), center, width])
        key = self._presets_key(modality)
        if clean:
            self.qsettings.setValue(key, json.dumps(clean))
        else:
            self.qsettings.remove(key)

    @staticmethod
    def _presets_key(modality: str) -> str:
        return f"{_PRESETS_GROUP}/{(modality or 'OT').strip().upper() or 'OT'}"


def default_settings_path() -> Path:
    """Where the per-user INI file is (whether or not it exists yet)."""
    return Path(Settings().file_name)
