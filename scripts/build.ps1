# Build medview's one-folder executable with PyInstaller (Windows): dist\medview\medview.exe
#
#   powershell -ExecutionPolicy Bypass -File scripts\build.ps1
#   $env:PYTHON = "C:\medview-build\.venv\Scripts\python.exe"; scripts\build.ps1
#
# The folder holds medview.exe (the viewer, no console window) and medview-cli.exe (the
# same program with a console, for `medview-cli info ...` and scripts). The torch in the
# environment decides the variant: PyPI's Windows torch wheel is CPU-only (the small
# clinic bundle); a CUDA torch from download.pytorch.org adds the CUDA libraries.
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..")

$py   = if ($env:PYTHON) { $env:PYTHON } else { ".venv\Scripts\python.exe" }
$dist = if ($env:DIST)   { $env:DIST }   else { "dist" }
$work = if ($env:WORK)   { $env:WORK }   else { "build" }

& $py -m PyInstaller --version *> $null
if ($LASTEXITCODE -ne 0) {
    & $py -m pip install "pyinstaller>=6.11" pyinstaller-hooks-contrib
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}
& $py -c "import torch; k = ('CUDA ' + torch.version.cuda) if torch.version.cuda else 'CPU-only'; print('building with torch', torch.__version__, '(' + k + ')')"
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }

$watch = [Diagnostics.Stopwatch]::StartNew()
& $py -m PyInstaller --noconfirm --clean --log-level WARN --distpath $dist --workpath $work build.spec
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Host ("built {0}\medview in {1:N0} s" -f $dist, $watch.Elapsed.TotalSeconds)

& $py scripts\bundle_sizes.py "$dist\medview"
& "$dist\medview\medview-cli.exe" --version
exit $LASTEXITCODE
