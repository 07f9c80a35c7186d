"""Policy-gradient losses of the Ring-lite RL recipe: GRPO, C3PO and their shared pieces.

Notation (per prompt q, K sampled responses o_i, tokens o_{i,t}):

    r_{i,t}(theta) = pi_theta(o_{i,t} | q, o_{i,<t}) / pi_old(o_{i,t} | q, o_{i,<t})
    l_{i,t} = -min(r_{i,t} A_i, clip(r_{i,t}, 1 - eps, 1 + eps) A_i)       (eps = 0.2)
              + beta * KL_k3(pi_theta || pi_ref)_{i,t}                      (beta = 1e-3)
              - alpha * H(pi_theta(. | q, o_{i,<t}))                        (alpha = 5e-4)

with A_i the group-normalised advantage (``trainer.advantages``). The two methods differ only
in how the token losses l_{i,t} are reduced to one number:

    GRPO:  L = 1/K * sum_i 1/|o_i| * sum_t l_{i,t}
    C3PO:  L = 1/Phi * sum_{i in S} sum_t l_{i,t}

GRPO averages each response over its own length and then over the group, so a token of a short
response weighs more than one of a long response, and the effective number of tokens (hence the
gradient's scale) changes from step to step. C3PO trains on the set S picked by the token
budget (``trainer.budget.select_by_budget``) and divides by the fixed budget Phi, so every token
weighs the same and every step has (about) the same token count.

Signs. Everything here is a *loss* (minimised). The KL to the reference policy is a penalty, so
it enters with +beta. The paper calls the entropy term an exploration bonus: a bonus is
something the optimiser should *increase*, so it enters the loss as -alpha * H; minimising the
loss then raises the entropy (``tests/test_trainer_losses.py`` checks the gradient direction).

KL estimator (Schulman's k3, unbiased and always >= 0 per sample): with d = log pi_ref - log pi_theta,

    KL_k3 = exp(d) - d - 1.

Decoupled PPO for stale samples (AReaL-style). When a response was sampled by an older
behaviour policy pi_behav (deferred by the budget, or generated asynchronously), the trust
region is taken around the proximal policy pi_prox (the current weights before this update,
recomputed by our torch model) and the off-policy gap is corrected by a constant importance
weight:

    l_{i,t} = -(pi_prox / pi_behav) * min(u A_i, clip(u, 1 - eps, 1 + eps) A_i),  u = pi_theta / pi_prox.

Tokens whose weight pi_prox / pi_behav exceeds ``behav_cap`` are masked out (too far off-policy).
With pi_prox == pi_behav it is the ordinary clipped objective.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

MODES = ("grpo", "c3po", "token")


def _wide(x: torch.Tensor) -> torch.Tensor:
    """At least float32 (bf16 logits lose too much in log_softmax); float64 stays float64."""
    return x if x.dtype == torch.float64 else x.float()


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log pi(target_t) from ``logits`` [B, T, V] aligned with ``targets`` [B, T]."""
    return torch.log_softmax(_wide(logits), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def token_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of each position's next-token distribution, [B, T]."""
    logp = torch.log_softmax(_wide(logits), dim=-1)
    return -(logp.exp() * logp).sum(-1)


def shift_for_next_token(logits: torch.Tensor, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Position t predicts token t+1: drop the last logit row and the first input token."""
    return logits[:, :-1], input_ids[:, 1:]


def response_mask(prompt_lens, seq_lens, width: int) -> torch.Tensor:
    """Mask over *shifted* positions j (predicting token j+1) that predict a response token.

    A sequence is ``prompt_len`` prompt tokens followed by response tokens up to ``seq_len``
    (right padding after). Token j+1 is a response token iff prompt_len <= j+1 < seq_len.
    """
    p = torch.as_tensor(prompt_lens).view(-1, 1)
    s = torch.as_tensor(seq_lens).view(-1, 1)
    if (p < 1).any() or (s < p).any():
        raise ValueError("each sequence needs a prompt of >= 1 token and seq_len >= prompt_len")
    j = torch.arange(width).view(1, -1)
    return ((j + 1 >= p) & (j + 1 < s)).float()


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of KL(pi_theta || pi_ref) from sampled-token log-probs."""
    d = ref_logp - logp
    return torch.exp(d) - d - 1.0


def clipped_surrogate(logp: torch.Tensor, old_logp: torch.Tensor, adv: torch.Tensor, *,
                      eps_low: float = 0.2, eps_high: float = 0.2,
                      prox_logp: torch.Tensor | None = None,
                      behav_cap: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token clipped policy loss and a 0/1 tensor marking tokens where clipping was active.

    ``old_logp`` is the behaviour policy's (the sampler's) log-prob. With ``prox_logp`` the
    decoupled objective is used (see module docstring). ``adv`` is [N] or [N, T].
    """
    adv = adv.view(-1, 1) if adv.ndim == 1 else adv
    anchor = old_logp if prox_logp is None else prox_logp
    ratio = torch.exp(logp - anchor.detach())
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high) * adv
    loss = -torch.minimum(unclipped, clipped)
    was_clipped = (clipped < unclipped).float()
    if prox_logp is not None:
        weight = torch.exp(prox_logp - old_logp).detach()
        if behav_cap is not None:
            weight = torch.where(weight <= behav_cap, weight, torch.zeros_like(weight))
        loss = loss * weight
    return loss, was_clipped


def response_weights(n_tokens: torch.Tensor, mode: str, budget: int | None = None) -> torch.Tensor:
    """Weight w_i of each token of response i, so that L = sum_i w_i * sum_t l_{i,t}.

    ``n_tokens`` [N]: trained tokens per response. ``grpo``: 1 / (|o_i| * #responses with >= 1
    token); ``c3po``: 1 / Phi; ``token``: 1 / (all tokens), DAPO-style, for comparison. Computed
    once for a whole step, the weights let micro-batches add up to exactly the full-batch loss.
    """
    n = n_tokens.to(torch.float64)
    if mode == "grpo":
        has = n > 0
        return torch.where(has, 1.0 / (n.clamp(min=1.0) * has.sum().clamp(min=1)), torch.zeros_like(n))
    if mode == "c3po":
        if not budget or budget <= 0:
            raise ValueError("c3po needs a positive token budget")
        return torch.full_like(n, 1.0 / budget)
    if mode == "token":
        return torch.full_like(n, 1.0 / float(n.sum().clamp(min=1.0)))
    raise ValueError(f"unknown loss mode {mode!r}; expected one of {MODES}")


def aggregate(per_token: torch.Tensor, mask: torch.Tensor, mode: str, budget: int | None = None,
              weights: torch.Tensor | None = None) -> torch.Tensor:
    """Reduce token losses [N, T] under ``mask`` to a scalar (``response_weights``; ``weights``
    overrides them, e.g. with a whole step's weights when ``per_token`` is one micro-batch)."""
    mask = mask.to(per_token.dtype)
    w = response_weights(mask.sum(-1), mode, budget) if weights is None else weights
    return ((per_token * mask).sum(-1) * w.to(per_token.dtype)).sum()


@dataclass
class LossConfig:
    mode: str = "c3po"
    budget: int | None = None  # Phi, tokens per optimiser step (per rank); c3po only
    eps_low: float = 0.2
    eps_high: float = 0.2
    kl_beta: float = 1e-3
    entropy_alpha: float = 5e-4
    behav_cap: float | None = None  # decoupled PPO: drop tokens with pi_prox/pi_behav above this

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown loss mode {self.mode!r}; expected one of {MODES}")
        if self.mode == "c3po" and (not self.budget or self.budget <= 0):
            raise ValueError("c3po needs a positive token budget")


def policy_loss(logp: torch.Tensor, mask: torch.Tensor, adv: torch.Tensor, old_logp: torch.Tensor,
                cfg: LossConfig, *, ref_logp: torch.Tensor | None = None,
                entropy: torch.Tensor | None = None,
                prox_logp: torch.Tensor | None = None,
                weights: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Total policy loss (surrogate + beta KL - alpha H) and detached statistics.

    All token tensors are [N, T]; ``mask`` selects the response tokens that are trained on
    (prompt and padding are 0; for C3PO with ``exact`` also the tail past the budget).
    ``weights`` [N]: per-response token weights (``response_weights``) when this is a
    micro-batch of a larger step; then ``loss`` and ``pg_loss`` are its share of the step's.
    """
    pg, was_clipped = clipped_surrogate(logp, old_logp, adv, eps_low=cfg.eps_low, eps_high=cfg.eps_high,
                                        prox_logp=prox_logp, behav_cap=cfg.behav_cap)
    per_token = pg
    m = mask.float()
    denom = m.sum().clamp(min=1.0)
    stats = {"pg_loss": float(aggregate(pg.detach(), m, cfg.mode, cfg.budget, weights)),
             "clip_frac": float((was_clipped * m).sum() / denom)}
    if ref_logp is not None and cfg.kl_beta:
        kl = kl_k3(logp, ref_logp)
        per_token = per_token + cfg.kl_beta * kl
        stats["kl"] = float((kl.detach() * m).sum() / denom)
    if entropy is not None:
        if cfg.entropy_alpha:
            per_token = per_token - cfg.entropy_alpha * entropy
        stats["entropy"] = float((entropy.detach() * m).sum() / denom)
    loss = aggregate(per_token, m, cfg.mode, cfg.budget, weights)
    stats["loss"] = float(loss.detach())
    return loss, stats
