"""Group-normalised advantages (GRPO, used unchanged by C3PO).

For a prompt q the policy samples a group of K responses o_1..o_K with binary rewards R_i.
Every token of o_i gets the same advantage

    A_i = (R_i - mean(R_1..R_K)) / (std(R_1..R_K) + eps)

``std`` is the population standard deviation (divide by K), so a group of two with one correct
answer gives +1 / -1. A group where every response has the same reward carries no signal: its
advantages are exactly zero (the eps keeps the division finite).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch


def group_advantages(rewards: torch.Tensor | Sequence[float], group_size: int,
                     eps: float = 1e-6) -> torch.Tensor:
    """Advantages for rewards laid out group by group (``len(rewards) % group_size == 0``)."""
    r = torch.as_tensor(rewards, dtype=torch.float64)
    if r.ndim != 1:
        raise ValueError(f"rewards must be 1-D, got shape {tuple(r.shape)}")
    if group_size < 1 or r.numel() % group_size:
        raise ValueError(f"{r.numel()} rewards do not split into groups of {group_size}")
    g = r.view(-1, group_size)
    mean = g.mean(dim=1, keepdim=True)
    std = g.std(dim=1, unbiased=False, keepdim=True)
    return ((g - mean) / (std + eps)).view(-1).float()
