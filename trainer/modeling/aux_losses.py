"""MoE auxiliary losses from ``ModelOutput.router_logits`` (one [tokens, E] tensor per MoE layer).

Load balance (Switch / GShard form, generalised to top-k routing), per layer:

    L_bal = E * sum_e f_e * P_e,
    f_e = (1 / (k N)) * #{(n, slot): token n's slot-th choice is expert e}   (dispatch fraction)
    P_e = (1 / N) * sum_n softmax(z_n)_e                                     (mean router prob)

It is 1 when routing is perfectly uniform and grows as tokens pile onto few experts; only P
carries gradient (f comes from a top-k). Router z-loss (ST-MoE), per layer:

    L_z = (1 / N) * sum_n (logsumexp_e z_{n,e})^2

which keeps router logits small so the softmax stays numerically tame. Both are averaged over
MoE layers; the Ring-lite recipe weighs them 1e-5 and 1e-7 in the total loss. ``mask`` (flattened
[B*T]) excludes padding tokens, which the router still sees.
"""
from __future__ import annotations

import torch

LOAD_BALANCE_COEF = 1e-5
Z_LOSS_COEF = 1e-7


def _select(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Real tokens only, in at least float32 (float64 stays, for gradient checks)."""
    z = logits if mask is None else logits[mask.reshape(-1).bool()]
    return z if z.dtype == torch.float64 else z.float()


def load_balance_loss(router_logits: list[torch.Tensor], top_k: int,
                      mask: torch.Tensor | None = None) -> torch.Tensor:
    if not router_logits:
        raise ValueError("no router logits: the model has no MoE layers")
    losses = []
    for logits in router_logits:
        z = _select(logits, mask)
        n, e = z.shape
        if top_k < 1 or top_k > e:
            raise ValueError(f"top_k={top_k} must be in 1..{e}")
        probs = z.softmax(-1)
        chosen = probs.topk(top_k, dim=-1).indices
        counts = torch.zeros(e, dtype=probs.dtype, device=z.device).scatter_add_(
            0, chosen.reshape(-1), torch.ones(chosen.numel(), dtype=probs.dtype, device=z.device))
        f = counts / max(n * top_k, 1)
        p = probs.mean(0)
        losses.append(e * (f * p).sum())
    return torch.stack(losses).mean()


def router_z_loss(router_logits: list[torch.Tensor], mask: torch.Tensor | None = None) -> torch.Tensor:
    if not router_logits:
        raise ValueError("no router logits: the model has no MoE layers")
    return torch.stack([torch.logsumexp(_select(z, mask), dim=-1).pow(2).mean()
                        for z in router_logits]).mean()
