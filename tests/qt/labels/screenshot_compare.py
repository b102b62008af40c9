"""Make ``docs/screenshot_compare.png``: the Compare Retrained Model dialog, showing the
comparison ``medview labels compare PROJECT --model A --model B --json`` printed into
JSON_FILE, or else the figures of the dialog's test fixture. Run::

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.qt.labels.screenshot_compare [JSON_FILE] [DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.helpers.paths import ROOT


def main(argv: list[str]) -> int:
    from PySide6.QtWidgets import QApplication

    from medview.labels.compare import Comparison
    from medview.qt.labelling.compare_dialog import CompareDialog
    from tests.qt.labels.test_compare_dialog import _comparison

    app = QApplication.instance() or QApplication([])
    source = Path(argv[0]) if argv and argv[0].endswith(".json") else None
    out = Path(argv[-1]) if argv and not argv[-1].endswith(".json") else ROOT / "docs"
    comparison = Comparison.from_json(json.loads(source.read_text())) if source else _comparison()
    dialog = CompareDialog(comparison)
    dialog.show()
    app.processEvents()
    dialog.grab().save(str(out / "screenshot_compare.png"))
    print(out / "screenshot_compare.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
