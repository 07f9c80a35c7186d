"""TRL's own GRPOTrainer, a few steps on CPU, rewarded by ``evaluators.compat.trl.reward_func``.

The policy is a tiny Qwen2 built offline whose weights make it say one digit over and over
("777"), so the rewards are known in advance: rows whose ``solution`` is 777 score 1, the others 0.
"""
from __future__ import annotations

import math

import datasets
import pytest
import torch
import transformers
import trl  # the dev extra; a missing install fails here rather than skipping

from evaluators.compat.trl import reward_func
from ring_serve.reward.spawn import reward_server
from ring_serve.tiny_model import train_tokenizer

COMPLETION_TOKENS = 3
SOLUTIONS = ["777", "5", "777", "12"]  # two prompts per step, two steps
EXPECTED = [1.0, 0.0, 1.0, 0.0]


def _tokenizer(tmp_path):
    """Our tiny byte-level BPE (digits split one by one) as a transformers fast tokenizer."""
    tok = train_tokenizer(seed=0, vocab_size=512)
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    return transformers.PreTrainedTokenizerFast(
        tokenizer_file=str(path), eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None)


def _parrot(tokenizer, token: str):
    """A 1-layer Qwen2 whose output is ``token`` whatever the input (residual stream held constant)."""
    cfg = transformers.Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                   num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                   max_position_embeddings=128, tie_word_embeddings=False,
                                   pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    model = transformers.Qwen2ForCausalLM(cfg)
    with torch.no_grad():
        v = torch.randn(cfg.hidden_size, generator=torch.Generator().manual_seed(0))
        model.model.embed_tokens.weight[:] = v  # every token embeds to the same vector
        for layer in model.model.layers:  # attention and MLP add nothing to the residual stream
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.lm_head.weight.zero_()
        model.lm_head.weight[tokenizer.convert_tokens_to_ids(token)] = 50 * v / v.norm()
    return model


class Recorder:
    """Wraps a reward function and keeps what TRL passed in and got back (a real call, not a stand-in)."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []
        self.__name__ = fn.__name__

    def __call__(self, **kwargs):
        rewards = self.fn(**kwargs)
        self.calls.append((list(kwargs["completions"]), list(kwargs["solution"]), rewards))
        return rewards


def _train(tmp_path, fn) -> tuple[trl.GRPOTrainer, Recorder]:
    tokenizer = _tokenizer(tmp_path)
    rows = {"prompt": [f"Question {i}: what is the number?" for i in range(len(SOLUTIONS))],
            "solution": SOLUTIONS}
    recorder = Recorder(fn)
    args = trl.GRPOConfig(
        output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=4, num_generations=2,
        max_completion_length=COMPLETION_TOKENS, learning_rate=1e-5, logging_steps=1, save_strategy="no",
        report_to="none", use_vllm=False, use_cpu=True, bf16=False, seed=0, shuffle_dataset=False,
        dataloader_num_workers=0)
    trainer = trl.GRPOTrainer(model=_parrot(tokenizer, "7"), reward_funcs=[recorder], args=args,
                              train_dataset=datasets.Dataset.from_dict(rows), processing_class=tokenizer)
    trainer.train()
    return trainer, recorder


def _check(trainer, recorder) -> None:
    assert trainer.state.global_step == 2
    # TRL handed us the `solution` column (no reference_key given) and the parrot's completions
    graded = [(c, s, r) for comps, sols, rs in recorder.calls for c, s, r in zip(comps, sols, rs)]
    assert graded and all(c == "7" * COMPLETION_TOKENS for c, _, _ in graded)
    assert all(r == (1.0 if s == "777" else 0.0) for _, s, r in graded)
    assert {s for _, s, _ in graded} == set(SOLUTIONS)
    name = recorder.__name__
    logs = [h for h in trainer.state.log_history if f"rewards/{name}/mean" in h]
    assert len(logs) == 2, trainer.state.log_history
    # each step's logged mean is the mean of what our function returned for that step's batch
    for log, (_, _, rewards) in zip(logs, recorder.calls):
        assert math.isclose(log[f"rewards/{name}/mean"], sum(rewards) / len(rewards))
        assert math.isclose(log["reward"], sum(rewards) / len(rewards))
    assert sorted(log[f"rewards/{name}/mean"] for log in logs) == [0.5, 0.5]


@pytest.mark.slow
def test_grpo_trainer_in_process_rewards(tmp_path):
    trainer, recorder = _train(tmp_path, reward_func("math"))
    _check(trainer, recorder)


@pytest.mark.slow
def test_grpo_trainer_rewards_through_the_service(tmp_path):
    with reward_server(["--workers", "2"]) as server:
        trainer, recorder = _train(tmp_path, reward_func("math", url=server.base_url))
    _check(trainer, recorder)
