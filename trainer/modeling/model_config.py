"""Reads a BailingMoe ``config.json`` into a plain dataclass (no transformers import needed)."""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass
class BailingConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    num_experts: int
    num_experts_per_tok: int
    moe_intermediate_size: int
    num_shared_experts: int = 0
    head_dim: int | None = None
    rms_norm_eps: float = 1e-6
    rope_theta: float = 600000.0
    rotary_dim: int | None = None
    max_position_embeddings: int = 16384
    norm_head: bool = True
    norm_topk_prob: bool = True
    first_k_dense_replace: int = 0
    use_qkv_bias: bool = False
    use_bias: bool = False
    tie_word_embeddings: bool = False

    def __post_init__(self) -> None:
        self.head_dim = self.head_dim or self.hidden_size // self.num_attention_heads
        self.rotary_dim = self.rotary_dim or self.head_dim

    @classmethod
    def from_dict(cls, raw: dict) -> "BailingConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})

    @classmethod
    def from_dir(cls, path: str | Path) -> "BailingConfig":
        return cls.from_dict(json.loads((Path(path) / "config.json").read_text()))
