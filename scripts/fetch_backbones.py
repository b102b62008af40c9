"""Fetch torchvision's ImageNet weights and ship them as backbones (BUILD time only).

For IT building the installer on a machine with internet. medview never downloads
anything at run time; a clinic PC gets these backbones inside the bundle
(``models/backbones/``, which ``build.spec`` ships with ``models/``), and jobs start from
them by name (``"model": {"architecture": "resnet18", "backbone": "resnet18-imagenet"}``).

For each architecture: download the official file (the URL of torchvision's weight enum),
check its SHA-256 against the prefix in its file name (the check torch.hub does; the
prefix is the published hash) and, when a ``--sha256`` table names the file, against the
full hash; read it with ``torch.load(weights_only=True)``; map it to the canonical
backbone layout with a one-channel stem (RGB filters summed); write
``OUT/<arch>-imagenet/`` (backbone.json, weights.safetensors, card.md naming the source
and the terms). A file that fails a check is deleted and nothing is written for it.

Usage::

    python scripts/fetch_backbones.py                       # all, into models/backbones
    python scripts/fetch_backbones.py --only resnet18,densenet121 --sha256 hashes.txt
    python scripts/fetch_backbones.py --url resnet18=file:///mirror/resnet18-f37072fd.pth

``--sha256`` reads ``sha256sum`` output (``HEX  FILENAME`` per line). ``--url`` replaces
an architecture's URL (a local mirror); the file name must still carry a hash prefix or
be in the table.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medview.inference.backbone_import import IMAGENET_GREY, import_backbone  # noqa: E402
from medview.inference.backbones import BackboneError, BackboneInfo  # noqa: E402

#: architecture -> (torchvision weight enum, URL). The file name's "-xxxxxxxx." part is the
#: start of the file's SHA-256, as published by torchvision.
OFFICIAL = {
    "resnet18": ("ResNet18_Weights.IMAGENET1K_V1",
                 "https://download.pytorch.org/models/resnet18-f37072fd.pth"),
    "resnet34": ("ResNet34_Weights.IMAGENET1K_V1",
                 "https://download.pytorch.org/models/resnet34-b627a593.pth"),
    "resnet50": ("ResNet50_Weights.IMAGENET1K_V1",
                 "https://download.pytorch.org/models/resnet50-0676ba61.pth"),
    "densenet121": ("DenseNet121_Weights.IMAGENET1K_V1",
                    "https://download.pytorch.org/models/densenet121-a639ec97.pth"),
    "mobilenet_v3_small": ("MobileNet_V3_Small_Weights.IMAGENET1K_V1",
                           "https://download.pytorch.org/models/mobilenet_v3_small-047dcff4.pth"),
    "mobilenet_v3_large": ("MobileNet_V3_Large_Weights.IMAGENET1K_V1",
                           "https://download.pytorch.org/models/mobilenet_v3_large-8738ca79.pth"),
    "efficientnet_b0": ("EfficientNet_B0_Weights.IMAGENET1K_V1",
                        "https://download.pytorch.org/models/efficientnet_b0_rwightman-7f5810bc.pth"),
}
# torch.hub's HASH_REGEX: the hash prefix in a weights file name.
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,64})\.")
LICENCE = ("torchvision (BSD-3-Clause); the weights were trained on ImageNet-1k, and torchvision "
           "notes that pre-trained models may carry terms derived from their training data: "
           "check the ImageNet terms of access for your use")
IMAGENET_IMAGES = 1_281_167


class FetchError(Exception):
    """One architecture could not be fetched or checked; the message says why."""


def read_table(path: Path) -> dict[str, str]:
    """``sha256sum`` output (``HEX  FILENAME``) as {file name: hex}."""
    table = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
            raise FetchError(f"{path}:{n}: expected 'SHA256  FILENAME', got {line!r}")
        table[Path(parts[1].lstrip("*")).name] = parts[0].lower()
    return table


def download(url: str, target: Path) -> str:
    """Stream ``url`` into ``target``; its SHA-256."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=120) as response, open(target, "wb") as fh:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                fh.write(block)
    except OSError as err:
        raise FetchError(f"{url}: download failed ({err})") from None
    return digest.hexdigest()


def check_hash(file_name: str, digest: str, table: dict[str, str]) -> str:
    """Which published hash ``digest`` matched; FetchError if any differs or none is known."""
    checked = []
    match = _HASH_IN_NAME.search(file_name)
    if match:
        if not digest.startswith(match.group(1)):
            raise FetchError(f"{file_name}: SHA-256 {digest[:16]}… does not start with the "
                             f"published prefix {match.group(1)}; the file is refused")
        checked.append(f"prefix {match.group(1)}")
    if file_name in table:
        if digest != table[file_name]:
            raise FetchError(f"{file_name}: SHA-256 {digest[:16]}… differs from the table's "
                             f"{table[file_name][:16]}…; the file is refused")
        checked.append("full hash from the table")
    if not checked:
        raise FetchError(f"{file_name}: no published hash to check (none in its name, none in "
                         "--sha256); the file is refused")
    return " and ".join(checked)


def fetch(arch: str, url: str, out: Path, table: dict[str, str]) -> Path:
    """Download, check and convert one architecture's weights; the backbone folder."""
    enum = OFFICIAL[arch][0]
    file_name = Path(urllib.parse.urlparse(url).path).name
    out.mkdir(parents=True, exist_ok=True)
    temp = out / f".download-{file_name}"
    try:
        digest = download(url, temp)
        how = check_hash(file_name, digest, table)
        info = BackboneInfo(
            name=f"{arch}-imagenet", architecture=arch, normalisation=dict(IMAGENET_GREY),
            method="supervised ImageNet-1k classification (torchvision)",
            source=f"torchvision {enum}, {url}, sha256 {digest} (checked: {how})",
            images=IMAGENET_IMAGES, datasets=["ImageNet-1k (ILSVRC 2012) training set"],
            licence=LICENCE)
        try:
            result = import_backbone(temp, info.name, arch, out=out / info.name, info=info)
        except BackboneError as err:
            raise FetchError(str(err)) from None
    finally:
        temp.unlink(missing_ok=True)
    print(f"{arch}: {file_name} ({how}); {result.report.summary()} -> {result.folder}")
    return result.folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "backbones",
                        help="where the backbone folders go (default: models/backbones)")
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(OFFICIAL)}")
    parser.add_argument("--sha256", type=Path, help="sha256sum-style table of full hashes")
    parser.add_argument("--url", action="append", default=[], metavar="ARCH=URL",
                        help="fetch ARCH from URL instead (a mirror; file:// works)")
    args = parser.parse_args(argv)
    archs = args.only.split(",") if args.only else list(OFFICIAL)
    urls = {a: u for a, (_, u) in OFFICIAL.items()}
    for item in args.url:
        arch, _, url = item.partition("=")
        urls[arch] = url
    unknown = [a for a in archs + [u.partition("=")[0] for u in args.url] if a not in OFFICIAL]
    if unknown:
        parser.error(f"unknown architecture {unknown[0]!r}; valid: {', '.join(OFFICIAL)}")
    try:
        table = read_table(args.sha256) if args.sha256 else {}
    except (OSError, FetchError) as err:
        print(f"fetch_backbones: {err}", file=sys.stderr)
        return 2
    failed = 0
    for arch in archs:
        try:
            fetch(arch, urls[arch], args.out, table)
        except FetchError as err:
            print(f"fetch_backbones: {arch}: {err}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
