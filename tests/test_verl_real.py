"""verl 0.9.1's own reward loading and reward loop, driven with evaluators/compat/verl.py.

verl pins transformers<5.11, so it lives in .venv-verl (scripts/setup_verl_env.sh, created here on
first use). A driver run with that venv's python composes verl's own ``ppo_trainer`` Hydra config
with the 0.9.x keys, builds verl's ``RewardLoopWorker`` (``load_reward_manager`` -> the ``naive``
manager with our function from ``get_custom_reward_fn``) and assembles the token-level reward
tensor as ``RewardLoopManager.compute_rm_score`` does.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ring_serve.reward.spawn import reward_server
from ring_serve.tiny_model import train_tokenizer

REPO = Path(__file__).resolve().parents[1]
ADAPTER = REPO / "evaluators" / "compat" / "verl.py"

ROWS = [  # data_source, response, ground truth, expected reward
    ("lighteval/MATH-500", "<think>3 of 4</think> so \\boxed{\\frac{3}{4}}", "0.75", 1.0),
    ("Idavidrein/gpqa", "Comparing the options... Answer: C", "C", 1.0),
    ("aime_2024", "\\boxed{5}", "4", 0.0),
]

DRIVER = r'''
import json, sys
from pathlib import Path

import numpy as np
import torch
import verl
from hydra import compose, initialize_config_dir
from verl import DataProto
from verl.experimental.reward_loop.reward_loop import RewardLoopWorker
from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls
from verl.trainer.ppo.reward import get_custom_reward_fn, resolve_reward_manager_cls
from verl.utils.reward_score import default_compute_score


def batch(tok, rows):
    prompts = [tok.encode("Question %d?" % i, add_special_tokens=False) for i in range(len(rows))]
    responses = [tok.encode(r[1], add_special_tokens=False) for r in rows]
    P, R, pad = max(map(len, prompts)), max(map(len, responses)) + 3, tok.pad_token_id
    prompt_ids = torch.tensor([[pad] * (P - len(p)) + p for p in prompts])  # left-padded prompts
    response_ids = torch.tensor([r + [pad] * (R - len(r)) for r in responses])  # right-padded responses
    mask = torch.tensor([[0] * (P - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (R - len(r))
                         for p, r in zip(prompts, responses)])
    data = DataProto.from_dict(
        tensors={"prompts": prompt_ids, "responses": response_ids, "attention_mask": mask,
                 "input_ids": torch.cat([prompt_ids, response_ids], dim=1)},
        non_tensors={"data_source": np.array([r[0] for r in rows], dtype=object),
                     "reward_model": np.array([{"ground_truth": r[2], "style": "rule"} for r in rows], dtype=object),
                     "extra_info": np.array([{"index": i} for i in range(len(rows))], dtype=object)})
    return data, [len(r) for r in responses]


def case(overrides, run, rows):
    with initialize_config_dir(str(Path(verl.__file__).parent / "trainer" / "config"), version_base=None):
        cfg = compose("ppo_trainer", overrides=overrides)
    out = {"verl": verl.__version__, "custom_fn": get_custom_reward_fn(cfg) is not None,
           "manager_name": cfg.reward.reward_manager.name}
    if not run:
        return out
    worker = RewardLoopWorker(cfg)  # tokenizer from actor_rollout_ref.model.path, load_reward_manager
    data, lengths = batch(worker.input_tokenizer, rows)
    # as RewardLoopManager.compute_rm_score does, less the Ray actors
    results = worker.loop.run_until_complete(worker.compute_score_batch(data))
    rm_scores = resolve_reward_manager_cls(cfg).assemble_rm_scores(data, [r["reward_score"] for r in results])
    out.update(manager=type(worker.reward_manager).__name__, is_async=worker.reward_manager.is_async_reward_score,
               rm_scores=rm_scores.tolist(), response_lengths=lengths,
               extra=[{k: (v if isinstance(v, (str, float, int, bool)) else str(v))
                       for k, v in r["reward_extra_info"].items()} for r in results])
    return out


args = json.loads(sys.argv[1])
outs = {name: case(c["overrides"], c["run"], args["rows"]) for name, c in args["cases"].items()}
try:
    get_reward_manager_cls("batch")
    outs["batch_registered"] = True
except ValueError:
    outs["batch_registered"] = False
# what verl grades with when our function is not loaded
outs["default_math"] = default_compute_score("HuggingFaceH4/MATH-500", args["rows"][0][1], args["rows"][0][2])
try:
    default_compute_score(*args["rows"][1][:3])
    outs["default_gpqa"] = "graded"
except NotImplementedError:
    outs["default_gpqa"] = "NotImplementedError"
print("RESULT " + json.dumps(outs))
'''


@pytest.fixture(scope="session")
def verl_python() -> str:
    """.venv-verl's python; the setup script creates the venv on a fresh machine (under a minute)."""
    env = dict(os.environ)
    if sys.prefix != sys.base_prefix:  # reuse the venv running the tests for torch, numpy, ray ...
        env["RING_BASE_VENV"] = sys.prefix
    subprocess.run(["bash", str(REPO / "scripts" / "setup_verl_env.sh")], check=True, env=env, timeout=900)
    return str(REPO / ".venv-verl" / "bin" / "python")


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    """Our tiny byte-level BPE saved as a Hugging Face tokenizer directory (what verl loads)."""
    path = tmp_path_factory.mktemp("verl-tokenizer")
    train_tokenizer(seed=0, vocab_size=512).save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>", "bos_token": None, "unk_token": None}))
    return path


