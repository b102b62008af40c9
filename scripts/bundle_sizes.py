"""Print the size of a PyInstaller build of medview, by component.

    python scripts/bundle_sizes.py [dist/medview] [--files N] [--json]

Walks the one-folder bundle (``dist/medview`` by default), sorts every file into a
component (torch, CUDA libraries, Qt, OpenVINO, ...), and prints MB per component, the
total, and optionally the N largest files. Symbolic links are listed but not counted (they
point at files counted elsewhere). Standard library only, so it runs with any Python.
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
    ("executables (+ PYZ: all Python code)", ("medview", "medview.exe", "medview-cli.exe")),
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", default="dist/medview",
                        help="the one-folder build (default dist/medview)")
    parser.add_argument("--files", type=int, default=0, metavar="N",
                        help="also list the N largest files")
    parser.add_argument("--other", type=int, default=10, metavar="N",
                        help="list the N largest files in 'other' (default 10)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)

    bundle = Path(args.bundle)
    if not bundle.is_dir():
        print(f"bundle_sizes: {bundle}: not a folder (build it first)", file=sys.stderr)
        return 2
    sizes, files, links = walk(bundle)
    total = sum(sizes.values())
    files.sort(reverse=True)

    if args.json:
        json.dump({"bundle": str(bundle), "total_mb": round(total / MB, 1),
                   "components_mb": {k: round(v / MB, 1) for k, v in
                                     sorted(sizes.items(), key=lambda kv: -kv[1])},
                   "files": len(files), "symlinks": links}, sys.stdout, indent=2)
        print()
        return 0

    width = max(len(k) for k in sizes) if sizes else 10
    print(f"{bundle}: {len(files)} files, {links} symlinks (not counted)")
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<{width}}  {size / MB:9.1f} MB  {100 * size / max(total, 1):5.1f} %")
    print(f"  {'TOTAL':<{width}}  {total / MB:9.1f} MB")
    other = [(s, r) for s, r in files if classify(r) == "other"][:args.other]
    if other:
        print("largest files in 'other':")
        for size, rel in other:
            print(f"  {size / MB:9.1f} MB  {rel}")
    if args.files:
        print(f"largest {args.files} files:")
        for size, rel in files[:args.files]:
            print(f"  {size / MB:9.1f} MB  {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
