"""Padding prompt+response sequences into training tensors (SFT and the validation forward)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from trainer.losses import response_mask


@dataclass
class Batch:
    input_ids: torch.Tensor  # [B, T]
    attention_mask: torch.Tensor  # [B, T]
    loss_mask: torch.Tensor  # [B, T-1] over shifted positions: 1 where a response token is predicted

    @property
    def response_tokens(self) -> torch.Tensor:
        return self.loss_mask.sum(-1)


def pad_batch(prompts: list[list[int]], responses: list[list[int]], pad_id: int) -> Batch:
    """Right-padded prompt+response rows; the loss mask covers response tokens only."""
    if len(prompts) != len(responses) or not prompts:
        raise ValueError("need the same, non-zero number of prompts and responses")
    seqs = [p + r for p, r in zip(prompts, responses)]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    att = torch.zeros_like(ids)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        att[i, :len(s)] = 1
    mask = response_mask([len(p) for p in prompts], [len(s) for s in seqs], width - 1)
    return Batch(ids, att, mask)
