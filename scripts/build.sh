#!/usr/bin/env bash
# Build medview with PyInstaller (Linux): the app dist/medview/medview (viewer + AI, no
# torch) and the trainer add-on dist/medview-trainer/medview-trainer (README, "Building
# the executable").
#
#   scripts/build.sh                      # both, from .venv
#   TARGETS=app scripts/build.sh          # only the app (no torch needed to build it)
#   PYTHON=/path/to/venv/bin/python TARGETS=trainer DIST=/tmp/dist scripts/build.sh
#
# The torch installed in that environment decides the add-on's variant: a CPU-only torch
# -> ~1.2 GB; a CUDA torch -> ~4.7 GB, most of it CUDA libraries.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-.venv/bin/python}"
DIST="${DIST:-dist}"
WORK="${WORK:-build}"
export MEDVIEW_BUILD_TARGETS="${TARGETS:-app,trainer}"

if ! "$PY" -m PyInstaller --version >/dev/null 2>&1; then
    "$PY" -m pip install 'pyinstaller>=6.11' pyinstaller-hooks-contrib
fi
if [[ "$MEDVIEW_BUILD_TARGETS" == *trainer* ]]; then
    "$PY" - <<'PYEOF'
import torch
kind = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only"
print(f"building the trainer add-on with torch {torch.__version__} ({kind})")
PYEOF
fi

start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" build.spec
echo "built $MEDVIEW_BUILD_TARGETS in $DIST in $(( $(date +%s) - start )) s"

"$PY" scripts/bundle_sizes.py "$DIST"
for exe in "$DIST/medview/medview" "$DIST/medview-trainer/medview-trainer"; do
    if [[ -x "$exe" ]]; then "$exe" --version; fi
done
