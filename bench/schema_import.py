"""What the schema layer costs at start-up: importing it and reading the first manifests.

    python bench/schema_import.py [--runs 7] [--peer /path/to/other/checkout]

Each run is a fresh interpreter (as when the window starts) that imports the model
registry and reads the two shipped manifests, as the AI panel does while the window
opens. Rows: this checkout (manifests declared with msgspec, :mod:`medview.core.schema`)
and, with ``--peer``, another checkout (e.g. one from before the schema layer). Also
timed: ``import msgspec`` and, when it is installed, ``from pydantic import BaseModel``
(the library not chosen). Printed: the median and best of each row in ms, and the ratio
of this checkout to the peer.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_READ = r"""
import time
t0 = time.perf_counter()
import medview.inference.registry
from medview.inference.manifest import read_manifest
for name in ("demo-lesion-classifier", "demo-lesion-segmenter"):
    read_manifest(f"{root}/models/{{name}}")
print((time.perf_counter() - t0) * 1e3)
"""

_IMPORT = r"""
import time
t0 = time.perf_counter()
{statement}
print((time.perf_counter() - t0) * 1e3)
"""


def _times(code: str, runs: int, path: Path) -> list[float] | None:
    out = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=path, env={"PYTHONPATH": str(path), "PATH": ""})
        if done.returncode != 0:
            return None
        out.append(float(done.stdout.split()[-1]))
    return out


def _row(name: str, times: list[float] | None) -> None:
    if times is None:
        print(f"{name:<40} not available")
    else:
        print(f"{name:<40} median {statistics.median(times):7.1f} ms   best {min(times):7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--peer", type=Path, help="another checkout to compare with")
    args = parser.parse_args()
    mine = _times(_READ.format(root=ROOT), args.runs, ROOT)
    _row("medview: registry + 2 manifests", mine)
    if args.peer:
        peer = _times(_READ.format(root=args.peer), args.runs, args.peer)
        _row("peer: registry + 2 manifests", peer)
        if mine and peer:
            print(f"ratio medview / peer (median): {statistics.median(mine) / statistics.median(peer):.2f}")
    _row("import msgspec", _times(_IMPORT.format(statement="import msgspec, msgspec.inspect"),
                                  args.runs, ROOT))
    _row("from pydantic import BaseModel", _times(
        _IMPORT.format(statement="from pydantic import BaseModel, Field, ConfigDict"), args.runs, ROOT))


if __name__ == "__main__":
    main()
