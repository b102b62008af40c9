"""Smoke test of the frozen one-folder builds (PyInstaller, ``build.spec``): the app
(``dist/medview``: viewer + AI, no torch) and the trainer add-on (``dist/medview-trainer``).

Builds both (or uses the app ``MEDVIEW_BUNDLE_DIR`` points at, with the add-on beside it or
at ``MEDVIEW_ADDON_DIR``), then runs the BUILT executables, never the source, the way a
clinic PC would: no Python on ``PATH``, no ``PYTHON*`` variables, a private HOME/user
folder, and no network. The app starts the add-on itself, as it does for a user: training
jobs from its queue, ``register-model``, ``search``. Slow (a build takes many minutes),
so it is skipped unless ``MEDVIEW_BUNDLE_TEST=1``::

    MEDVIEW_BUNDLE_TEST=1 .venv/bin/python -m pytest tests/test_bundle.py -m slow
    MEDVIEW_BUNDLE_TEST=1 MEDVIEW_BUNDLE_DIR=dist/medview \
        .venv/bin/python -m pytest tests/test_bundle.py -m slow

No network: on Linux every frozen command runs under ``unshare -rn`` (a new user and
network namespace whose only interface is a downed loopback, so any connection fails at
once); ``test_isolation_blocks_the_network`` proves it. Where ``unshare`` cannot do that
(Windows, containers that forbid user namespaces) the commands run with every proxy
variable pointing at an unroutable address instead, and the test output says so.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from medview.app.trainer_addon import ADDON_NAME, ENV_VAR, TRAINER_ONLY, addon_executable

ROOT = Path(__file__).resolve().parents[1]
IS_WIN = sys.platform == "win32"
MB = 1024 * 1024
UNROUTABLE_PROXY = "http://10.255.255.1:9"  # RFC 1918 address nobody answers on

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("MEDVIEW_BUNDLE_TEST") != "1",
                       reason="builds and runs the PyInstaller bundle (minutes): "
                              "set MEDVIEW_BUNDLE_TEST=1"),
]


# ----------------------------------------------------------------------- the build

@pytest.fixture(scope="module")
def built() -> tuple[Path, Path]:
    """(app, add-on): ``MEDVIEW_BUNDLE_DIR`` (and ``MEDVIEW_ADDON_DIR``, default beside
    it), else both built now into ``dist/``."""
    given = os.environ.get("MEDVIEW_BUNDLE_DIR")
    if given:
        app = Path(given).resolve()
    else:
        if importlib.util.find_spec("PyInstaller") is None:
            pytest.fail("PyInstaller is not installed: "
                        "pip install pyinstaller pyinstaller-hooks-contrib")
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
             "--distpath", str(ROOT / "dist"), "--workpath", str(ROOT / "build"),
             str(ROOT / "build.spec")],
            cwd=ROOT, capture_output=True, text=True, timeout=3 * 3600)
        assert proc.returncode == 0, proc.stderr[-5000:]
        print(f"\napp and trainer add-on built in {time.monotonic() - start:.0f} s")
        app = ROOT / "dist" / "medview"
    addon = Path(os.environ.get("MEDVIEW_ADDON_DIR") or app.parent / ADDON_NAME).resolve()
    for exe in (*executables(app), addon_executable(addon)):
        assert exe.is_file(), f"{exe}: missing (not a medview build?)"
    if addon.parent != app.parent:  # not where the app looks for it: say where it is
        _ADDON_ENV[ENV_VAR] = str(addon)
    for folder in (app, addon):
        _SNAPSHOT[folder] = _listing(folder)
    _print_sizes(app, addon)
    return app, addon


@pytest.fixture(scope="module")
def bundle(built) -> Path:
    """The app's folder."""
    return built[0]


@pytest.fixture(scope="module")
def addon(built) -> Path:
    """The trainer add-on's folder."""
    return built[1]


