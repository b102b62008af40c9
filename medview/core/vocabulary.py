"""DICOM defined terms a person reads in plain words: modalities, body parts, views.

Model manifests declare what they are for with these terms, and the AI panel
explains a refusal with the plain names ("an MR of the shoulder"), so both sides
use one table. Sources: PS3.3 C.7.3.1.1.1 (Modality, CID 29/33), PS3.16 Annex L
(Body Part Examined defined terms), PS3.3 C.8.11.5.1.1 / CID 4010 (View Position).
"""

from __future__ import annotations

#: Modality code → how it is said in a sentence (with its article).
MODALITIES: dict[str, str] = {
    "CR": "a computed radiograph", "DX": "a digital radiograph", "CT": "a CT",
    "MR": "an MR", "US": "an ultrasound image", "MG": "a mammogram", "XA": "an angiogram",
    "RF": "a fluoroscopy image", "NM": "a nuclear medicine image", "PT": "a PET image",
    "OT": "an image of another modality", "SC": "a secondary capture", "IO": "an intra-oral "
    "radiograph", "PX": "a panoramic X-ray", "ES": "an endoscopy image", "XC": "a photograph",
    "GM": "a microscopy image", "SM": "a slide microscopy image", "OP": "an ophthalmic photo",
    "OPT": "an ophthalmic OCT", "BMD": "a bone densitometry image", "DG": "a diaphanography "
    "image", "RG": "a radiographic image", "TG": "a thermography image", "ECG": "an ECG",
    "SR": "a structured report", "SEG": "a segmentation", "KO": "a key object selection",
    "PR": "a presentation state", "RTIMAGE": "a radiotherapy image", "RTDOSE": "an RT dose",
    "RTSTRUCT": "an RT structure set", "RTPLAN": "an RT plan", "DOC": "a document",
    "IVUS": "an intravascular ultrasound", "OCT": "an OCT", "LS": "a laser scan",
}

#: Body Part Examined defined term (PS3.16 Annex L) → plain name.
BODY_PARTS: dict[str, str] = {
    "ABDOMEN": "abdomen", "ABDOMENPELVIS": "abdomen and pelvis", "ADRENAL": "adrenal gland",
    "ANKLE": "ankle", "AORTA": "aorta", "ARM": "arm", "AXILLA": "axilla", "BACK": "back",
    "BLADDER": "bladder", "BRAIN": "brain", "BREAST": "breast", "BRONCHUS": "bronchus",
    "BUTTOCK": "buttock", "CALCANEUS": "calcaneus", "CALF": "calf", "CAROTID": "carotid artery",
    "CEREBELLUM": "cerebellum", "CERVIX": "cervix", "CHEEK": "cheek", "CHEST": "chest",
    "CHESTABDOMEN": "chest and abdomen", "CHESTABDPELVIS": "chest, abdomen and pelvis",
    "CIRCLEOFWILLIS": "circle of Willis", "CLAVICLE": "clavicle", "COCCYX": "coccyx",
    "COLON": "colon", "CORONARYARTERY": "coronary artery", "CSPINE": "cervical spine",
    "CTSPINE": "cervico-thoracic spine", "DUODENUM": "duodenum", "EAR": "ear", "ELBOW": "elbow",
    "ESOPHAGUS": "oesophagus", "EXTREMITY": "extremity", "EYE": "eye", "EYELID": "eyelid",
    "FACE": "face", "FEMUR": "femur", "FINGER": "finger", "FOOT": "foot",
    "GALLBLADDER": "gallbladder", "HAND": "hand", "HEAD": "head", "HEADNECK": "head and neck",
    "HEART": "heart", "HIP": "hip", "HUMERUS": "humerus", "IAC": "internal auditory canal",
    "ILEUM": "ileum", "ILIUM": "ilium", "JAW": "jaw", "JEJUNUM": "jejunum", "KIDNEY": "kidney",
    "KNEE": "knee", "LARYNX": "larynx", "LEG": "leg", "LIVER": "liver",
    "LSPINE": "lumbar spine", "LSSPINE": "lumbo-sacral spine", "LUNG": "lung",
    "MANDIBLE": "mandible", "MAXILLA": "maxilla", "MEDIASTINUM": "mediastinum",
    "MOUTH": "mouth", "NECK": "neck", "NECKCHEST": "neck and chest", "NOSE": "nose",
    "ORBIT": "orbit", "OVARY": "ovary", "PANCREAS": "pancreas", "PAROTID": "parotid gland",
    "PATELLA": "patella", "PELVIS": "pelvis", "PENIS": "penis", "PHARYNX": "pharynx",
    "PROSTATE": "prostate", "RADIUS": "radius", "RADIUSULNA": "radius and ulna",
    "RECTUM": "rectum", "RIB": "rib", "SACRUM": "sacrum", "SCAPULA": "scapula",
    "SELLA": "sella turcica", "SHOULDER": "shoulder", "SKULL": "skull", "SPINE": "spine",
    "SPLEEN": "spleen", "SSPINE": "sacral spine", "STERNUM": "sternum",
    "STOMACH": "stomach", "TESTIS": "testis", "THIGH": "thigh", "THUMB": "thumb",
    "THYMUS": "thymus", "THYROID": "thyroid", "TIBIA": "tibia", "TOE": "toe",
    "TONGUE": "tongue", "TRACHEA": "trachea", "TSPINE": "thoracic spine",
    "TLSPINE": "thoraco-lumbar spine", "ULNA": "ulna", "URETER": "ureter",
    "URETHRA": "urethra", "UTERUS": "uterus", "WHOLEBODY": "whole body", "WRIST": "wrist",
    "ZYGOMA": "zygoma",
}

#: View Position defined terms (PS3.3 C.8.11.5.1.1) → plain name.
VIEWS: dict[str, str] = {
    "AP": "antero-posterior", "PA": "postero-anterior", "LL": "left lateral",
    "RL": "right lateral", "RLD": "right lateral decubitus", "LLD": "left lateral decubitus",
    "RLO": "right lateral oblique", "LLO": "left lateral oblique", "LAT": "lateral",
    "CC": "cranio-caudal", "MLO": "medio-lateral oblique", "ML": "medio-lateral",
    "LM": "latero-medial", "XCC": "exaggerated cranio-caudal", "FB": "from below",
    "SIDE": "side",
}

#: Photometric Interpretations medview displays (PS3.3 C.7.6.3.1.2).
PHOTOMETRIC: tuple[str, ...] = ("MONOCHROME1", "MONOCHROME2", "RGB", "PALETTE COLOR",
                                "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT")

#: Modalities that are projection radiographs (for "radiographs" in descriptions).
RADIOGRAPHIC: frozenset[str] = frozenset({"CR", "DX", "RG", "PX", "IO", "MG"})


def normalise_term(value: object) -> str:
    """A defined term as DICOM stores it: upper case, no spaces (``"Chest "`` → ``"CHEST"``)."""
    return "".join(str(value or "").split()).upper()


def modality_phrase(code: str) -> str:
    """``"an MR"`` for ``"MR"``; an unknown code is named as it is (``"a XYZ image"``)."""
    return MODALITIES.get(code, f"a {code} image" if code else "an image of unknown modality")


def body_part_name(term: str) -> str:
    """``"shoulder"`` for ``"SHOULDER"``; an unknown term in lower case."""
    return BODY_PARTS.get(term, term.lower())
