"""`ring train rl --async` end to end on a real vLLM rollout server (RL dev mode, one per session):
staleness bounded by eta, the weight sync checked by the sampler log-prob gap, resume after kill -9."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trainer import metric_names as names
from trainer.config import RLConfig

pytestmark = pytest.mark.vllm


def _cfg(server, out: Path, **kw) -> RLConfig:
    base = dict(policy_dir=str(server.model_dir), out_dir=str(out), async_rollouts=True,
                rollout_urls=(server.base_url,), steps=3, prompts_per_step=4, group_size=4, budget=256,
                log_db=False, save_every=100, rollout_concurrency=8, rollout_timeout_s=600)
    return RLConfig(**{**base, **kw})


def test_eta0_is_synchronous_generation(rollout_server, tmp_path):
    from trainer.rl import run_rl

    hist = run_rl(_cfg(rollout_server, tmp_path / "eta0", max_staleness=0), progress=False)
    assert [h["step"] for h in hist] == [1, 2, 3]
    assert all(h[names.STALENESS_MAX] == 0 for h in hist)  # every token sampled by the trained weights
    gaps = [h[names.SAMPLER_LOGP_GAP] for h in hist if names.SAMPLER_LOGP_GAP in h]
    assert len(gaps) == 3 and max(gaps) < 1e-3  # the pushed weights are the trained ones, every step
    assert all(h[names.RESPONSES_IN_STEP] > 0 and h[names.TOKENS_IN_STEP] <= 256 + 64 for h in hist)


def test_eta1_overlaps_rollouts_with_training(rollout_server, tmp_path):
    from trainer.rl import run_rl

    hist = run_rl(_cfg(rollout_server, tmp_path / "eta1", max_staleness=1, steps=4), progress=False)
    assert max(h[names.STALENESS_MAX] for h in hist) <= 2
    assert any(h[names.STALENESS_MEAN] > 0 for h in hist)  # some tokens were sampled while training ran
    trained = [json.loads(line) for line in (tmp_path / "eta1" / "trained_prompts.jsonl").read_text().splitlines()]
    positions = [p for rec in trained for p in rec["positions"]]
    assert len(positions) == len(set(positions)) == 16


def test_kill_and_resume_neither_loses_nor_repeats_prompts(rollout_server, tmp_path):
    out = tmp_path / "killed"
    args = [sys.executable, "-m", "trainer.torchrun", "rl", str(rollout_server.model_dir), "--out", str(out),
            "--async", "--rollout-url", rollout_server.base_url, "--steps", "6", "--prompts-per-step", "4",
            "--group-size", "4", "--budget", "256", "--save-every", "2", "--no-db", "--max-staleness", "1"]
    log = out / "trained_prompts.jsonl"
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and len(log.read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
    os.killpg(proc.pid, signal.SIGKILL)  # mid-run: after step 3, with step 2's checkpoint on disk
    proc.wait(30)
    assert (out / "step_000002" / "trainer_state.pt").exists()
    done = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
    positions = [p for r in records for p in r["positions"]]
    assert len(positions) == len(set(positions)) == 24  # none trained twice
    assert max(positions) < 24 + 16  # and none skipped beyond what was in flight


def test_dead_rollout_server_fails_clearly(tmp_path, rollout_server):
    from ring_core.service import free_port
    from trainer.rl import run_rl
    from trainer.rollout_client import RolloutError

    cfg = _cfg(rollout_server, tmp_path / "dead", rollout_urls=(f"http://127.0.0.1:{free_port()}",),
               rollout_timeout_s=20, steps=1)
    t0 = time.monotonic()
    with pytest.raises(RolloutError, match="127.0.0.1"):
        run_rl(cfg, progress=False)
    assert time.monotonic() - t0 < 60
