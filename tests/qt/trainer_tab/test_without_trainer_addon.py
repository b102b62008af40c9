"""The default bundle's GUI: no torch, no trainer add-on.

The window, the AI panel and the Trainer tab are built with every package that only the
add-on carries (``trainer_addon.TRAINER_ONLY``: torch, torchvision, smp, timm, optuna)
made unimportable, as build.spec leaves them out of the app. Everything must build; what
needs torch is disabled and says why. Runs in a fresh pytest process (other tests import
torch into this one), as tests/qt/analysis/test_no_torch.py does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT

_CHILD = "MEDVIEW_NO_ADDON_CHILD"


def test_gui_without_torch_or_trainer_add_on(tmp_path):
    env = dict(os.environ, **{_CHILD: "1"}, PYTHONPATH=str(ROOT), XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("MEDVIEW_TRAINER_ADDON", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
         f"{Path(__file__).relative_to(ROOT)}::test_inner_gui_without_torch"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout[-4000:]


@pytest.mark.skipif(not os.environ.get(_CHILD), reason="runs in the child of "
                    "test_gui_without_torch_or_trainer_add_on")
def test_inner_gui_without_torch(qtbot, settings, monkeypatch):
    from medview.app import trainer_addon
    from tests.helpers.qt import main_window

    assert "torch" not in sys.modules
    for name in trainer_addon.TRAINER_ONLY:  # import fails, find_spec says None
        monkeypatch.setitem(sys.modules, name, None)
    reason = trainer_addon.missing_reason()
    assert reason and reason.startswith("torch is not installed in this Python")

    with main_window(qtbot, settings) as win:
        picker = win.analysis.picker
        assert not picker.empty_import_button.isEnabled() and not picker.import_button.isEnabled()
        assert picker.empty_import_button.toolTip() == reason
        assert picker.findChild(type(picker.empty_label), "TrainerAddonMissing").text() == reason

        win.open_trainer()
        tab = win.trainer_tab.ensure()
        qtbot.waitUntil(lambda: tab.addon_note.isVisible())
        assert tab.addon_note.text() == reason
        for button in (tab.start_button, tab.pretrain_start, tab.queue_button, tab.job_page.start_button,
                       tab.job_page.register_button, tab.job_page.export_button,
                       tab.job_page.search_view.train_button):
            button.setEnabled(True)  # what the tab's updates do: the add-on's absence wins
            assert not button.isEnabled() and button.toolTip() == reason, button.text()
        tab.shutdown()
