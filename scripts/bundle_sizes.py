"""Print the sizes of medview's PyInstaller builds, by component: the app and the trainer add-on.

    python scripts/bundle_sizes.py [FOLDER ...] [--files N] [--json]

Walks each one-folder build (default: ``dist/medview``, the app, and
``dist/medview-trainer``, the trainer add-on, those that exist; a FOLDER holding both,
such as ``dist``, means both), sorts every file into a component (torch, CUDA libraries,
Qt, OpenVINO, ...), and prints MB per component, the total, the N largest files, and
last one line with both totals. Symbolic links are listed but not counted (they point at
files counted elsewhere). Standard library only, so it runs with any Python.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

MB = 1024 * 1024

# (component, patterns matched against the path relative to the bundle's _internal folder,
#  or to the bundle itself for files outside it). First match wins.
COMPONENTS: list[tuple[str, tuple[str, ...]]] = [
    ("medview data (models, resources)", ("models/*", "resources/*")),
    ("CUDA libs (nvidia/*)", ("nvidia/*", "libcu*", "libnv*", "libnccl*", "cuda/*",
                             "cuda_bindings/*", "cuda_pathfinder/*")),
    ("torch", ("torch/*", "libtorch*", "libc10*", "libgomp*", "libshm*", "torch.libs/*",
               "functorch/*", "torchgen/*")),
    ("torchvision", ("torchvision/*", "torchvision.libs/*")),
    ("Qt (PySide6, shiboken6, pyqtgraph)", (
        "PySide6/*", "shiboken6/*", "pyqtgraph/*", "libQt6*", "libpyside6*", "libshiboken6*",
        "libicu*", "Qt6*.dll", "pyside6*.dll", "shiboken6*.dll")),
    ("openvino", ("openvino/*", "libopenvino*", "libtbb*", "libhwloc*", "openvino*.dll",
                  "tbb*.dll")),
    ("onnxruntime", ("onnxruntime/*", "libonnxruntime*", "onnxruntime*.dll")),
    ("onnx", ("onnx/*",)),
    ("optuna (+ sqlalchemy, alembic)", ("optuna/*", "sqlalchemy/*", "alembic/*")),
    ("scipy", ("scipy/*", "scipy.libs/*")),
    ("cv2 (OpenCV)", ("cv2/*", "opencv_python_headless.libs/*", "opencv*.dll")),
    ("gdcm", ("_gdcm/*", "gdcm*", "libgdcm*", "python_gdcm.libs/*")),
    ("pydicom + codecs", ("pydicom/*", "pylibjpeg/*", "openjpeg/*", "rle/*", "_openjpeg*")),
    ("numpy", ("numpy/*", "numpy.libs/*", "libopenblas*", "libscipy_openblas*",
               "libgfortran*", "libquadmath*")),
    ("pillow", ("PIL/*", "pillow.libs/*")),
    ("AI helpers (smp, timm, safetensors, hf_hub, sympy, ...)", (
        "segmentation_models_pytorch/*", "timm/*", "safetensors/*", "huggingface_hub/*",
        "sympy/*", "mpmath/*", "networkx/*", "jinja2/*", "markupsafe/*", "ml_dtypes/*",
        "google/*", "yaml/*", "_yaml/*", "tqdm/*")),
    ("metadata (*.dist-info)", ("*.dist-info/*", "*.egg-info/*")),
    ("python (interpreter, stdlib)", ("libpython*", "python3*.dll", "python*.zip",
                                      "base_library.zip", "lib-dynload/*", "libssl*",
                                      "libcrypto*", "libffi*", "liblzma*", "libbz2*",
                                      "libz.*", "libexpat*", "libsqlite*", "libreadline*",
                                      "libtinfo*", "libncurses*", "libuuid*", "libmpdec*",
                                      "ucrtbase.dll", "api-ms-win-*", "vcruntime*",
                                      "msvcp*", "concrt*", "*.pyd", "_*.so",
                                      "python3*/*")),
    ("executables (+ PYZ: all Python code)", ("medview", "medview.exe", "medview-cli.exe",
                                               "medview-trainer", "medview-trainer.exe")),
    # what dependency analysis copied from the build machine (X11/xcb, glib, libstdc++, ...)
    ("system libraries", ("lib*.so*", "*.dll")),
]


def classify(rel: str) -> str:
    """The component of a file, from its path relative to the bundle."""
    inner = rel.split("/", 1)[1] if rel.startswith("_internal/") else rel
    for name, patterns in COMPONENTS:
        if any(fnmatch.fnmatchcase(inner, p) for p in patterns):
            return name
    return "other"


def walk(bundle: Path) -> tuple[dict[str, int], list[tuple[int, str]], int]:
    """(bytes per component, [(bytes, relative path)], number of symlinks)."""
    sizes: dict[str, int] = defaultdict(int)
    files: list[tuple[int, str]] = []
    links = 0
    for dirpath, dirnames, filenames in os.walk(bundle):
        # os.walk does not descend into symlinked folders by default
        links += sum(1 for d in dirnames if os.path.islink(os.path.join(dirpath, d)))
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                links += 1
                continue
            size = os.stat(path).st_size
            rel = os.path.relpath(path, bundle).replace(os.sep, "/")
            sizes[classify(rel)] += size
            files.append((size, rel))
    return sizes, files, links


BUILDS = ("medview", "medview-trainer")  # the app, the trainer add-on (build.spec)


def folders(given: list[str]) -> list[Path]:
    """The build folders to walk: each given one (a folder holding both builds means both),
    or those of ``dist/`` that exist."""
    found = []
    for path in map(Path, given or ["dist"]):
        inner = [path / name for name in BUILDS if (path / name).is_dir()]
        found += inner or ([path] if given else [])
    return found


def report(bundle: Path, files_n: int, other_n: int) -> tuple[int, dict]:
    """Print one build's table; (total bytes, its JSON summary)."""
    sizes, files, links = walk(bundle)
    total = sum(sizes.values())
    files.sort(reverse=True)
    summary = {"bundle": str(bundle), "total_mb": round(total / MB, 1),
               "components_mb": {k: round(v / MB, 1) for k, v in
                                 sorted(sizes.items(), key=lambda kv: -kv[1])},
               "largest_files_mb": {rel: round(size / MB, 1) for size, rel in files[:files_n]},
               "files": len(files), "symlinks": links}
    if other_n < 0:  # JSON only
        return total, summary
    width = max(len(k) for k in sizes) if sizes else 10
    print(f"{bundle}: {len(files)} files, {links} symlinks (not counted)")
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<{width}}  {size / MB:9.1f} MB  {100 * size / max(total, 1):5.1f} %")
    print(f"  {'TOTAL':<{width}}  {total / MB:9.1f} MB")
    other = [(s, r) for s, r in files if classify(r) == "other"][:other_n]
    if other:
        print("largest files in 'other':")
        for size, rel in other:
            print(f"  {size / MB:9.1f} MB  {rel}")
    if files_n:
        print(f"largest {files_n} files:")
        for size, rel in files[:files_n]:
            print(f"  {size / MB:9.1f} MB  {rel}")
    print()
    return total, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="*", metavar="FOLDER",
                        help="one-folder builds, or a folder holding them (default: dist/medview "
                             "and dist/medview-trainer)")
    parser.add_argument("--files", type=int, default=10, metavar="N",
                        help="also list the N largest files of each (default 10)")
    parser.add_argument("--other", type=int, default=10, metavar="N",
                        help="list the N largest files in 'other' (default 10)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args(argv)

    bundles = folders(args.bundles)
    missing = [b for b in bundles if not b.is_dir()]
    if not bundles or missing:
        where = missing[0] if missing else Path("dist")
        print(f"bundle_sizes: {where}: no medview build there (build it first)", file=sys.stderr)
        return 2
    results = [report(b, args.files, -1 if args.json else args.other) for b in bundles]
    if args.json:
        json.dump([summary for _, summary in results], sys.stdout, indent=2)
        print()
        return 0
    print("; ".join(f"{b.name}: {total / MB:.0f} MB" for b, (total, _) in zip(bundles, results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
