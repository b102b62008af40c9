"""User settings over ``QSettings``: every key declared once, with its default, type
and what it is for (:data:`SETTINGS`).

Settings live in one INI file per user (``~/.config/medview/medview.ini`` on
Linux, ``%APPDATA%\\medview\\medview.ini`` on Windows) rather than in the
Windows registry: one plain file is easy for a clinic's IT to back up, copy to
another workstation or delete to reset.

Reading or writing a key that :data:`SETTINGS` does not declare raises
:class:`UnknownSetting` (a typo would otherwise store a value nobody reads). Keys
an older medview wrote and this one no longer declares stay in the file, unread.
The INI backend stores everything as text and reads a one-element list back as
a plain string; :meth:`Settings.value` converts back to the key's type, so callers
never see ``"true"`` for ``True``.

Window geometry (``window_*``), splitter sizes (``splitters/*``) and window/level
presets (``presets/*``) are groups with methods of their own below.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Setting:
    """One declared key: its default, its type and a line saying what it is for."""

    default: Any
    type: type
    doc: str


#: Every key medview reads or writes. A key ending in ``/*`` declares a family: one key
#: per name in place of the ``*`` (e.g. per model).
SETTINGS: dict[str, Setting] = {
    "general/last_open_dir": Setting("", str, "Folder the Open dialogs start in."),
    "general/last_export_dir": Setting("", str, "Folder the export and batch-save dialogs start in."),
    "recent/items": Setting([], list, "Recently opened files and folders, most recent first."),
    "viewer/smooth_interpolation": Setting(True, bool, "Smooth (bilinear) zoom instead of whole pixels."),
    "viewer/show_overlay": Setting(True, bool, "Text in the image corners (patient, window, position)."),
    "viewer/cine_fps": Setting(10, int, "Cine playback speed in frames per second."),
    "viewer/layout": Setting("1x1", str, "Viewport grid, rows x columns, e.g. \"2x2\"."),
    "viewer/hanging_protocols": Setting(True, bool, "Lay a new study out by the hanging protocols."),
    "cache/pixel_cache_mb": Setting(
        0, int, "Memory for decoded frames, in MB (at least 64); 0: a share of this PC's RAM "
        "(1/16, 256 MB to 2 GB)."),
    "inference/device": Setting("auto", str, "Where models run: auto, cpu or cuda."),
    "inference/engine": Setting("auto", str, "Inference engine: auto (fastest measured) or one by name."),
    "inference/precision": Setting("auto", str, "Inference precision: auto (fastest that agrees) or one by name."),
    "ai/auto": Setting(False, bool, "Analyse each image as it is shown."),
    "ai/gradcam": Setting(True, bool, "Show where a classifier looked (class activation heat map)."),
    "ai/show_overlay": Setting(True, bool, "Draw the AI result over the image."),
    "ai/contours_only": Setting(False, bool, "Draw segmentations as outlines instead of filled."),
    "ai/opacity": Setting(60, int, "Opacity of the AI overlay, in percent."),
    "ai/last_import_dir": Setting("", str, "Folder the model import dialog starts in."),
    "ai/accept_unknown_body_part/*": Setting(
        None, bool, "Per model: run on images that record no body part (unset: the model's manifest decides)."),
    "trainer/last_dataset": Setting("", str, "Data set folder the trainer's dataset page starts in."),
    "trainer/last_unlabelled": Setting("", str, "Folder of unlabelled images the pre-training page starts in."),
}

_RECENT_KEY = "recent/items"
_PRESETS_GROUP = "presets"


class UnknownSetting(KeyError):
    """A key that :data:`SETTINGS` does not declare; the message suggests close ones."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def declaration(key: str) -> Setting:
    """The declaration of ``key`` (directly or through a ``/*`` family).

    Raises
    ------
    UnknownSetting
        If no declaration covers ``key``.
    """
    if key in SETTINGS:
        return SETTINGS[key]
    group, _, name = key.rpartition("/")
    family = SETTINGS.get(f"{group}/*")
    if family is not None and name:
        return family
    close = difflib.get_close_matches(key, SETTINGS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UnknownSetting(f"undeclared setting {key!r}{hint} (declare it in medview.qt.settings.SETTINGS)")


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


# int(float(...)) reads "25.0" too; NaN and infinity raise, so they read as the default.
_CONVERTERS = {bool: _to_bool, int: lambda raw: int(float(raw)), list: _to_list,
               str: lambda raw: "" if raw is None else str(raw)}


def _coerce(raw: Any, setting: Setting) -> Any:
    """Convert a stored value to the setting's type; its default if it can't be."""
    try:
        return _CONVERTERS[setting.type](raw)
    except (TypeError, ValueError, OverflowError):
        return setting.default


def _check_type(key: str, value: Any, setting: Setting) -> None:
    expected = (list, tuple) if setting.type is list else setting.type
    if not isinstance(value, expected) or (setting.type is int and isinstance(value, bool)):
        raise TypeError(f"setting {key!r} is a {setting.type.__name__}, not {type(value).__name__}")


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
        The underlying store (the window, splitter and preset groups use it directly).

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
    def value(self, key: str) -> Any:
        """The stored value of ``key`` converted to its declared type, else its default.

        Raises
        ------
        UnknownSetting
            If ``key`` is not declared in :data:`SETTINGS`.
        """
        setting = declaration(key)
        if not self.qsettings.contains(key):
            return list(setting.default) if setting.type is list else setting.default
        return _coerce(self.qsettings.value(key), setting)

    def set_value(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``; ``None`` removes the key (back to its default).

        Raises
        ------
        UnknownSetting
            If ``key`` is not declared in :data:`SETTINGS`.
        TypeError
            If ``value`` is not of the key's declared type.
        """
        setting = declaration(key)
        if value is None:
            self.qsettings.remove(key)
            return
        _check_type(key, value, setting)
        self.qsettings.setValue(key, [str(v) for v in value] if setting.type is list else value)

    def reset(self, key: str) -> None:
        """Forget the stored value of ``key`` (back to its default)."""
        self.set_value(key, None)

    def sync(self) -> None:
        """Write pending changes to disk now (Qt also does this on exit)."""
        self.qsettings.sync()

    # --- recent files and folders ------------------------------------------
    def recent_items(self) -> list[str]:
        """Recently opened files/folders, most recent first; missing ones are forgotten."""
        items = self.value(_RECENT_KEY)
        kept = [p for p in items if os.path.exists(p)][:MAX_RECENT]
        if kept != items:
            self.set_value(_RECENT_KEY, kept)
        return kept

    def add_recent(self, path: str | os.PathLike[str]) -> None:
        """Put ``path`` first in the recent list (once; at most :data:`MAX_RECENT` kept)."""
        new = os.path.abspath(os.fspath(path))
        key = _same_path_key(new)
        items = [new] + [p for p in self.value(_RECENT_KEY) if _same_path_key(p) != key]
        self.set_value(_RECENT_KEY, items[:MAX_RECENT])

    def clear_recent(self) -> None:
        """Forget all recent items."""
        self.reset(_RECENT_KEY)

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


def value_or_default(settings: Settings | None, key: str) -> Any:
    """``settings.value(key)``, or the key's default for a widget made without settings."""
    if settings is not None:
        return settings.value(key)
    setting = declaration(key)
    return list(setting.default) if setting.type is list else setting.default
