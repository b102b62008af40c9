#!/usr/bin/env bash
# Build medview's one-folder executable with PyInstaller (Linux): dist/medview/medview.
#
#   scripts/build.sh                      # from .venv (whatever torch it has: CPU or CUDA)
#   PYTHON=/path/to/venv/bin/python DIST=/tmp/dist scripts/build.sh
#
# The torch installed in that environment decides the variant (README, "Building the
# executable"): CPU-only torch -> the small clinic bundle; CUDA torch -> + ~3 GB of CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-.venv/bin/python}"
DIST="${DIST:-dist}"
WORK="${WORK:-build}"

if ! "$PY" -m PyInstaller --version >/dev/null 2>&1; then
    "$PY" -m pip install 'pyinstaller>=6.11' pyinstaller-hooks-contrib
fi
"$PY" - <<'PYEOF'
import torch
kind = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only"
print(f"building with torch {torch.__version__} ({kind})")
PYEOF

start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" build.spec
echo "built $DIST/medview in $(( $(date +%s) - start )) s"

"$PY" scripts/bundle_sizes.py "$DIST/medview"
"$DIST/medview/medview" --version
