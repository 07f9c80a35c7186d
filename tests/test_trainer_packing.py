"""Packed update (trainer.packing + trainer.update.policy_update): prefix-shared rows give exactly the
per-sequence log-probs, every sample lands in one micro-batch, the forward's cells follow the
tokens, and gradient accumulation over micro-batches equals one big batch for every loss mode."""
from __future__ import annotations

import random

import pytest
import torch

from ring_serve.tiny_model import build_tiny_model
from trainer.losses import LossConfig
from trainer.modeling import BailingMoeForCausalLM
from trainer.packing import plan, response_logprobs
from trainer.update import Sample, policy_update


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("pack") / "m")


def _groups(seed: int, n_groups: int = 5, max_group: int = 6, max_len: int = 40):
    """Samples in groups sharing a prompt, shuffled (as deferred + fresh samples can be)."""
    rng = random.Random(seed)
    prompts, responses = [], []
    for _ in range(n_groups):
        p = [rng.randrange(5, 400) for _ in range(rng.randint(3, 12))]
        for _ in range(rng.randint(1, max_group)):
            prompts.append(p)
            responses.append([rng.randrange(5, 400) for _ in range(rng.randint(1, max_len))])
    order = list(range(len(prompts)))
    rng.shuffle(order)
    return [prompts[i] for i in order], [responses[i] for i in order]


@torch.no_grad()
def _one_by_one(model, prompts, responses):
    out = []
    for p, r in zip(prompts, responses):
        logp = torch.log_softmax(model(torch.tensor([p + r])).logits[0, :-1], -1)
        out.append(logp[len(p) - 1:].gather(-1, torch.tensor(r)[:, None]).squeeze(-1))
    return out


@pytest.mark.parametrize("row_tokens,micro_tokens", [(256, 4096), (64, 128), (1, 1)])
def test_packed_logprobs_equal_one_sequence_at_a_time(model_dir, row_tokens, micro_tokens):
    torch.set_num_threads(1)
    model = BailingMoeForCausalLM.from_pretrained(model_dir).eval()
    prompts, responses = _groups(0)
    want = _one_by_one(model, prompts, responses)
    got = response_logprobs(model, prompts, responses, row_tokens=row_tokens, micro_tokens=micro_tokens)
    assert [len(g) for g in got] == [len(r) for r in responses]
    assert max(float((g - w).abs().max()) for g, w in zip(got, want)) < 1e-4
    mbs = plan(prompts, responses, row_tokens=row_tokens, micro_tokens=micro_tokens)
    assert sorted(i for mb in mbs for i in mb.index) == list(range(len(prompts)))  # each sample exactly once
    if micro_tokens == 1:
        assert len(mbs) > 1


def test_siblings_do_not_see_each_other(model_dir):
    """Changing one response of a group leaves its siblings' log-probs (same packed row) as they were."""
    model = BailingMoeForCausalLM.from_pretrained(model_dir).eval()
    p = [7, 8, 9, 10]
    a, b = [11, 12, 13, 14, 15], [20, 21, 22]
    base = response_logprobs(model, [p, p], [a, b])
    moved = response_logprobs(model, [p, p], [a, [30, 31, 32, 33, 34, 35]])
    assert len(plan([p, p], [a, b])[0].input_ids) == 1  # one row: prompt once, both responses
    assert torch.allclose(base[0], moved[0], atol=1e-6)
    assert not torch.allclose(base[1][1:], moved[1][1:3])  # the changed response itself did change


def test_cells_follow_tokens_and_prompts_count_once():
    prompts, responses = [], []
    rng = random.Random(1)
    for g in range(8):  # a GRPO step: 8 prompts x 8 responses of very different lengths
        p = list(range(5, 5 + rng.randint(16, 31)))
        for _ in range(8):
            prompts.append(p)
            responses.append([9] * rng.choice([rng.randint(15, 30), rng.randint(21, 78), rng.randint(40, 96)]))
    tokens = sum(map(len, responses)) + sum(len(p) for p in {tuple(p) for p in prompts})
    mbs = plan(prompts, responses)
    rows = sum(len(mb.input_ids) for mb in mbs)
    # each prompt once, plus one copy where a group continues on the next row
    assert tokens <= sum(mb.tokens for mb in mbs) <= tokens + (rows - 1) * 31
    cells = sum(mb.input_ids.numel() for mb in mbs)
    padded = len(prompts) * max(len(p) + len(r) for p, r in zip(prompts, responses))
    assert cells <= 1.2 * tokens < 0.6 * padded, (cells, tokens, padded)


@pytest.mark.parametrize("bad", [([[1]], [[]]), ([[]], [[1]]), ([[1], [2]], [[3]]), ([], [])])
def test_plan_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        plan(*bad)


@pytest.mark.parametrize("mode", ["grpo", "c3po", "token"])
def test_micro_batches_accumulate_to_the_full_batch(model_dir, mode):
    """Same loss, statistics and gradients whether the step runs as one batch or many micro-batches."""
    torch.set_num_threads(1)
    prompts, responses = _groups(2, n_groups=4, max_group=4, max_len=20)
    g = torch.Generator().manual_seed(0)
    ref = BailingMoeForCausalLM.from_pretrained(model_dir).eval().requires_grad_(False)
    results = []
    for micro in (4096, 16):
        torch.manual_seed(0)
        model = BailingMoeForCausalLM.from_pretrained(model_dir)
        behav = response_logprobs(model, prompts, responses)
        g.manual_seed(0)
        samples = [Sample(p, r, float(torch.randn(1, generator=g)), b - 0.1 * (i % 2))
                   for i, (p, r, b) in enumerate(zip(prompts, responses, behav))]
        samples[0].train_tokens = 1  # C3PO exact: only the first token of this one
        opt = torch.optim.SGD(model.parameters(), lr=0.0)
        upd = policy_update(model, ref, opt, samples, LossConfig(mode=mode, budget=97), step=False,
                            micro_tokens=micro, row_tokens=1, aux_coefs=(0.0, 0.0))
        grads = torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None])
        results.append((upd, grads, upd.micro_batches))
    (one, g1, n1), (many, g2, n2) = results
    assert n1 == 1 and n2 > 3
    assert abs(one.stats["loss"]) > 1e-4
    assert one.tokens == many.tokens == sum(map(len, responses)) - len(responses[0]) + 1
    for key in ("loss", "pg_loss", "kl", "entropy", "clip_frac"):
        assert many.stats[key] == pytest.approx(one.stats[key], rel=1e-5, abs=1e-7), key
    # without the MoE aux losses (per micro-batch: load balance is not additive over tokens)
    assert float((g1 - g2).abs().max()) < 1e-5 * max(1.0, float(g1.abs().max()))
    assert float(g1.abs().max()) > 1e-4
    assert [len(x) for x in one.prox_logp] == [len(r) for r in responses]