_SNAPSHOT: dict[Path, dict[str, tuple[int, int]]] = {}
_ADDON_ENV: dict[str, str] = {}


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    """{relative path: (size, mtime)} of every file in the bundle."""
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file() or p.is_symlink()}


def _print_sizes(app: Path, addon: Path) -> None:
    from scripts.bundle_sizes import walk

    for folder in (app, addon):
        sizes = walk(folder)[0]
        top = sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
        print(f"\n{folder}: {sum(sizes.values()) / MB:.0f} MB ("
              + ", ".join(f"{name} {size / MB:.0f}" for name, size in top) + ")")


def executables(folder: Path) -> tuple[Path, Path]:
    """(console executable for commands, GUI executable): the same file except on Windows
    (and the add-on's one program)."""
    if addon_executable(folder).is_file():
        return addon_executable(folder), addon_executable(folder)
    if IS_WIN:
        return folder / "medview-cli.exe", folder / "medview.exe"
    return folder / "medview", folder / "medview"


# ----------------------------------------------------------------------- no network, no Python

def _unshare_works() -> bool:
    if IS_WIN or shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-rn", "true"], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


ISOLATE = ["unshare", "-rn"] if _unshare_works() else []


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clinic-pc")


def clinic_env(home: Path, **extra: str) -> dict[str, str]:
    """A clinic PC: no Python on PATH, no PYTHON* variables, private user folders, no proxy
    that works. medview's user data goes to ``home`` (never the real user's folders)."""
    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "CONDA", "MEDVIEW_", "QT_", "PYTEST"))
           and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and Path(p) != Path(venv_bin))
    for key in ("HOME", "USERPROFILE"):
        env[key] = str(home / "home")
    for key, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                     ("XDG_CACHE_HOME", "cache"), ("APPDATA", "appdata"),
                     ("LOCALAPPDATA", "localappdata"), ("TMPDIR", "tmp")):
        env[key] = str(home / sub)
    for key in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[key] = UNROUTABLE_PROXY
    env["no_proxy"] = env["NO_PROXY"] = ""
    env["MEDVIEW_USER_DIR"] = str(home / "user")
    env["MEDVIEW_MODELS_DIR"] = ""  # unset below: the bundle's own models/
    env.pop("MEDVIEW_MODELS_DIR")
    env.update(_ADDON_ENV)
    env.update(extra)
    for sub in ("home", "config", "data", "cache", "appdata", "localappdata", "tmp", "user"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    return env


def frozen(bundle: Path, home: Path, *args, gui: bool = False, timeout: float = 600,
           **env) -> subprocess.CompletedProcess:
    """Run the built executable, isolated from the network."""
    exe = executables(bundle)[1 if gui else 0]
    return subprocess.run([*ISOLATE, str(exe), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=clinic_env(home, **env), cwd=str(home))


def source(*args, timeout: float = 600, **env) -> subprocess.CompletedProcess:
    """The same command from the source install, for comparison."""
    return subprocess.run([sys.executable, "-m", "medview", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=str(ROOT),
                          env={**os.environ, **env})


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr[-4000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    return proc


def test_isolation_blocks_the_network(home):
    """The wrapper the frozen commands run under really has no network."""
    if not ISOLATE:
        print(f"\nunshare -rn unavailable: proxies point at {UNROUTABLE_PROXY} instead")
        pytest.skip("no network namespace here; commands run with unroutable proxies only")
    probe = ("import socket\n"
             "try:\n"
             "    socket.create_connection(('1.1.1.1', 443), timeout=3)\n"
             "    print('CONNECTED')\n"
             "except OSError as err:\n"
             "    print('BLOCKED', err)\n")
    proc = subprocess.run([*ISOLATE, sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    print(f"\nfrozen commands run under '{' '.join(ISOLATE)}': {proc.stdout.strip()}")
    assert proc.stdout.startswith("BLOCKED"), proc.stdout + proc.stderr


# ----------------------------------------------------------------------- commands

def test_version(bundle, home):
    from medview import __version__

    proc = ok(frozen(bundle, home, "--version"))
    assert proc.stdout.strip() == f"medview {__version__}"


def test_bundle_carries_its_data_and_no_user_data(bundle):
    internal = bundle / "_internal"
    assert (internal / "resources" / "samples" / "chest_xray" / "chest_pa.dcm").is_file()
    platforms = {p.name.split(".")[0].removeprefix("lib") for p in
                 internal.glob("PySide6/**/platforms/*") if p.is_file()}
    assert {"qoffscreen", "qwindows" if IS_WIN else "qxcb"} <= platforms, platforms
    if not IS_WIN:  # installed by root, run by a user: everything readable by all
        unreadable = [str(p.relative_to(bundle)) for p in bundle.rglob("*")
                      if not p.is_symlink() and not p.stat().st_mode & 0o004]
        assert not unreadable, unreadable[:20]
    # nothing a user writes may live in the bundle (an update replaces the folder)
    for name in ("audit.jsonl", "jobs", "medview.ini"):
        assert not list(bundle.rglob(name)), name


def test_info_on_the_rle_sample_series(bundle, home):
    proc = ok(frozen(bundle, home, "info", ROOT / "resources" / "samples" / "ct_chest"))
    assert "MEDVIEW-SAMPLE-CT" in proc.stdout and "40 image(s)" in proc.stdout
    assert "RLE Lossless" in proc.stdout


@pytest.mark.parametrize("sample", ["chest_xray/chest_pa.dcm", "ct_chest/CT0020.dcm"])
def test_export_rle_sample_matches_the_source_install(bundle, home, tmp_path, sample):
    """RLE Lossless pixels decode in the bundle: pylibjpeg-rle / pydicom's RLE plugins
    were collected and found BY NAME; the PNG equals the source install's."""
    path = ROOT / "resources" / "samples" / sample
    _same_export(bundle, home, tmp_path, path)


def test_jpeg2000_file_reads_and_decodes(bundle, home, tmp_path):
    """JPEG 2000 (openjpeg through pylibjpeg's entry points) in the bundle."""
    from tests.helpers.datafiles import PYDICOM_DATA_DIR, find

    if PYDICOM_DATA_DIR is None:
        pytest.skip("pydicom-data is not installed (pip install -e '.[test]')")
    path = find("MR2_J2KR.dcm")
    proc = ok(frozen(bundle, home, "info", path))
    assert "JPEG 2000" in proc.stdout
    _same_export(bundle, home, tmp_path, path)


@pytest.mark.parametrize("name", [
    "JPEG-lossy.dcm",                 # 12-bit JPEG Extended: GDCM's own reader (python-gdcm)
    "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS: pydicom's gdcm plugin
    "SC_rgb_jpeg_dcmtk.dcm",          # JPEG baseline, YBR: pydicom's pillow plugin
    "SC_rgb_rle.dcm",                 # RLE, RGB
])
def test_other_codecs_decode_like_the_source_install(bundle, home, tmp_path, name):
    """pydicom's test files (always installed): each codec library travelled with the bundle."""
    from tests.helpers.datafiles import find

    _same_export(bundle, home, tmp_path, find(name))


def test_a_crashing_decoder_costs_a_worker_not_the_frozen_app(bundle, home, tmp_path):
    """Decoder processes start from the frozen executable (spawn + freeze_support): a file
    that aborts GDCM's JPEG codec gives the same one line and exit 2 as the source install."""
    from tests.helpers.datafiles import find

    # SC_rgb_jpeg_dcmtk.dcm with 52 bytes at 1754 zeroed: passes the header checks and
    # aborts any process that decodes it
    data = find("SC_rgb_jpeg_dcmtk.dcm").read_bytes()
    bad = tmp_path / "crash.dcm"
    bad.write_bytes(data[:1754] + bytes(52) + data[1754 + 52:])
    proc = frozen(bundle, home, "export", bad, tmp_path / "out.png")
    assert proc.returncode == 2, proc.stderr[-4000:]
    assert proc.stderr.strip() == (
        f"medview: {bad}: the JPEG baseline decoder crashed on this file's pixel data")


def _same_export(bundle, home, tmp_path, path: Path) -> None:
    from PIL import Image

    mine, ref = tmp_path / "frozen.png", tmp_path / "source.png"
    ok(frozen(bundle, home, "export", path, mine))
    ok(source("export", path, ref))
    a, b = np.asarray(Image.open(mine)), np.asarray(Image.open(ref))
    assert a.shape == b.shape and np.array_equal(a, b)


# ----------------------------------------------------------------------- AI

ENGINES = ("onnxruntime", "openvino")  # the app's; torch is the add-on's alone


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    """Random-weight demo models (resnet18 classifier, FPN segmenter) as a shipped folder,
    with the ONNX graphs that analysis runs (made by the source install: torch)."""
    from tests.helpers.builders import CLASSIFIER, SEGMENTER, write_model

    root = tmp_path_factory.mktemp("shipped-models")
    user = tmp_path_factory.mktemp("graph-user")
    for name, data in (("chest-demo", CLASSIFIER), ("prostate-demo", SEGMENTER)):
        write_model(root / name, data)
        ok(source("models", "make-graph", name, MEDVIEW_MODELS_DIR=str(root),
                  MEDVIEW_USER_DIR=str(user)))
    return root


def test_the_app_carries_no_torch(bundle):
    """The default bundle is the viewer and the AI: nothing of torch, torchvision, smp,
    timm or optuna, and no CUDA libraries; at most 700 MB besides the shipped models."""
    internal = bundle / "_internal"
    tops = {p.name for p in internal.iterdir()}
    assert not tops & set(TRAINER_ONLY), tops & set(TRAINER_ONLY)
    torch_files = [str(p.relative_to(bundle)) for p in bundle.rglob("*")
                   if p.name.startswith(("libtorch", "libc10", "libcudnn", "libcublas", "libnccl"))
                   or p.name.split("-")[0] in ("torch", "torchvision", "nvidia")]
    assert not torch_files, torch_files[:20]
    sizes = {p: p.stat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()}
    models = sum(size for p, size in sizes.items() if (internal / "models") in p.parents)
    assert (sum(sizes.values()) - models) / MB <= 700


def test_the_app_says_where_the_missing_add_on_goes(bundle, home, tmp_path):
    """Without the add-on the app's torch commands fail in one line saying where to put it;
    the rest works."""
    elsewhere = tmp_path / "no-addon"
    proc = frozen(bundle, home, "train", tmp_path / "job.json", **{ENV_VAR: str(elsewhere)})
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"medview: {ENV_VAR}={elsewhere}: no trainer add-on there "
                                   f"(set it to the '{ADDON_NAME}' folder or to its executable)")
    ok(frozen(bundle, home, "models", "list", **{ENV_VAR: str(elsewhere)}))


def test_the_add_on_has_no_viewer(addon, home):
    """The add-on is the command line with torch and without Qt."""
    from medview import __version__

    assert not list(addon.rglob("PySide6")) and not list(addon.rglob("libQt6*"))
    assert (addon / "_internal" / "torch").is_dir()
    assert ok(frozen(addon, home, "--version")).stdout.strip() == f"medview {__version__}"
    proc = frozen(addon, home)
    assert proc.returncode == 2 and "trainer add-on" in proc.stderr, proc.stderr[-2000:]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("model", ["chest-demo", "prostate-demo"])
def test_analyze_on_every_engine(bundle, home, tmp_path, tiny_models, model, engine):
    """ONNX Runtime and OpenVINO (CPU plugin, ONNX front end) run the models' graphs in the
    app, and agree with the source install."""
    image = ROOT / "resources" / "samples" / "chest_xray" / "chest_pa.dcm"
    args = ("analyze", "--model", model, "--engine", engine, "--device", "cpu",
            "--precision", "fp32", image)
    proc = ok(frozen(bundle, home, *args, "--out", tmp_path / "frozen",
                     MEDVIEW_MODELS_DIR=str(tiny_models)))
    ref = ok(source(*args, "--out", tmp_path / "source", MEDVIEW_MODELS_DIR=str(tiny_models),
                    MEDVIEW_USER_DIR=str(tmp_path / "user"),
                    XDG_CACHE_HOME=str(tmp_path / "cache")))
    mine, theirs = json.loads(proc.stdout.splitlines()[-1]), json.loads(ref.stdout.splitlines()[-1])
    assert (mine["model"], mine["engine"], mine["device"]) == (model, engine, "cpu")
    if "probabilities" in mine:
        for name, p in theirs["probabilities"].items():
            assert mine["probabilities"][name] == pytest.approx(p, abs=1e-3)


def shipped_models() -> list[str]:
    folder = ROOT / "models"
    return sorted(p.parent.name for p in folder.glob("*/model.json")) if folder.is_dir() else []


def test_analyze_with_the_shipped_models(bundle, home):
    """Each model in models/ (bundled) runs on ONNX Runtime, and with the automatic engine
    choice (ONNX Runtime or OpenVINO: the app has no torch)."""
    names = shipped_models()
    assert names, "models/ holds no shipped model: the bundle would open with no AI"
    listing = ok(frozen(bundle, home, "models", "list")).stdout
    image = ROOT / "resources" / "samples" / "chest_xray" / "chest_pa.dcm"
    for folder in names:
        assert (bundle / "_internal" / "models" / folder / "model.json").is_file(), \
            f"models/{folder} is not in the bundle: rebuild it"
        manifest = json.loads((ROOT / "models" / folder / "model.json").read_text())
        assert manifest["name"] in listing
        for engine in ("auto", "onnxruntime"):
            proc = ok(frozen(bundle, home, "analyze", "--model", manifest["name"], "--device", "cpu",
                             "--engine", engine, image, "--out", home / "masks"))
            result = json.loads(proc.stdout.splitlines()[-1])
            assert result["model"] == manifest["name"], result
            assert result["engine"] == engine if engine != "auto" else result["engine"] in ENGINES


# ----------------------------------------------------------------------- trainer

def test_two_epoch_training_job_in_the_add_on(bundle, home, tmp_path):
    """A job queued and started by the app, as its Trainer tab does (trainer/jobs.py): the
    app finds the add-on beside its folder and starts ``medview-trainer train JOB
    --register``, whose two DataLoader workers start from the add-on's executable. The
    registered model (its ONNX graph made in the add-on) then runs in the app."""
    data = tmp_path / "demo"
    ok(frozen(bundle, home, "demo-data", data, "--n", "8", "--size", "64"))
    job = {"name": "bundle-smoke", "version": "0.0.1", "task": "classification",
           "dataset": {"path": str(data / "classification")},
           "model": {"architecture": "resnet18"},
           "input": {"size": [64, 64], "channels": 1},
           "epochs": 2, "freeze_epochs": 0, "batch_size": 4, "early_stopping": 0,
           "workers": 2, "cache": False, "device": "cpu"}
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(job), encoding="utf-8")
    job_id = ok(frozen(bundle, home, "jobs", "add", job_file)).stdout.split(":")[0].strip()
    ok(frozen(bundle, home, "jobs", "start", job_id, "--register"))
    folder = home / "user" / "jobs" / job_id
    state = _wait_for_the_process(folder, timeout=1200)  # it registers after "finished"
    log = (folder / "trainer.log").read_text(encoding="utf-8", errors="replace")
    assert state["state"] == "finished", f"{state}\n{log[-4000:]}"
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    types = [e["type"] for e in events]
    assert types.count("epoch_end") == 2 and "finished" in types, types
    assert "registered as 'bundle-smoke' version 0.0.1" in log and "Traceback" not in log, log[-4000:]
    image = sorted((data / "classification").rglob("*.dcm"))[0]  # like its training images
    proc = ok(frozen(bundle, home, "analyze", "--model", "bundle-smoke", "--engine", "onnxruntime",
                     "--device", "cpu", image))
    assert json.loads(proc.stdout.splitlines()[-1])["model"] == "bundle-smoke"


def _wait_for_the_process(folder: Path, timeout: float) -> dict:
    """The job's state once its process (``state.json``'s pid) has ended."""
    import psutil

    deadline = time.monotonic() + timeout
    while True:
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        running = state.get("pid") is not None and psutil.pid_exists(state["pid"])
        if (state["state"] not in ("queued", "running") and not running) or time.monotonic() > deadline:
            return state
        time.sleep(2)


def test_settings_search(bundle, home, tmp_path):
    """``medview search JOB`` (what the Trainer tab queues for "Find the best settings"),
    typed at the app: it runs in the add-on (the CLI forwards it), where Optuna and the
    k-fold runs work and leave a ready-to-run best job."""
    data = tmp_path / "demo"
    ok(frozen(bundle, home, "demo-data", data, "--n", "8", "--size", "64"))
    job = {"name": "bundle-search", "task": "classification",
           "dataset": {"path": str(data / "classification")},
           "model": {"architecture": "resnet18"},
           "input": {"size": [64, 64], "channels": 1},
           "freeze_epochs": 0, "early_stopping": 0, "workers": 0, "cache": False,
           "device": "cpu"}
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(job), encoding="utf-8")
    out = tmp_path / "search"
    proc = ok(frozen(bundle, home, "search", job_file, "--out", out, "--trials", "2",
                     "--folds", "2", "--epochs", "1", timeout=1200))
    types = [json.loads(line)["type"] for line in proc.stdout.splitlines() if line.startswith("{")]
    assert types[-1] == "finished", proc.stdout[-2000:]
    assert len(json.loads((out / "trials.json").read_text())["trials"]) == 2
    best_job = json.loads((out / "best_job.json").read_text())
    assert best_job["optimizer"] in ("adam", "adamw", "sgd") and best_job["lr"] > 0


# ----------------------------------------------------------------------- GUI

@pytest.mark.parametrize("platform", ["offscreen", "xcb"])
def test_gui_opens_and_closes_cleanly(bundle, home, platform):
    """The window opens on the bundled sample study, paints, and closes with status 0:
    offscreen everywhere, and on the xcb (X11) plugin under Xvfb where xvfb-run exists."""
    wrapper: list[str] = []
    if platform == "xcb":
        if IS_WIN or shutil.which("xvfb-run") is None:
            pytest.skip("xcb needs Linux and xvfb-run (apt-get install xvfb xauth)")
        wrapper = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24"]
    exe = executables(bundle)[1]
    start = time.monotonic()
    proc = ok(subprocess.run([*wrapper, *ISOLATE, str(exe)], capture_output=True, text=True,
                             timeout=300, cwd=str(home),
                             env=clinic_env(home, QT_QPA_PLATFORM=platform,
                                            MEDVIEW_SMOKE_QUIT_MS="1500")))
    assert "medview: first paint" in proc.stderr, proc.stderr
    print(f"\nGUI ({platform}): start, first paint, 1.5 s shown, close: "
          f"{time.monotonic() - start:.1f} s")


# ----------------------------------------------------------------------- last

@pytest.mark.parametrize("which", ["app", "add-on"])
def test_nothing_was_written_into_the_bundle(built, which):
    """After every command above, each folder is byte-for-byte as built: settings, models,
    jobs, engine caches and ONNX exports all went to the user's folders, so replacing a
    folder (an update) loses nothing. Runs last (file order)."""
    folder = built[0 if which == "app" else 1]
    before, now = _SNAPSHOT[folder], _listing(folder)
    added = sorted(set(now) - set(before))
    changed = sorted(k for k in before if now.get(k) != before[k])
    assert not added and not changed, {"added": added[:20], "changed": changed[:20]}
