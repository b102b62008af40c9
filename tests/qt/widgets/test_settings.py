"""Settings round-trips through a temporary INI file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow

import medview
from medview.qt.settings import MAX_RECENT, SETTINGS, Settings, UnknownSetting


@pytest.fixture
def ini(tmp_path):
    return str(tmp_path / "medview.ini")


def test_every_declared_key_reads_its_default_and_nothing_else_reads(ini):
    s = Settings(ini)
    assert s.file_name == ini
    for key, setting in SETTINGS.items():
        key = key.replace("/*", "/some-model")
        assert s.value(key) == setting.default
        assert setting.default is None or isinstance(setting.default, setting.type), key
        assert setting.doc and "\n" not in setting.doc, key
    with pytest.raises(UnknownSetting, match="did you mean 'viewer/cine_fps'"):
        s.value("viewer/cine_fsp")
    with pytest.raises(UnknownSetting):
        s.set_value("no/such/key", 7)
    with pytest.raises(UnknownSetting):
        s.value("ai/accept_unknown_body_part/")  # a family needs a name
    with pytest.raises(TypeError):
        s.set_value("viewer/cine_fps", "25")


def test_every_declared_key_is_used():
    source = "".join(p.read_text(encoding="utf-8")
                     for p in Path(medview.__file__).parent.joinpath("qt").rglob("*.py"))
    for key in SETTINGS:
        assert source.count(f'"{key.removesuffix("*")}') >= 2, f"{key} is declared but never used"


def test_typed_values_survive_a_restart(ini):
    s = Settings(ini)
    s.set_value("viewer/show_overlay", False)
    s.set_value("viewer/cine_fps", 25)
    s.set_value("ai/opacity", 25)
    s.set_value("viewer/layout", "2x2")
    s.set_value("ai/accept_unknown_body_part/demo", True)
    s.sync()
    again = Settings(ini)
    assert again.value("viewer/show_overlay") is False
    assert again.value("viewer/cine_fps") == 25
    assert again.value("ai/opacity") == 25
    assert again.value("viewer/layout") == "2x2"
    assert again.value("ai/accept_unknown_body_part/demo") is True
    assert again.value("ai/accept_unknown_body_part/other") is None
    again.set_value("viewer/cine_fps", None)  # back to the default
    assert again.value("viewer/cine_fps") == SETTINGS["viewer/cine_fps"].default


def test_garbage_in_the_file_falls_back_to_defaults(ini):
    with open(ini, "w") as f:
        f.write("[viewer]\ncine_fps=fast\n[ai]\nopacity=nan\n")
    s = Settings(ini)
    assert s.value("viewer/cine_fps") == SETTINGS["viewer/cine_fps"].default
    assert s.value("ai/opacity") == SETTINGS["ai/opacity"].default


def test_an_older_file_with_keys_no_longer_declared_still_reads(ini):
    with open(ini, "w") as f:
        f.write("[general]\ntheme=light\nconfirm_quit=true\n"
                "[viewer]\ncine_fps=25\nwl_sensitivity=2.5\nshow_overlay=false\n")
    s = Settings(ini)
    assert s.value("viewer/cine_fps") == 25
    assert s.value("viewer/show_overlay") is False


def test_recent_items_most_recent_first_deduplicated_and_pruned(ini, tmp_path):
    dirs = []
    for i in range(MAX_RECENT + 3):
        d = tmp_path / f"study{i}"
        d.mkdir()
        dirs.append(d)
    s = Settings(ini)
    s.add_recent(dirs[0])
    s.add_recent(str(dirs[1]))
    s.add_recent(str(dirs[0]) + os.sep)  # same folder, other spelling
    assert s.recent_items() == [str(dirs[0]), str(dirs[1])]

    for d in dirs[2:]:
        s.add_recent(d)
    recent = s.recent_items()
    assert len(recent) == MAX_RECENT
    assert recent[0] == str(dirs[-1])

    dirs[-1].rmdir()  # a study that was deleted or whose drive is unplugged
    assert s.recent_items()[0] == str(dirs[-2])
    assert str(dirs[-1]) not in Settings(ini).qsettings.value("recent/items")  # pruned on disk

    one = Settings(str(tmp_path / "one.ini"))
    one.add_recent(dirs[0])  # a one-element list must not come back as a string
    assert Settings(str(tmp_path / "one.ini")).recent_items() == [str(dirs[0])]
    one.clear_recent()
    assert one.recent_items() == []


def test_window_geometry_and_docks_round_trip(qtbot, ini):
    def make_window():
        w = QMainWindow()
        w.setObjectName("MainWindow")
        w.setCentralWidget(QLabel("image"))
        dock = QDockWidget("Tags", w)
        dock.setObjectName("tagsDock")
        dock.setWidget(QLabel("tags"))
        w.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        qtbot.addWidget(w)
        return w, dock

    s = Settings(ini)
    first, dock = make_window()
    assert s.restore_geometry(first) is False  # nothing stored yet
    first.resize(640, 420)  # inside the 800x600 offscreen screen
    first.show()
    qtbot.waitExposed(first)
    first.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    s.save_geometry(first)
    s.sync()

    second, dock2 = make_window()
    assert Settings(ini).restore_geometry(second) is True
    second.show()
    qtbot.waitExposed(second)
    assert second.size() == first.size()
    assert second.dockWidgetArea(dock2) == Qt.DockWidgetArea.RightDockWidgetArea


def test_user_presets_per_modality(ini):
    s = Settings(ini)
    assert s.user_presets("CT") == []
    s.set_user_presets("ct", [("Lung", -600, 1500), ("Brain, posterior fossa", 40, 120)])
    s.set_user_presets("MR", [("T2", 600, 1200)])
    s.sync()
    again = Settings(ini)
    assert again.user_presets("CT") == [
        ("Lung", -600.0, 1500.0),
        ("Brain, posterior fossa", 40.0, 120.0),
    ]
    assert again.user_presets("mr") == [("T2", 600.0, 1200.0)]
    with pytest.raises(ValueError):
        again.set_user_presets("CT", [("bad", 40, 0)])  # width < 1 (PS3.3 C.11.2.1.2)
    assert len(again.user_presets("CT")) == 2
    again.set_user_presets("CT", [])
    assert again.user_presets("CT") == []


def test_default_location_is_per_user_ini():
    name = Settings().file_name
    assert name.endswith(os.path.join("medview", "medview.ini"))


def test_the_frame_cache_budget_setting_applies_when_the_window_opens(qtbot, ini, monkeypatch):
    from medview.core.pixel_cache import MB, PIXELS, default_budget_bytes
    from tests.helpers.qt import main_window

    monkeypatch.setattr(PIXELS, "max_bytes", PIXELS.max_bytes)  # restored after the test
    settings = Settings(ini)
    assert settings.value("cache/pixel_cache_mb") == 0  # the default: sized from the RAM
    settings.set_value("cache/pixel_cache_mb", 300)
    with main_window(qtbot, settings):
        assert PIXELS.max_bytes == 300 * MB
    settings.set_value("cache/pixel_cache_mb", 0)
    with main_window(qtbot, settings):
        assert PIXELS.max_bytes == default_budget_bytes()
