# Build medview with PyInstaller (Windows): the app dist\medview\medview.exe (viewer + AI,
# no torch) and the trainer add-on dist\medview-trainer\medview-trainer.exe.
#
#   powershell -ExecutionPolicy Bypass -File scripts\build.ps1
#   $env:TARGETS = "app"; scripts\build.ps1          # only the app (no torch needed)
#   $env:PYTHON = "C:\medview-build\.venv\Scripts\python.exe"; scripts\build.ps1
#
# The app's folder holds medview.exe (the viewer, no console window) and medview-cli.exe
# (the same program with a console, for `medview-cli info ...` and scripts). The torch in
# the environment decides the add-on's variant: PyPI's Windows torch wheel is CPU-only;
# a CUDA torch from download.pytorch.org adds the CUDA libraries.
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..")

$py   = if ($env:PYTHON) { $env:PYTHON } else { ".venv\Scripts\python.exe" }
$dist = if ($env:DIST)   { $env:DIST }   else { "dist" }
$work = if ($env:WORK)   { $env:WORK }   else { "build" }
$env:MEDVIEW_BUILD_TARGETS = if ($env:TARGETS) { $env:TARGETS } else { "app,trainer" }

& $py -m PyInstaller --version *> $null
if ($LASTEXITCODE -ne 0) {
    & $py -m pip install "pyinstaller>=6.11" pyinstaller-hooks-contrib
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}
if ($env:MEDVIEW_BUILD_TARGETS -like "*trainer*") {
    & $py -c "import torch; k = ('CUDA ' + torch.version.cuda) if torch.version.cuda else 'CPU-only'; print('building the trainer add-on with torch', torch.__version__, '(' + k + ')')"
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

$watch = [Diagnostics.Stopwatch]::StartNew()
& $py -m PyInstaller --noconfirm --clean --log-level WARN --distpath $dist --workpath $work build.spec
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Host ("built {0} in {1} in {2:N0} s" -f $env:MEDVIEW_BUILD_TARGETS, $dist, $watch.Elapsed.TotalSeconds)

& $py scripts\bundle_sizes.py "$dist"
foreach ($exe in @("$dist\medview\medview-cli.exe", "$dist\medview-trainer\medview-trainer.exe")) {
    if (Test-Path $exe) {
        & $exe --version
        if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    }
}
exit 0
