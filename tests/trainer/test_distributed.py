"""The same job under ``torchrun --nproc_per_node 2`` (DistributedDataParallel, gloo on the CPU)."""

from __future__ import annotations

import json
import time

import pytest

from tests.helpers.trainer_jobs import TINY_CLASSIFIER, events_of, medview_env, run_module, write_job
from trainer import events as ev


@pytest.mark.slow
def test_two_process_gloo_run_finishes(demo, tmp_path, isolated):
    job = write_job(tmp_path / "run", TINY_CLASSIFIER, dataset=str(demo / "labels.csv"), epochs=2, batch_size=8)
    t0 = time.monotonic()
    proc = run_module("torch.distributed.run", "--standalone", "--nproc_per_node", 2, "-m", "trainer", job,
                      timeout=240, env=medview_env({"OMP_NUM_THREADS": "1"}))
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = events_of(proc.stdout)  # only rank 0 speaks: every line is one event, none doubled
    kinds = [e.type for e in events]
    assert kinds.count("job_started") == 1 and kinds.count("finished") == 1 and kinds.count("epoch_end") == 2
    started = next(e for e in events if isinstance(e, ev.JobStarted))
    assert started.device == "cpu ×2"
    batches = [e for e in events if isinstance(e, ev.Batch)]
    # global batch 8 = 2 processes × 4: each process takes half of the 16 training images per epoch
    assert batches[0].batches == 2
    assert (tmp_path / "run" / "model" / "model.json").exists()
    assert json.loads((tmp_path / "run" / "state.json").read_text())["state"] == "finished"
    assert len((tmp_path / "run" / "events.jsonl").read_text().splitlines()) == len(events)
    print(f"2-process gloo run: {elapsed:.1f} s")
