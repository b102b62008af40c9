"""Give an installed or shipped model folder a reference of its training images.

Models trained by medview's trainer carry ``reference.safetensors`` already (the trainer
fits it on the training split and sets its threshold on the validation split). A model
made before that, or imported from elsewhere, can get one from images like those it was
trained on, so analyses can say when an image is unlike them::

    python scripts/make_reference.py models/demo-lesion-classifier FIT_FOLDER THRESHOLD_FOLDER

The images under FIT_FOLDER describe the set; those under THRESHOLD_FOLDER, of other
patients (never near-copies of the first: a threshold set on them would be too tight),
set the threshold. The manifest gains its ``familiarity`` block; nothing else changes.
The shipped demo models' references were made from ``medview demo-data`` with seed 0 (the
data they were trained on) and seed 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from medview.core.io.folder import load_paths
from medview.inference.familiarity import fit_reference, thumbnail
from medview.inference.manifest import FamiliaritySpec, read_manifest, write_manifest
from medview.inference.preprocess import frame_input, preprocess


def thumbnails(manifest, folder: Path) -> np.ndarray:
    """Thumbnails of every readable image under ``folder`` (first frame of each file)."""
    out = []
    for frame in load_paths([folder]).frames():
        if frame.index == 0:
            values, context = frame_input(frame)
            out.append(thumbnail(preprocess(values, manifest, context).image))
    return np.array(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="the model folder (holds model.json)")
    parser.add_argument("fit", type=Path, help="a folder of the training images (or like them)")
    parser.add_argument("threshold", type=Path,
                        help="a folder of other patients' images of the same kind")
    args = parser.parse_args(argv)
    manifest = read_manifest(args.model)
    fit, held_out = thumbnails(manifest, args.fit), thumbnails(manifest, args.threshold)
    reference = fit_reference(fit, held_out)
    spec = FamiliaritySpec()
    reference.save(args.model / spec.file)
    write_manifest(dataclasses.replace(manifest, familiarity=spec), args.model / "model.json")
    print(f"{args.model}: reference of {len(fit)} images, threshold {reference.threshold:.3g} "
          f"(set on {len(held_out)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
