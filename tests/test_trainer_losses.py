"""C3PO / GRPO losses, token budget, advantages and MoE aux losses on hand-computed cases."""
from __future__ import annotations

import math

import pytest
import torch

from trainer.advantages import group_advantages
from trainer.budget import select_by_budget
from trainer.losses import (LossConfig, aggregate, clipped_surrogate, kl_k3, policy_loss, response_mask,
                            token_entropy, token_logprobs)
from trainer.modeling.aux_losses import load_balance_loss, router_z_loss


# ---- token budget -------------------------------------------------------------------------------

def test_budget_takes_until_count_first_reaches_phi():
    sel = select_by_budget([5, 3, 7, 2], budget=8)
    assert sel.selected == [0, 1] and sel.left == [2, 3] and sel.tokens == 8
    sel = select_by_budget([5, 3, 7, 2], budget=9)  # 5+3 < 9, so the 7 goes in whole
    assert sel.selected == [0, 1, 2] and sel.left == [3] and sel.tokens == 15 and not sel.keep_tokens


def test_budget_exact_truncates_crossing_response_and_defer_flag():
    sel = select_by_budget([5, 3, 7, 2], budget=9, exact=True, defer=True)
    assert sel.selected == [0, 1, 2] and sel.keep_tokens == {2: 1} and sel.tokens == 9
    assert sel.deferred and sel.left == [3]


def test_budget_larger_than_batch_takes_everything():
    sel = select_by_budget([4, 4], budget=100)
    assert sel.selected == [0, 1] and sel.left == [] and sel.tokens == 8


@pytest.mark.parametrize("budget,lengths", [(0, [1]), (-3, [1]), (5, [2, -1])])
def test_budget_rejects_bad_input(budget, lengths):
    with pytest.raises(ValueError):
        select_by_budget(lengths, budget=budget)


# ---- advantages ---------------------------------------------------------------------------------

def test_group_advantages_hand_values():
    a = group_advantages([1, 0, 1, 1], group_size=2)
    assert torch.allclose(a, torch.tensor([1.0, -1.0, 0.0, 0.0]), atol=1e-5)
    a = group_advantages([1, 0, 0, 0], group_size=4)
    std = math.sqrt(0.25 * 0.75)
    assert torch.allclose(a, torch.tensor([0.75 / std, -0.25 / std, -0.25 / std, -0.25 / std]), atol=1e-4)


def test_group_advantages_rejects_ragged_groups():
    with pytest.raises(ValueError):
        group_advantages([1, 0, 1], group_size=2)


# ---- policy loss on a hand case -----------------------------------------------------------------
# Two responses, A = [+1, -1]. Response 0 has one token with ratio 1.5 (clipped to 1.2);
# response 1 has three tokens with ratios 0.5 (clipped to 0.8), 1.0, 1.1 (inside the range).
# Per-token losses: [-1.2] and [0.8, 1.0, 1.1]; a 4th column is padding.

def hand_case():
    ratios = torch.tensor([[1.5, 7.0, 7.0, 7.0], [0.5, 1.0, 1.1, 7.0]], dtype=torch.float64)
    old = torch.full_like(ratios, -1.0)
    logp = old + ratios.log()
    mask = torch.tensor([[1, 0, 0, 0], [1, 1, 1, 0]], dtype=torch.float64)
    adv = torch.tensor([1.0, -1.0], dtype=torch.float64)
    return logp, old, mask, adv


def test_clipped_surrogate_per_token_values():
    logp, old, mask, adv = hand_case()
    loss, clipped = clipped_surrogate(logp, old, adv)
    assert torch.allclose(loss[0, 0], torch.tensor(-1.2, dtype=torch.float64))
    assert torch.allclose(loss[1, :3], torch.tensor([0.8, 1.0, 1.1], dtype=torch.float64))
    assert clipped[0, 0] == 1 and clipped[1, 0] == 1 and clipped[1, 1] == 0 and clipped[1, 2] == 0


def test_grpo_normalisation_hand_value():
    logp, old, mask, adv = hand_case()
    loss, stats = policy_loss(logp, mask, adv, old, LossConfig(mode="grpo", kl_beta=0, entropy_alpha=0))
    expected = (-1.2 + (0.8 + 1.0 + 1.1) / 3) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-9)
    assert stats["clip_frac"] == pytest.approx(0.5)


