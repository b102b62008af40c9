"""The layers hold: core has no Qt and no torch; only medview/qt imports Qt.

The rules are import-linter contracts in ``pyproject.toml`` (``[tool.importlinter]``, as
napari declares its own): forbidden imports, the order of the layers, no import cycles
inside a package. The tests here run them, check the files the contracts cannot name
(entry points that reach Qt through medview.qt), and check what is imported at run time.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QT_MODULES = ("PySide6", "pyqtgraph", "shiboken6")
TORCH_MODULES = ("torch", "torchvision", "segmentation_models_pytorch")


def _imported_top_modules(py_file: Path) -> set[str]:
    tree = ast.parse(py_file.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _sources(*parts: str) -> list[Path]:
    return sorted((ROOT.joinpath(*parts)).rglob("*.py"))


def test_import_contracts_hold():
    code = ("import sys\nfrom importlinter.cli import lint_imports\n"
            "sys.exit(lint_imports(no_cache=True))\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env=env)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_only_medview_qt_imports_qt():
    qt_dir = ROOT / "medview" / "qt"
    files = [f for f in _sources("medview") + _sources("trainer") if qt_dir not in f.parents]
    assert files, "no sources found"
    for f in files:
        bad = _imported_top_modules(f) & set(QT_MODULES)
        assert not bad, f"{f.relative_to(ROOT)} imports {sorted(bad)}"


def test_importing_core_view_and_cli_loads_neither_qt_nor_torch():
    # At run time too: nothing imported transitively drags Qt or torch in.
    code = (
        "import sys, pkgutil, importlib, medview.core, medview.view, medview.cli\n"
        "for pkg in (medview.core, medview.view):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "import medview.commands.info, medview.commands.export, medview.commands.anonymize\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT_MODULES + TORCH_MODULES!r}]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"loaded: {out.stdout.strip()}"
