"""Trainer rewards in-process vs a real `ring reward serve` subprocess, and a code-science RL run.

The RL runs use a scripted tiny model that always answers "answer: A": its rewards are known
(1 exactly on science questions whose answer is A, 0 on code and the other science questions),
so the runs check that rewards reach the RL metrics whichever way they are graded.
"""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ring_serve.cli import app
from ring_serve.reward.spawn import reward_server
from ring_serve.tiny_model import build_tiny_model
from tests.conftest import scratch_ring_home
from tests.test_trainer_tasks import wrong_answer
from trainer.data import KINDS, make_tasks, split
from trainer.rewards import rewards

KEY = "trainer-reward-key"
SCRIPT = "answer: A"  # distinct tokens, as a scripted model needs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A keyed reward server, its key in $RING_API_KEY (where the trainer reads it), a scratch RING_HOME."""
    with scratch_ring_home(tmp_path_factory) as (home, mp), \
            reward_server(["--workers", "2"], api_key=KEY) as server:
        mp.setenv("RING_API_KEY", KEY)
        yield home, server


@pytest.fixture(scope="module")
def tiny(env):
    return build_tiny_model(env[0] / "tiny", seed=0)


@pytest.fixture(scope="module")
def scripted(env):
    return build_tiny_model(env[0] / "scripted", script=SCRIPT)


def _mixed_batch():
    """Every kind, each with its teacher trace, a wrong answer and an answer-less response."""
    tasks = make_tasks(4 * len(KINDS), seed=11, kinds=KINDS, max_operand=9)
    texts = [t.trace for t in tasks] + [wrong_answer(t) for t in tasks] + ["I am not sure."] * len(tasks)
    expected = [1.0] * len(tasks) + [0.0] * (2 * len(tasks))
    return texts, tasks * 3, expected


def test_rewards_in_process_and_served_agree(env):
    _, server = env
    texts, tasks, expected = _mixed_batch()
    assert {t.verifier for t in tasks} == {"math", "code", "gpqa"}
    assert rewards(texts, tasks) == expected
    assert rewards(texts, tasks, server.base_url) == expected
    with pytest.raises(ValueError):
        rewards(texts[:2], tasks[:1])


def test_served_rewards_need_the_key(env, monkeypatch):
    from evaluators.compat.reward_client import RewardServiceError

    _, server = env
    monkeypatch.delenv("RING_API_KEY")
    with pytest.raises(RewardServiceError, match="401"):
        rewards(["Answer: A"], make_tasks(1, 0, kinds=("science",)), server.base_url)


def test_traces_fit_the_tokenizer_and_the_generation_limit(tiny):
    from trainer.tokenizer import load_tokenizer

    tok = load_tokenizer(tiny)
    train, _ = split(200, 20, seed=0, kinds=("code", "science"), max_operand=20)
    for t in train:
        ids = tok.encode(t.trace)
        assert tok.decode(ids) == t.trace and len(ids) + 1 <= 64  # + eos


def test_rl_code_science_with_in_process_and_served_rewards(env, scripted, tmp_path, capsys):
    from ring_core.store import db
    from ring_core.store.models import TrainingMetric, TrainingRun
    from trainer import torchrun
    from trainer.config import RLConfig
    from trainer.rl import run_rl

    _, server = env
    common = dict(policy_dir=str(scripted), stage="code-science", steps=2, prompts_per_step=12, group_size=2,
                  sampler="torch", seed=0, save_every=100)
    cfg = RLConfig(out_dir=str(tmp_path / "local"), **common)
    assert cfg.max_new_tokens == 64  # the stage's default fits code traces
    local = run_rl(cfg, progress=False)
    assert [h["step"] for h in local] == [1, 2]
    # the scripted answer is right on the science questions whose answer is A, and only there;
    # with seed 0 the first step draws some of them (2 of 24 responses)
    assert 0 < local[0]["reward_mean"] < 1
    for h in local:
        assert h["updated"] == 0.0  # identical answers in a group: zero advantages, no step
        assert h["response_len_max"] <= 64
    with db.session() as s:
        run = s.query(TrainingRun).filter_by(name="rl-code-science-local").one()
        names = {m.name for m in s.query(TrainingMetric).filter_by(training_run_id=run.id)}
        assert {"reward_mean", "accuracy", "entropy", "kl", "tokens_in_step", "step_time_s"} <= names

    # the torchrun entry (one plain process) with the reward service: same seed, same first step
    assert torchrun.main(["rl", str(scripted), "--out", str(tmp_path / "served"), "--stage", "code-science",
                          "--steps", "1", "--prompts-per-step", "12", "--group-size", "2", "--sampler", "torch",
                          "--reward-url", server.base_url, "--no-db"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["step"] == 1 and last["reward_mean"] == local[0]["reward_mean"]

    # and `ring train rl --reward-url` (the real Typer app, in this process)
    r = CliRunner().invoke(app, ["train", "rl", str(scripted), "--out", str(tmp_path / "cli"), "--stage",
                                 "code-science", "--steps", "1", "--prompts-per-step", "12", "--group-size", "2",
                                 "--sampler", "torch", "--reward-url", server.base_url, "--micro-tokens", "64"])
    assert r.exit_code == 0, r.output[-2000:]
    assert f"1 steps; last reward {local[0]['reward_mean']:.3f}" in r.output
    r = CliRunner().invoke(app, ["train", "rl", str(scripted), "--out", str(tmp_path / "bad"), "--micro-tokens", "0"])
    assert r.exit_code == 2 and "micro_tokens must be positive" in r.output


def test_sft_validation_grades_each_task_with_its_verifier(tiny, scripted, tmp_path):
    from trainer.tokenizer import load_tokenizer
    from trainer.modeling import BailingMoeForCausalLM
    from trainer.config import SFTConfig
    from trainer.sft import evaluate, run_sft

    tasks = make_tasks(8, 3, kinds=("science",)) + make_tasks(4, 3, kinds=("code",))
    m = evaluate(BailingMoeForCausalLM.from_pretrained(scripted), load_tokenizer(scripted), tasks,
                 max_new_tokens=8)
    # "answer: A" is right on the A questions only: per-task verifiers, not the math one for all
    assert 0 < m["val_acc"] == sum(t.answer == "A" for t in tasks) / len(tasks)

    recs = run_sft(SFTConfig(model_dir=str(tiny), out_dir=str(tmp_path / "sft"),
                             steps=2, batch_size=4, eval_every=2, n_train=16, n_val=4, kinds=("code", "science"),
                             log_db=False), progress=False)
    assert [r["step"] for r in recs] == [2] and 0 <= recs[0]["val_acc"] <= 1 and recs[0]["entropy"] > 0