@pytest.mark.parametrize("phi,expected", [(4, (-1.2 + 2.9) / 4), (8, (-1.2 + 2.9) / 8)])
def test_c3po_normalisation_hand_value(phi, expected):
    logp, old, mask, adv = hand_case()
    loss, _ = policy_loss(logp, mask, adv, old, LossConfig(mode="c3po", budget=phi, kl_beta=0, entropy_alpha=0))
    assert loss.item() == pytest.approx(expected, abs=1e-9)


def test_c3po_token_weight_is_independent_of_response_length():
    # one token's gradient: 1/Phi under C3PO whatever its response's length; 1/(K*|o_i|) under GRPO
    logp, old, mask, adv = hand_case()
    for mode, want0, want1 in [("c3po", 0.0, 1 / 4), ("grpo", 0.0, 1 / (2 * 3))]:
        x = logp.clone().requires_grad_(True)
        cfg = LossConfig(mode=mode, budget=4, kl_beta=0, entropy_alpha=0)
        policy_loss(x, mask, adv, old, cfg)[0].backward()
        # token (1,1): ratio 1, A=-1 -> d(-r*A)/dlogp = r = 1, scaled by the normaliser
        assert x.grad[1, 1].item() == pytest.approx(want1)
        assert x.grad[0, 0].item() == pytest.approx(want0)  # clipped token: no gradient


def test_c3po_requires_budget_and_unknown_mode_rejected():
    with pytest.raises(ValueError):
        LossConfig(mode="c3po", budget=None)
    with pytest.raises(ValueError):
        LossConfig(mode="ppo2")
    with pytest.raises(ValueError):
        aggregate(torch.zeros(1, 1), torch.ones(1, 1), "c3po", budget=0)


# ---- prompt masking -----------------------------------------------------------------------------

def test_response_mask_hand_case():
    m = response_mask([2, 3], [5, 4], width=4)
    assert m.tolist() == [[0, 1, 1, 1], [0, 0, 1, 0]]
    with pytest.raises(ValueError):
        response_mask([0], [3], width=3)


def test_prompt_tokens_do_not_affect_loss_or_get_gradient():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 11, dtype=torch.float64, requires_grad=True)
    ids = torch.randint(0, 11, (2, 6))
    mask = response_mask([3, 2], [6, 5], width=5)
    cfg = LossConfig(mode="c3po", budget=6)

    def loss_of(lg):
        logp = token_logprobs(lg, ids[:, 1:])
        return policy_loss(logp, mask, torch.tensor([0.7, -0.3], dtype=torch.float64), logp.detach(), cfg,
                           ref_logp=logp.detach() - 0.1, entropy=token_entropy(lg))[0]

    loss = loss_of(logits)
    loss.backward()
    prompt = mask == 0
    assert logits.grad[prompt].abs().max() == 0
    assert logits.grad[~prompt].abs().max() > 0
    perturbed = logits.detach().clone()
    perturbed[prompt] += torch.randn_like(perturbed[prompt]) * 5
    assert loss_of(perturbed).item() == pytest.approx(loss.item(), abs=1e-12)


# ---- KL estimator -------------------------------------------------------------------------------

def test_k3_hand_value_and_nonnegative():
    v = kl_k3(torch.tensor(math.log(0.5)), torch.tensor(math.log(0.25)))
    assert v.item() == pytest.approx(0.5 - math.log(0.5) - 1, abs=1e-7)
    d = torch.linspace(-5, 5, 101)
    assert (kl_k3(torch.zeros_like(d), d) >= 0).all()
    assert kl_k3(torch.tensor(-2.0), torch.tensor(-2.0)).item() == 0.0


def test_k3_is_unbiased_for_kl():
    g = torch.Generator().manual_seed(0)
    p = torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64)
    q = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
    idx = torch.multinomial(p, 200_000, replacement=True, generator=g)
    est = kl_k3(p.log()[idx], q.log()[idx]).mean().item()
    exact = (p * (p / q).log()).sum().item()
    assert est == pytest.approx(exact, rel=0.02)


# ---- entropy sign -------------------------------------------------------------------------------

def test_entropy_term_is_a_bonus():
    torch.manual_seed(1)
    logits = torch.randn(1, 4, 7, dtype=torch.float64, requires_grad=True)
    ids = torch.randint(0, 7, (1, 4))
    mask = torch.ones(1, 4, dtype=torch.float64)
    logp = token_logprobs(logits, ids)
    ent = token_entropy(logits)
    cfg = LossConfig(mode="c3po", budget=4, kl_beta=0, entropy_alpha=0.5)
    loss, _ = policy_loss(logp, mask, torch.zeros(1, dtype=torch.float64), logp.detach(), cfg, entropy=ent)
    loss.backward()
    with torch.no_grad():
        stepped = logits - 0.1 * logits.grad
    assert token_entropy(stepped).sum() > ent.detach().sum()  # descending the loss raises entropy


