"""SFT -> checkpoint selection -> RL on the tiny model, all real (torch model, math verifier, store).

Kept small: a few SFT steps and two RL steps of 4 prompts x 2 samples with the torch sampler
(the vLLM sampler is exercised by `ring train rl`; tests must not start extra vLLM engines).
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from ring_serve.tiny_model import build_tiny_model
from tests.conftest import scratch_ring_home
from trainer import metric_names
from trainer.batching import pad_batch
from trainer.data import KINDS, VERIFIERS, chat_prompt, make_tasks, split
from trainer.checkpoint_select import load_checkpoints, select_checkpoint
from trainer.tokenizer import load_tokenizer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with scratch_ring_home(tmp_path_factory) as (home, _):
        yield home, build_tiny_model(home / "tiny", seed=0)


def test_synthetic_tasks_are_disjoint_and_gradable(env):
    from evaluators import get_verifier

    train, val = split(50, 20, seed=3, kinds=KINDS)
    assert not {t.question for t in train} & {t.question for t in val}
    v = get_verifier("math")
    # the teacher trace must earn reward 1 and a wrong answer 0 (code and science kinds, graded by
    # their own verifiers: tests/test_trainer_tasks.py)
    math_kinds = tuple(k for k in KINDS if VERIFIERS[k] == "math")
    for t in split(50, 20, seed=3, kinds=math_kinds)[0][:10]:
        assert v.grade(t.trace, t.answer).correct
        assert not v.grade(t.trace.replace(f"{{{t.answer}}}", f"{{{int(t.answer) + 1}}}"), t.answer).correct
    with pytest.raises(ValueError):
        make_tasks(5, 0, kinds=("nope",))
    with pytest.raises(ValueError):
        make_tasks(500, 0, kinds=("add",), max_operand=3)  # only 16 distinct problems exist


def test_pad_batch_masks_prompt_tokens(env):
    _, model = env
    tok = load_tokenizer(model)
    p = tok.encode(chat_prompt("What is 1 + 2?"))
    b = pad_batch([p, p[:-2]], [[5, 6, tok.eos_id], [7]], tok.pad_id)
    assert b.loss_mask.sum(-1).tolist() == [3, 1]
    # the first masked position predicts the first response token
    j = int(b.loss_mask[0].nonzero()[0])
    assert b.input_ids[0, j + 1].item() == 5 and j + 1 == len(p)


def test_sft_then_select_then_rl(env, tmp_path):
    home, model = env
    from ring_core.store import db
    from ring_core.store.models import TrainingMetric, TrainingRun
    from trainer.config import RLConfig, SFTConfig
    from trainer.rl import run_rl
    from trainer.sft import run_sft

    out = tmp_path / "sft"
    recs = run_sft(SFTConfig(model_dir=str(model), out_dir=str(out), steps=30, batch_size=8, eval_every=15,
                             n_train=100, n_val=8, max_new_tokens=24), progress=False)
    assert [r["step"] for r in recs] == [15, 30]
    assert recs[-1]["val_loss"] < 2.0  # from ~6.9 (uniform over 1024 tokens): it learned the format
    for r in recs:
        assert 0 <= r["val_acc"] <= 1 and r["entropy"] > 0
    ckpts = load_checkpoints(out)
    sel = select_checkpoint(ckpts, window=(recs[0]["entropy"] - 1e-6, recs[0]["entropy"] + 1e-6))
    assert sel.pick["step"] == 15
    assert select_checkpoint(ckpts, by="accuracy").pick["val_acc"] == max(r["val_acc"] for r in recs)

    rl_out = tmp_path / "rl"
    cfg = RLConfig(policy_dir=sel.pick["path"], out_dir=str(rl_out), steps=2, prompts_per_step=4, group_size=2,
                   max_new_tokens=24, budget=60, sampler="torch", save_every=1)
    hist = run_rl(cfg, progress=False)
    assert [h["step"] for h in hist] == [1, 2]
    for h in hist:
        # C3PO: the step stops at the first response that makes the count reach the budget
        assert h["tokens_in_step"] >= 60 or h["responses_in_step"] == 8
        assert h["tokens_in_step"] < 60 + 24 + 1
        assert 0 <= h["reward_mean"] <= 1 and h["grad_norm"] >= 0
    with db.session() as s:
        runs = {r.algo: r for r in s.query(TrainingRun).all()}
        assert {"sft", "c3po"} <= set(runs)
        names = {m.name for m in s.query(TrainingMetric).filter_by(training_run_id=runs["c3po"].id)}
        assert {"reward_mean", "entropy", "grad_norm", "tokens_in_step", "step_time_s", "kl",
                "tokens_per_s", "response_len_max", "weight_sync_s"} <= names
        # exactly the declared names (trainer.metric_names), which the dashboard orders by
        assert names == set(metric_names.RL_METRICS) - {metric_names.SAMPLER_LOGP_GAP}  # torch sampler: no logp
        sft_names = {m.name for m in s.query(TrainingMetric).filter_by(training_run_id=runs["sft"].id)}
        assert sft_names == set(metric_names.SFT_METRICS)

    # resume: continues at step 3 from the newest checkpoint with its optimizer state
    cfg.steps, cfg.resume = 3, True
    hist = run_rl(cfg, progress=False)
    assert [h["step"] for h in hist] == [3]
    assert (rl_out / "step_000003" / "trainer_state.pt").exists()
    assert torch.load(rl_out / "step_000003" / "trainer_state.pt", weights_only=False)["step"] == 3


def test_cli_select_reports_both_rankings_and_rejects_bad_input(tmp_path):
    for step, ent, acc in [(10, 0.9, 0.5), (20, 0.4, 0.1), (30, 0.1, 0.7)]:
        d = tmp_path / f"step_{step:06d}"
        d.mkdir()
        (d / "metrics.json").write_text(json.dumps({"step": step, "entropy": ent, "val_acc": acc}))
    ring = [sys.executable, "-m", "ring_serve.cli", "train", "select"]
    r = subprocess.run(ring + [str(tmp_path), "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["pick"]["step"] == 20  # in the 0.3-0.5 window
    assert got["by_accuracy"][0].endswith("step_000030")
    r = subprocess.run(ring + [str(tmp_path), "--lo", "0.6", "--hi", "0.2"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "lo <= hi" in r.stderr
    r = subprocess.run(ring + [str(tmp_path / "missing")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "error" in r.stderr


def test_rl_grpo_trains_on_all_and_c3po_defer_carries_leftovers(env, tmp_path):
    _, model = env
    from trainer.config import RLConfig
    from trainer.rl import run_rl

    common = dict(policy_dir=str(model), prompts_per_step=2, group_size=2, max_new_tokens=12, sampler="torch",
                  save_every=100, log_db=False)
    hist = run_rl(RLConfig(out_dir=str(tmp_path / "g"), mode="grpo", steps=1, **common), progress=False)
    assert hist[0]["responses_in_step"] == 4 and hist[0]["deferred"] == 0
    hist = run_rl(RLConfig(out_dir=str(tmp_path / "d"), mode="c3po", budget=10, defer=True, steps=2, **common),
                  progress=False)
    # 4 responses of up to 12 tokens against a budget of 10: at most 2 fit, the rest wait
    assert hist[0]["responses_in_step"] < 4 and hist[0]["deferred"] == 4 - hist[0]["responses_in_step"]
    assert hist[1]["deferred"] >= hist[0]["deferred"]  # leftovers are queued first, new ones join behind
    assert hist[1]["deferred"] <= 4  # max_staleness 1: step 1's left-overs are not carried to step 3
    with pytest.raises(ValueError):
        RLConfig(out_dir=str(tmp_path / "x"), mode="c3po", budget=0, **common)


def test_cpu_vllm_sampler_refuses_a_step_whose_prefill_it_would_split():
    """vLLM's CPU runner crashes when a seeded request's prefill is split over engine steps, so the
    sampler checks the step's prompt tokens up front (no engine is started here: the check comes first)."""
    from trainer.rollout import VllmSampler

    sampler = VllmSampler.__new__(VllmSampler)
    sampler.prefill_limit = 1000
    with pytest.raises(ValueError, match="prefill tokens"):
        sampler.sample([[5] * 70] * 8, 2, 16, 1.0)  # 8 x 2 x 70 = 1120 > 1000


def test_max_staleness_zero_is_todays_synchronous_trainer(env, tmp_path):
    """eta = 0 without --defer changes nothing (same rewards and losses); with --defer it keeps no left-over."""
    _, model = env
    from trainer.config import RLConfig
    from trainer.rl import run_rl

    common = dict(policy_dir=str(model), prompts_per_step=2, group_size=2, max_new_tokens=12, sampler="torch",
                  save_every=100, log_db=False, steps=2, seed=3, budget=10)
    base = run_rl(RLConfig(out_dir=str(tmp_path / "eta1"), max_staleness=1, **common), progress=False)
    eta0 = run_rl(RLConfig(out_dir=str(tmp_path / "eta0"), max_staleness=0, **common), progress=False)
    for a, b in zip(base, eta0):
        assert a["reward_mean"] == b["reward_mean"] and a["loss"] == pytest.approx(b["loss"], abs=1e-5)
    defer0 = run_rl(RLConfig(out_dir=str(tmp_path / "d0"), max_staleness=0, defer=True, **common), progress=False)
    assert all(h["deferred"] == 0 for h in defer0)
    with pytest.raises(ValueError, match="max_staleness"):
        RLConfig(out_dir=str(tmp_path / "x"), max_staleness=-1, **common)