def _keys(tokenizer_dir: Path, name: str, *extra: str) -> list[str]:
    """verl 0.9.x overrides, as on the ``python -m verl.trainer.main_ppo`` command line."""
    return [f"reward.custom_reward_function.path={ADAPTER}", f"reward.custom_reward_function.name={name}",
            f"actor_rollout_ref.model.path={tokenizer_dir}", "reward.num_workers=1", *extra]


def _service_items(base_url: str) -> float:
    text = httpx.get(base_url + "/metrics", timeout=30).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("ring_reward_items_total{"))


@pytest.fixture(scope="module")
def verl_out(verl_python, tokenizer_dir) -> dict:
    """All cases in one driver run (importing verl and torch takes most of its ~10 s)."""
    kwargs = "+reward.custom_reward_function.reward_kwargs"
    with reward_server(["--workers", "2"]) as server:
        cases = {
            "sync": _keys(tokenizer_dir, "compute_score"),
            "async": _keys(tokenizer_dir, "compute_score_async", f"{kwargs}.return_dict=true"),
            "service": _keys(tokenizer_dir, "compute_score", f"{kwargs}.url={server.base_url}",
                             f"{kwargs}.return_dict=true"),
            # the keys older verl read (and the old docs named); 0.9.1 has no migration for them in main_ppo
            "legacy": [f"custom_reward_function.path={ADAPTER}", "custom_reward_function.name=compute_score",
                       "reward_model.reward_manager=batch"],
        }
        payload = {"rows": [r[:3] for r in ROWS],
                   "cases": {k: {"overrides": v, "run": k != "legacy"} for k, v in cases.items()}}
        env = {**os.environ, "PYTHONPATH": str(REPO), "HYDRA_FULL_ERROR": "1", "TOKENIZERS_PARALLELISM": "false"}
        env.pop("RING_REWARD_URL", None)
        proc = subprocess.run([verl_python, "-c", DRIVER, json.dumps(payload)], capture_output=True, text=True,
                              env=env, cwd=REPO, timeout=600)
        assert proc.returncode == 0, proc.stderr[-4000:]
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
        out = json.loads(line[len("RESULT "):])
        out["service_items"] = _service_items(server.base_url)
    return out


def _check_rewards(out: dict) -> None:
    assert out["verl"] == "0.9.1" and out["custom_fn"] and out["manager"] == "NaiveRewardManager"
    for row, n, want in zip(out["rm_scores"], out["response_lengths"], [r[3] for r in ROWS], strict=True):
        # verl's token-level reward: the score at the last response token, zeros elsewhere
        assert row[n - 1] == want, (row, n)
        assert sum(abs(x) for i, x in enumerate(row) if i != n - 1) == 0.0


@pytest.mark.slow
def test_naive_manager_with_compute_score(verl_out):
    out = verl_out["sync"]
    assert out["manager_name"] == "naive" and out["is_async"] is False
    _check_rewards(out)
    assert [e["acc"] for e in out["extra"]] == [r[3] for r in ROWS]  # verl's default extra info


@pytest.mark.slow
def test_reward_loop_async_form_and_return_dict(verl_out):
    out = verl_out["async"]
    assert out["is_async"] is True  # verl awaits it instead of using its thread pool
    _check_rewards(out)
    assert [e["pred"] for e in out["extra"]] == ["\\frac{3}{4}", "C", "5"]
    assert [e["acc"] for e in out["extra"]] == [True, True, False]


@pytest.mark.slow
def test_grading_through_the_reward_service(verl_out):
    out = verl_out["service"]
    _check_rewards(out)
    assert verl_out["service_items"] == len(ROWS)  # graded by the service, not in verl's process
    assert out["extra"] == verl_out["async"]["extra"]  # same acc / pred / reason as in-process


@pytest.mark.slow
def test_legacy_keys_are_ignored_by_verl_0_9(verl_out):
    """Why docs/rewards.md changed: 0.9.1 drops the old top-level keys without a word."""
    out = verl_out["legacy"]
    assert out["custom_fn"] is False  # verl falls back to its own grader, which gets these wrong
    assert verl_out["default_math"] == 0.0 and verl_out["default_gpqa"] == "NotImplementedError"
    assert out["manager_name"] == "naive" and verl_out["batch_registered"] is False
