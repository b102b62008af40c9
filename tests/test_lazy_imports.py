"""Lazy imports never race: first imports go through ``medview.core.imports.load``.

Two threads importing a package with circular imports at once can leave one of them
with a partially initialised module for good (issue 10: the Tags panel importing
pydicom on the GUI thread while a pool thread read the folder). The first test
reproduces that hazard with a real two-module cycle and shows ``load`` prevents it;
the others check statically that medview's lazy imports use ``load``.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from medview.core import imports

ROOT = Path(__file__).resolve().parents[1]

# Packages too heavy to import at start-up, or imported from pool threads (or both).
HEAVY = frozenset({"torch", "torchvision", "segmentation_models_pytorch", "safetensors",
                   "cv2", "PIL", "pydicom", "gdcm", "pyqtgraph", "onnxruntime", "onnx",
                   "openvino", "trainer", "platformdirs", "pynetdicom", "dicomweb_client",
                   "requests"})
THREADED_CODE = ("medview/core", "medview/inference", "medview/analysis", "medview/app",
                 "medview/view", "medview/qt", "medview/pacs")

# A package whose two submodules import each other, fine when imported by one thread
# (``A`` exists before ``a`` imports ``b``), as in pydicom. The module bodies wait for
# each other so that two threads are inside them at the same time.
_CYCLE = {
    "__init__.py": "from {pkg}.a import A\n",
    "a.py": ("import {pkg}_sync as s\nA = 'a'\ns.a_started.set()\ns.b_started.wait(s.WAIT)\n"
             "from {pkg}.b import B\n"),
    "b.py": "import {pkg}_sync as s\ns.b_started.set()\nfrom {pkg}.a import A\nB = 'b'\n",
}


def _make_cycle(root: Path, pkg: str, wait_s: float) -> None:
    (root / pkg).mkdir()
    for name, text in _CYCLE.items():
        (root / pkg / name).write_text(text.format(pkg=pkg))
    (root / f"{pkg}_sync.py").write_text(
        f"import threading\na_started = threading.Event()\nb_started = threading.Event()\n"
        f"WAIT = {wait_s}\n")


def _race(pkg: str, importer) -> list[BaseException]:
    """Thread 1 imports the package; once it is inside ``a``, thread 2 imports ``b``."""
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            importer(name)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    sync = __import__(f"{pkg}_sync")
    first = threading.Thread(target=run, args=(pkg,))
    first.start()
    assert sync.a_started.wait(10)
    second = threading.Thread(target=run, args=(f"{pkg}.b",))
    second.start()
    first.join(20)
    second.join(20)
    assert not first.is_alive() and not second.is_alive()
    return errors


def test_load_serialises_first_imports_of_a_circular_package(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    _make_cycle(tmp_path, "cycle_plain", wait_s=5.0)
    _make_cycle(tmp_path, "cycle_loaded", wait_s=0.5)
    try:
        import importlib

        # The hazard is real: plain concurrent imports leave a partially initialised module.
        plain = _race("cycle_plain", importlib.import_module)
        assert any("partially initialized" in str(e) for e in plain), plain
        # Through load(), the second thread waits for the first import to finish.
        assert _race("cycle_loaded", imports.load) == []
        assert imports.load("cycle_loaded.b").B == "b"
        assert imports.loaded("cycle_loaded") and imports.loaded("cycle_loaded.a")
    finally:
        for name in [m for m in sys.modules if m.startswith(("cycle_plain", "cycle_loaded"))]:
            del sys.modules[name]


def test_loaded_is_false_while_a_module_is_still_initialising(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "half_done.py").write_text(
        "import sys\nfrom medview.core import imports\n"
        "SEEN_DURING = imports.loaded('half_done')\n")
    try:
        module = imports.load("half_done")
        assert module.SEEN_DURING is False
        assert imports.loaded("half_done")
    finally:
        sys.modules.pop("half_done", None)


# ------------------------------------------------------------------ static checks


def _function_imports(path: Path):
    """(line, module) of each import statement inside a function of ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield node.lineno, alias.name
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield node.lineno, node.module


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def test_no_plain_lazy_import_of_a_heavy_package():
    bad = [f"{p.relative_to(ROOT)}:{line} imports {mod}"
           for p in _sources(*THREADED_CODE) for line, mod in _function_imports(p)
           if mod.split(".")[0] in HEAVY]
    assert not bad, "use medview.core.imports.load() for these:\n" + "\n".join(bad)


def test_load_is_never_called_at_module_level():
    # A module body waiting for the import lock can deadlock where Python cannot see it.
    bad = []
    for path in _sources(*THREADED_CODE):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            for call in ast.walk(node) if not isinstance(
                    node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else ():
                if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "load":
                    bad.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert not bad, bad


_STARTUP_MODULES = r"""
import json, sys
from medview.qt.app import create_app
from medview.qt.main_window import MainWindow
from medview.qt.settings import Settings
app = create_app()
win = MainWindow(settings=Settings(sys.argv[1]))
win.show()
app.processEvents()
print(json.dumps(sorted(sys.modules)))
win.close()
"""


def test_qt_lazy_imports_are_loaded_before_any_thread_or_go_through_load(tmp_path):
    """A function-level import in medview/qt is safe only for a module the window
    already imported (on the GUI thread, before any pool thread ran)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT),
               MEDVIEW_USER_DIR=str(tmp_path / "user"))
    out = subprocess.run([sys.executable, "-c", _STARTUP_MODULES, str(tmp_path / "s.ini")],
                         capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    startup = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "medview.qt.main_window" in startup and "pydicom" not in startup
    bad = [f"{p.relative_to(ROOT)}:{line} imports {mod}"
           for p in _sources("medview/qt") for line, mod in _function_imports(p)
           if mod not in startup]
    assert not bad, "not loaded at start-up: use medview.core.imports.load():\n" + "\n".join(bad)


@pytest.mark.parametrize("name", ["json", "medview.core.imports"])
def test_load_returns_loaded_modules_without_the_lock(name):
    # The GUI thread must not wait for another thread's torch import when it asks for
    # a module that is already there.
    with imports.serial():
        done = []
        t = threading.Thread(target=lambda: done.append(imports.load(name)))
        t.start()
        t.join(5)
        assert not t.is_alive(), "load() waited for the lock on a loaded module"
    assert done[0] is sys.modules[name]


def test_modules_loaded_by_name_reach_the_frozen_build():
    """PyInstaller finds modules through import statements; one imported only by
    name through load() must be a hidden import in build.spec."""
    static: set[str] = set()
    by_name: dict[str, str] = {}
    for path in _sources("medview", "trainer"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                static.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                static.add(node.module)
            elif (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "load"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                by_name[node.args[0].value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    spec = (ROOT / "build.spec").read_text(encoding="utf-8")
    missing = [f"{where} loads {name}" for name, where in sorted(by_name.items())
               if name.split(".")[0] not in ("medview", "trainer")  # collect_submodules
               and name not in static and f'"{name}"' not in spec]
    assert not missing, "add to build.spec's hiddenimports:\n" + "\n".join(missing)
