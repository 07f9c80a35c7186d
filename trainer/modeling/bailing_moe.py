"""Our own PyTorch BailingMoe (Ring-lite / Ling-lite), numerically matched to vLLM's.

The trainer recomputes log-probs of vLLM rollouts with this model, so it must agree with the
serving engine token for token (tests/test_logprob_parity.py holds it to < 1e-3 in float32).
Details that matter for that agreement: RMSNorm in float32, neox-style rotary embeddings,
a softmax router over all experts with top-k renormalisation, shared experts added to the routed
output, and ``norm_head``: the LM head is L2-normalised along the vocabulary axis (dim 0), as
vLLM does when loading Ring-lite weights.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from trainer.modeling.model_config import BailingConfig


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return (x32 * self.weight.float()).to(x.dtype)


def rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rot_dim: int) -> torch.Tensor:
    """Neox-style rotation of the first ``rot_dim`` channels (halves, not interleaved pairs)."""
    x_rot, x_pass = x[..., :rot_dim], x[..., rot_dim:]
    x1, x2 = x_rot.chunk(2, dim=-1)
    rotated = torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)
    return torch.cat((rotated, x_pass), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: BailingConfig):
        super().__init__()
        self.n_heads, self.n_kv, self.hd = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.rot_dim = cfg.rotary_dim
        bias = cfg.use_bias or cfg.use_qkv_bias
        self.query_key_value = nn.Linear(cfg.hidden_size, (self.n_heads + 2 * self.n_kv) * self.hd, bias=bias)
        self.dense = nn.Linear(self.n_heads * self.hd, cfg.hidden_size, bias=cfg.use_bias)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q, k, v = self.query_key_value(x).split(
            [self.n_heads * self.hd, self.n_kv * self.hd, self.n_kv * self.hd], dim=-1)
        q = rotary(q.view(b, t, self.n_heads, self.hd), cos, sin, self.rot_dim).transpose(1, 2)
        k = rotary(k.view(b, t, self.n_kv, self.hd), cos, sin, self.rot_dim).transpose(1, 2)
        v = v.view(b, t, self.n_kv, self.hd).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                             enable_gqa=self.n_kv != self.n_heads)
        return self.dense(out.transpose(1, 2).reshape(b, t, -1))


class MLP(nn.Module):
    def __init__(self, hidden: int, inter: int, bias: bool):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, inter, bias=bias)
        self.up_proj = nn.Linear(hidden, inter, bias=bias)
        self.down_proj = nn.Linear(inter, hidden, bias=bias)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class MoE(nn.Module):
    """Softmax router -> top-k experts (renormalised) + always-on shared experts."""

    def __init__(self, cfg: BailingConfig):
        super().__init__()
        self.top_k, self.renorm = cfg.num_experts_per_tok, cfg.norm_topk_prob
        self.gate = nn.Linear(cfg.hidden_size, cfg.num_experts, bias=False)
        self.experts = nn.ModuleList(
            MLP(cfg.hidden_size, cfg.moe_intermediate_size, cfg.use_bias) for _ in range(cfg.num_experts))
        self.shared_experts = (MLP(cfg.hidden_size, cfg.moe_intermediate_size * cfg.num_shared_experts,
                                   cfg.use_bias) if cfg.num_shared_experts else None)

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        logits = self.gate(x)
        probs = logits.float().softmax(-1)
        weights, idx = probs.topk(self.top_k, dim=-1)
        if self.renorm:
            weights = weights / weights.sum(-1, keepdim=True)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            token, slot = (idx == e).nonzero(as_tuple=True)
            if token.numel():
                y = expert(x[token]) * weights[token, slot, None].to(x.dtype)
                out = out.index_add(0, token, y)
        if self.shared_experts is not None:
            out = out + self.shared_experts(x)
        return out.view(shape), logits


class Block(nn.Module):
    def __init__(self, cfg: BailingConfig, layer: int):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.attention = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.dense_mlp = layer < cfg.first_k_dense_replace
        self.mlp = MLP(cfg.hidden_size, cfg.intermediate_size, cfg.use_bias) if self.dense_mlp else MoE(cfg)

    def forward(self, x, cos, sin, mask):
        x = x + self.attention(self.input_layernorm(x), cos, sin, mask)
        h = self.post_attention_layernorm(x)
        if self.dense_mlp:
            return x + self.mlp(h), None
        y, router_logits = self.mlp(h)
        return x + y, router_logits


class Backbone(nn.Module):
    def __init__(self, cfg: BailingConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(Block(cfg, i) for i in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


@dataclass
class ModelOutput:
    logits: torch.Tensor  # [B, T, V] float32
    router_logits: list[torch.Tensor]  # per MoE layer, [B*T, E]


class BailingMoeForCausalLM(nn.Module):
    def __init__(self, cfg: BailingConfig):
        super().__init__()
        self.config = cfg
        self.model = Backbone(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.rotary_dim, 2, dtype=torch.float32)
                                             / cfg.rotary_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def head_weight(self) -> torch.Tensor:
        w = self.model.word_embeddings.weight if self.config.tie_word_embeddings else self.lm_head.weight
        return F.normalize(w, dim=0, p=2, eps=1e-7) if self.config.norm_head else w

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, *,
                position_ids: torch.Tensor | None = None, attn_mask: torch.Tensor | None = None) -> ModelOutput:
        """``attention_mask`` [B, T] marks real tokens (1) vs padding (0); padding may be on either side.

        Packed rows (``trainer.packing``) pass ``position_ids`` [B, T] and ``attn_mask`` [B, T, T]
        (query, key) instead: several sequences, or one prompt shared by its responses, in a row.
        """
        b, t = input_ids.shape
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        attention_mask = attention_mask.bool()
        pos = (attention_mask.long().cumsum(-1) - 1).clamp(min=0) if position_ids is None else position_ids
        freqs = pos[..., None].float() * self.inv_freq  # [B, T, rot/2]
        cos, sin = freqs.cos()[:, :, None, :], freqs.sin()[:, :, None, :]
        if attn_mask is None:
            causal = torch.ones(t, t, dtype=torch.bool, device=input_ids.device).tril()
            mask = causal[None, None] & attention_mask[:, None, None, :]
        else:
            mask = attn_mask[:, None].bool()
        mask = mask | torch.eye(t, dtype=torch.bool, device=input_ids.device)  # no all-masked rows
        x = self.model.word_embeddings(input_ids)
        routers = []
        for layer in self.model.layers:
            x, r = layer(x, cos, sin, mask)
            if r is not None:
                routers.append(r)
        x = self.model.norm(x)
        logits = F.linear(x, self.head_weight()).float()
        return ModelOutput(logits=logits, router_logits=routers)

    @classmethod
    def from_pretrained(cls, path: str | Path, dtype: torch.dtype = torch.float32) -> "BailingMoeForCausalLM":
        path = Path(path)
        model = cls(BailingConfig.from_dir(path))
        state = load_state_dict(path)
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [m for m in missing if not (m == "lm_head.weight" and model.config.tie_word_embeddings)]
        if missing or unexpected:
            raise ValueError(f"checkpoint mismatch in {path}: missing={missing[:5]} unexpected={unexpected[:5]}")
        return model.to(dtype)

    def save_pretrained(self, out: str | Path, source_dir: str | Path | None = None) -> Path:
        """Write weights (Ring-lite names) and copy config/tokenizer files from ``source_dir``."""
        from safetensors.torch import save_file

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        if source_dir is not None:
            for f in Path(source_dir).iterdir():
                if f.is_file() and not f.name.startswith("model") and f.suffix in {".json", ".py", ".txt", ".model"}:
                    shutil.copyfile(f, out / f.name)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
        return out


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Single-file or sharded (``model.safetensors.index.json``) safetensors checkpoints."""
    from safetensors.torch import load_file

    index = path / "model.safetensors.index.json"
    files = (sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists()
             else ["model.safetensors"])
    state: dict[str, torch.Tensor] = {}
    for name in files:
        state.update(load_file(str(path / name)))
    return state