# ---- decoupled PPO ------------------------------------------------------------------------------

def test_decoupled_reduces_to_ppo_when_proximal_is_behaviour():
    logp, old, mask, adv = hand_case()
    a, _ = clipped_surrogate(logp, old, adv)
    b, _ = clipped_surrogate(logp, old, adv, prox_logp=old.clone())
    assert torch.allclose(a, b)


def test_decoupled_weights_by_prox_over_behaviour_and_caps():
    behav = torch.tensor([[-1.0, -1.0]], dtype=torch.float64)
    prox = behav + torch.tensor([[math.log(1.5), math.log(3.0)]], dtype=torch.float64)
    logp = prox.clone()  # current == proximal: u = 1, no clipping
    loss, _ = clipped_surrogate(logp, behav, torch.tensor([2.0], dtype=torch.float64), prox_logp=prox)
    assert torch.allclose(loss, torch.tensor([[-3.0, -6.0]], dtype=torch.float64))
    loss, _ = clipped_surrogate(logp, behav, torch.tensor([2.0], dtype=torch.float64), prox_logp=prox,
                                behav_cap=2.0)
    assert torch.allclose(loss, torch.tensor([[-3.0, 0.0]], dtype=torch.float64))


# ---- gradient check -----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["grpo", "c3po"])
def test_total_loss_gradcheck(mode):
    torch.manual_seed(2)
    logits = torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True)
    ids = torch.randint(0, 5, (2, 3))
    mask = torch.tensor([[0, 1, 1], [1, 1, 0]], dtype=torch.float64)
    old = token_logprobs(logits, ids).detach() + 0.05  # ratios ~0.95: inside the clip range, no kinks
    ref = old - 0.3
    prox = old - 0.02
    adv = torch.tensor([0.8, -1.1], dtype=torch.float64)
    cfg = LossConfig(mode=mode, budget=5, kl_beta=0.1, entropy_alpha=0.05)

    def f(lg):
        return policy_loss(token_logprobs(lg, ids), mask, adv, old, cfg, ref_logp=ref,
                           entropy=token_entropy(lg), prox_logp=prox)[0]

    assert torch.autograd.gradcheck(f, (logits,), eps=1e-6, atol=1e-6)


# ---- MoE aux losses -----------------------------------------------------------------------------

def test_load_balance_hand_values():
    l3 = math.log(3.0)
    balanced = torch.tensor([[l3, 0.0], [l3, 0.0], [0.0, l3], [0.0, l3]])
    assert load_balance_loss([balanced], top_k=1).item() == pytest.approx(1.0, abs=1e-6)
    skewed = torch.tensor([[l3, 0.0]] * 4)
    assert load_balance_loss([skewed], top_k=1).item() == pytest.approx(1.5, abs=1e-6)
    # averaged over layers
    assert load_balance_loss([balanced, skewed], top_k=1).item() == pytest.approx(1.25, abs=1e-6)


def test_load_balance_mask_drops_padding():
    l3 = math.log(3.0)
    logits = torch.tensor([[l3, 0.0], [0.0, l3], [l3, 0.0], [l3, 0.0]])
    mask = torch.tensor([1, 1, 0, 0])
    assert load_balance_loss([logits], top_k=1, mask=mask).item() == pytest.approx(1.0, abs=1e-6)
    assert load_balance_loss([logits], top_k=1).item() > 1.0


def test_router_z_loss_hand_value_and_gradcheck():
    z = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]], dtype=torch.float64)
    expected = (math.log(4.0) ** 2 + math.log(2.0) ** 2) / 2
    assert router_z_loss([z]).item() == pytest.approx(expected, abs=1e-9)
    x = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: router_z_loss([t]), (x,))
    assert torch.autograd.gradcheck(lambda t: load_balance_loss([t], top_k=2), (x,))


def test_aux_losses_reject_bad_input():
    with pytest.raises(ValueError):
        load_balance_loss([], top_k=1)
    with pytest.raises(ValueError):
        load_balance_loss([torch.zeros(3, 2)], top_k=3)
    with pytest.raises(ValueError):
        router_z_loss([])
