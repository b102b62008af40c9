"""Write the field tables and JSON Schemas of medview's file formats from their declarations.

Each format is declared once (:mod:`medview.core.schema`); this script copies what the
declarations say into the documents people read:

* the field tables of ``trainer/JOBS.md``, ``trainer/EVENTS.md`` and ``docs/MANIFEST.md``,
  between ``<!-- schema: NAME -->`` and ``<!-- /schema -->`` markers (the text around
  them is written by hand);
* ``docs/schema/*.schema.json``, for editors and validators outside medview.

Run it after changing a declaration; ``tests/test_schema_docs.py`` fails while a
committed copy is out of date::

    python scripts/gen_schema_docs.py          # rewrite
    python scripts/gen_schema_docs.py --check  # exit 1 if anything is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medview.core import atomic, schema  # noqa: E402
from medview.inference import manifest as mf  # noqa: E402
from trainer import config, events  # noqa: E402
from trainer.pretrain import job as pretrain  # noqa: E402
from trainer.search_spec import SearchSpec  # noqa: E402

_EVENT_HEAD = ("job", "time")  # in the "Every event" table

#: Marker name -> table (Markdown).
TABLES = {
    "job": lambda: schema.field_table(config.Job),
    "job.search": lambda: schema.field_table(SearchSpec, prefix="search."),
    "pretrain": lambda: schema.field_table(pretrain.PretrainJob),
    **{f"event.{cls.type}": (lambda cls=cls: schema.field_table(cls, default=False, skip=_EVENT_HEAD))
       for cls in events.EVENT_TYPES.values() if cls is not events.Cancelled},
    "manifest": lambda: schema.field_table(mf.Manifest),
    **{f"manifest.{key}": (lambda cls=cls, key=key: schema.field_table(cls, prefix=f"{key}."))
       for key, cls in (("architecture", mf.ArchitectureSpec), ("input", mf.InputSpec),
                        ("normalisation", mf.Normalisation),
                        ("preprocessing", mf.Preprocessing), ("preprocessing.crop", mf.CropSpec),
                        ("preprocessing.clahe", mf.ClaheSpec),
                        ("preprocessing.diffusion", mf.DiffusionSpec), ("output", mf.OutputSpec),
                        ("card", mf.ModelCard), ("weights", mf.WeightsSpec),
                        ("familiarity", mf.FamiliaritySpec), ("int8", mf.Int8Spec),
                        ("intended_input", mf.IntendedInput))},
}

DOCS = ("trainer/JOBS.md", "trainer/EVENTS.md", "docs/MANIFEST.md")
_BLOCK = re.compile(r"(<!-- schema: (?P<name>[\w.]+) -->\n)(?P<body>.*?)(<!-- /schema -->)", re.S)


def _event_schema() -> dict:
    kinds = tuple(cls for cls in events.EVENT_TYPES.values())
    out = schema.json_schema(kinds, "medview trainer event, protocol version 1",
                             "One line of the trainer's JSON-lines output (trainer/EVENTS.md).")
    for cls in kinds:
        sub = out["$defs"][cls.__name__]
        sub["properties"] = {"v": {"const": events.PROTOCOL_VERSION},
                             "type": {"const": cls.type}} | sub["properties"]
        sub["required"] = ["v", "type", "time"] + sub["required"]
        sub.pop("additionalProperties", None)  # readers ignore fields they do not know
    return out


#: File name under docs/schema -> JSON Schema.
SCHEMAS = {
    "job.schema.json": lambda: schema.json_schema(
        config.Job, "medview training job", "A training job (trainer/JOBS.md)."),
    "search.schema.json": lambda: schema.json_schema(
        SearchSpec, "medview search block", "The 'search' block of a search job (trainer/JOBS.md)."),
    "pretrain-job.schema.json": lambda: schema.json_schema(
        pretrain.PretrainJob, "medview pretrain job", "A pretrain job (trainer/JOBS.md)."),
    "model.schema.json": lambda: schema.json_schema(
        mf.Manifest, "medview model manifest (model.json)", "docs/MANIFEST.md"),
    "event.schema.json": _event_schema,
}


def rendered() -> dict[Path, str]:
    """Every generated file's path and the text it should have."""
    out = {}
    for rel in DOCS:
        path = ROOT / rel
        text = path.read_text(encoding="utf-8")

        def fill(m: re.Match) -> str:
            return m.group(1) + TABLES[m.group("name")]() + m.group(4)

        out[path] = _BLOCK.sub(fill, text)
    for name, make in SCHEMAS.items():
        out[ROOT / "docs" / "schema" / name] = json.dumps(make(), indent=2, ensure_ascii=False) + "\n"
    return out


def stale() -> list[Path]:
    """The generated files whose committed text differs from what the declarations give."""
    return [p for p, text in rendered().items()
            if not p.exists() or p.read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report out-of-date files")
    args = parser.parse_args(argv)
    if args.check:
        old = stale()
        for p in old:
            print(f"out of date: {p.relative_to(ROOT)}")
        return 1 if old else 0
    for path, text in rendered().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
