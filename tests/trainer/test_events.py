"""The event protocol: every type round-trips, bad lines are refused by name, the doc is true."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path

import pytest

import trainer
from trainer import events as ev

SUMMARY = {"task": "classification", "source": "/data", "classes": ["a", "b"], "counts": {"a": 3, "b": 4},
           "n_samples": 7, "skipped": [{"path": "/data/x.png", "reason": "not a readable image"}]}

ONE_OF_EACH = [
    ev.JobStarted(job="j1", task="classification", model="resnet18", dataset=SUMMARY,
                  split={"train": 5, "val": 1, "test": 1}, device="cpu"),
    ev.EpochStarted(job="j1", epoch=1, epochs=10),
    ev.Batch(job="j1", epoch=1, batch=2, batches=9, loss=0.69, images_per_s=None),
    ev.EpochEnd(job="j1", epoch=1, epochs=10, train_loss=0.7, val_loss=None,
                metrics={"dice": 0.5, "iou": None}, lr=1e-3, eta_s=12.5),
    ev.CheckpointSaved(job="j1", path="/jobs/j1/best.safetensors", epoch=1, metric=0.5, metric_name="dice"),
    ev.Evaluation(job="j1", report="/jobs/j1/evaluation.json", metrics={"accuracy": 0.9, "auc": 0.95}),
    ev.Log(job="j1", level="warning", message="few images"),
    ev.Finished(job="j1", model="/jobs/j1/model", best_metric=0.5),
    ev.Failed(job="j1", reason="out of memory", detail="Traceback ...\n  line 2"),
    ev.Cancelled(job="j1"),
]
LINE = '{"v":1,"type":"batch","time":"2025-05-01T09:30:04.500+00:00","job":"j","epoch":1,"batch":3,' \
       '"batches":9,"loss":0.69,"images_per_s":14.2}'


def test_one_example_per_type():
    assert sorted(e.type for e in ONE_OF_EACH) == sorted(ev.EVENT_TYPES)


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda e: e.type)
def test_emit_then_parse_round_trips(event):
    out = io.StringIO()
    ev.emit(event, out)
    text = out.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    assert list(json.loads(text))[:4] == ["v", "type", "time", "job"]
    assert ev.parse_line(text) == event


def test_emit_flushes_and_defaults_to_stdout(capsys):
    class Recorder(io.StringIO):
        flushed = 0

        def flush(self):
            self.flushed += 1

    rec = Recorder()
    ev.emit(ev.Cancelled(job="j"), rec)
    assert rec.flushed == 1
    ev.emit(ev.Cancelled(job="j"))
    assert ev.parse_line(capsys.readouterr().out).type == "cancelled"


def test_non_finite_measurements_become_null():
    e = ev.EpochEnd(job="j", epoch=1, epochs=2, train_loss=float("nan"), val_loss=float("inf"),
                    metrics={"dice": float("nan")}, lr=0.1, eta_s=None)
    obj = json.loads(e.to_json())
    assert obj["train_loss"] is None and obj["val_loss"] is None and obj["metrics"] == {"dice": None}


def test_failed_reason_is_one_line():
    assert ev.Failed(job="j", reason="disk full\n  while saving").reason == "disk full while saving"


def test_time_is_iso_utc():
    stamp = ev.Log(job="j", level="info", message="m").time
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", stamp)


def test_unknown_fields_are_ignored():
    obj = json.loads(LINE) | {"gpu_memory_mb": 812}
    assert ev.parse_line(json.dumps(obj)).loss == 0.69


def _mutated(**changes) -> str:
    obj = json.loads(LINE)
    for key, value in changes.items():
        if value is ...:
            del obj[key]
        else:
            obj[key] = value
    return json.dumps(obj)


@pytest.mark.parametrize("line, message", [
    ("", "not a JSON line"),
    ("loss=0.3", "not a JSON line"),
    ("[1, 2]", "must be a JSON object"),
    (_mutated(v=...), "field 'v' (protocol version) is missing"),
    (_mutated(v=2), "unsupported event protocol version 2"),
    (_mutated(v=True), "unsupported event protocol version True"),
    (_mutated(type="progress"), "unknown event type 'progress'"),
    (_mutated(type=...), "unknown event type None"),
    (_mutated(loss=...), "batch event lacks field 'loss'"),
    (_mutated(time=...), "batch event lacks field 'time'"),
    (_mutated(job=...), "batch event lacks field 'job'"),
    (_mutated(loss="0.5"), "batch.loss must be a finite number, got string"),
    (_mutated(epoch=1.0), "batch.epoch must be an integer, got number 1.0"),
    (_mutated(epoch=True), "batch.epoch must be an integer, got boolean true"),
    (_mutated(job=""), "job must not be empty"),
    (_mutated(time="yesterday"), "time must be ISO 8601"),
    (_mutated(time="2025-05-01T09:30:04"), "must carry a UTC offset"),
    (LINE.replace("0.69", "NaN"), "NaN is not valid JSON"),
])
def test_bad_lines_are_rejected_with_a_clear_message(line, message):
    with pytest.raises(ev.EventError) as err:
        ev.parse_line(line)
    assert message in str(err.value)


def test_nested_and_enumerated_fields_are_checked():
    good = ONE_OF_EACH[3].to_dict()
    with pytest.raises(ev.EventError, match=r"epoch_end.metrics.dice must be a finite number"):
        ev.from_dict(good | {"metrics": {"dice": "high"}})
    with pytest.raises(ev.EventError, match="must be an object"):
        ev.from_dict(good | {"metrics": [0.5]})
    with pytest.raises(ev.EventError, match="job_started.split.val must be an integer"):
        ev.from_dict(ONE_OF_EACH[0].to_dict() | {"split": {"train": 5, "val": 0.5}})
    with pytest.raises(ev.EventError, match="log.level must be one of"):
        ev.from_dict(ONE_OF_EACH[6].to_dict() | {"level": "fatal"})
    with pytest.raises(ev.EventError, match="task must be one of"):
        ev.JobStarted(job="j", task="detection", model="m", dataset={}, split={}, device="cpu")


def test_builders_refuse_what_readers_would_refuse():
    with pytest.raises(ev.EventError, match="batch.loss must be a finite number"):
        ev.Batch(job="j", epoch=1, batch=1, batches=1, loss="low", images_per_s=None)
    with pytest.raises(ev.EventError, match="lr must be a finite number"):
        ev.EpochEnd(job="j", epoch=1, epochs=1, train_loss=1, val_loss=1, metrics={}, lr=float("nan"), eta_s=1)


# -- trainer/EVENTS.md ------------------------------------------------------------------

DOC = Path(trainer.__file__).with_name("EVENTS.md").read_text(encoding="utf-8")


def _sections() -> dict[str, str]:
    parts = re.split(r"^### `(\w+)`\s*$", DOC, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_doc_covers_every_type_and_field():
    sections = _sections()
    assert sorted(sections) == sorted(ev.EVENT_TYPES)
    for name, cls in ev.EVENT_TYPES.items():
        for field in (f.name for f in dataclasses.fields(cls)):
            if field not in ("job", "time"):
                assert f"| `{field}`" in sections[name], f"{name}.{field} undocumented"


def test_doc_examples_parse_as_their_type():
    sections = _sections()
    for name, text in sections.items():
        examples = re.findall(r"```json\n(.*?)\n```", text, flags=re.S)
        assert examples, f"no example for {name}"
        for line in examples:
            assert "\n" not in line
            assert ev.parse_line(line).type == name
