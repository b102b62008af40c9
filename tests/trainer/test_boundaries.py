"""The trainer foundation imports neither Qt nor torch (it runs headless, in its own process)."""

from __future__ import annotations

import subprocess
import sys


def test_no_qt_and_no_torch_on_import():
    code = ("import sys, trainer, trainer.data.datasets, trainer.data.splits, trainer.metrics, trainer.events, "
            "trainer.data.images, "
            "medview.demo.demo_data, medview.commands.demo_data; "
            "print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('PySide6', 'shiboken6', 'torch', 'pyqtgraph')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
