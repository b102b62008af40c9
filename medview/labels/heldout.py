"""The project's held-out patients: labelled cases kept out of training, for comparing models.

A project keeps about :data:`HOLD_OUT_SHARE` of its patients out of every export made for
training (``export_labels(..., hold_out=True)``: the viewer's "Train on These Labels…",
``medview labels export --hold-out``). Which patients is decided by a hash of the patient's
key, not by a file or a random draw, so:

* every PC decides the same way, with nothing to keep in sync;
* a patient labelled later joins one side for good: a patient held out today was held
  out from every earlier training of the project too, so a model trained in an earlier
  round has never seen the cases a new model is compared with it on;
* all images of a patient are on one side (patient-aware, like the trainer's split).

A patient's key is its PatientID; an image without one (a PNG) is its own patient.
"""

from __future__ import annotations

import hashlib

from medview.labels.images import ProjectImage

__all__ = ["HOLD_OUT_SHARE", "patient_key", "is_held_out"]

#: Share of a project's patients held out of training.
HOLD_OUT_SHARE = 0.2


def patient_key(image: ProjectImage) -> str:
    """The patient of ``image`` for splitting: its PatientID, else the image itself."""
    return f"patient:{image.patient_id}" if image.patient_id else f"image:{image.id}"


def is_held_out(image: ProjectImage, patient_id: str = "") -> bool:
    """Whether ``image``'s patient is one of the project's held-out patients.

    ``patient_id`` overrides the image's own (a label may record one a PNG lacks).
    """
    key = f"patient:{patient_id}" if patient_id else patient_key(image)
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64 < HOLD_OUT_SHARE
