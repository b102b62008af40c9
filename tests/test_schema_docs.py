"""The generated field tables and JSON Schemas match the declarations they come from."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_schema_docs", ROOT / "scripts" / "gen_schema_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_docs_and_schemas_are_current():
    stale = [str(p.relative_to(ROOT)) for p in _generator().stale()]
    assert not stale, f"run 'python scripts/gen_schema_docs.py' and commit: {stale}"


def test_every_marked_table_is_filled_and_every_field_listed():
    gen = _generator()
    text = (ROOT / "trainer" / "JOBS.md").read_text(encoding="utf-8")
    for name in ("job", "pretrain", "job.search"):
        assert f"<!-- schema: {name} -->" in text
    table = gen.TABLES["job"]()
    for f in ("dataset", "batch_size", "compare_with_scratch", "intended_input"):
        assert f"| `{f}` |" in table
    assert "| `source` |" not in table  # internal: not in the file


def test_manifest_schema_accepts_a_shipped_manifest_shape():
    schema = json.loads((ROOT / "docs" / "schema" / "model.schema.json").read_text(encoding="utf-8"))
    top = schema["$defs"]["Manifest"]
    data = json.loads((ROOT / "models" / "demo-lesion-classifier" / "model.json").read_text(encoding="utf-8"))
    assert set(data) <= set(top["properties"]) and set(top["required"]) <= set(data)
    assert top["additionalProperties"] is False
    assert "activation" not in top["properties"]  # read from "output", not a key of its own
