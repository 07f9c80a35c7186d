"""Tokenizer loading and padding prompt+response sequences into training tensors."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from trainer.losses import response_mask


@dataclass
class TokenizerInfo:
    tok: object  # tokenizers.Tokenizer
    eos_id: int
    pad_id: int

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=False)


def load_tokenizer(model_dir: str | Path) -> TokenizerInfo:
    from tokenizers import Tokenizer

    model_dir = Path(model_dir)
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    cfg = json.loads((model_dir / "config.json").read_text())
    return TokenizerInfo(tok=tok, eos_id=int(cfg["eos_token_id"]), pad_id=int(cfg.get("pad_token_id") or 0))


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
