"""Batch sampling from our torch BailingMoe (no KV cache: fine for the tiny model's short answers).

Used for validation accuracy during SFT; RL rollouts come from vLLM (``trainer.rollout``).
"""
from __future__ import annotations

import torch

from trainer.modeling import BailingMoeForCausalLM


@torch.no_grad()
def generate(model: BailingMoeForCausalLM, prompts: list[list[int]], *, max_new_tokens: int, eos_id: int,
             pad_id: int, temperature: float = 0.0, generator: torch.Generator | None = None) -> list[list[int]]:
    """Completions (token ids, without the eos) for each prompt; greedy when temperature == 0."""
    was_training = model.training
    model.eval()
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, p in enumerate(prompts):  # left padding keeps every prompt's last token in the last column
        ids[i, width - len(p):] = torch.tensor(p)
        mask[i, width - len(p):] = 1
    done = torch.zeros(len(prompts), dtype=torch.bool)
    out: list[list[int]] = [[] for _ in prompts]
    for _ in range(max_new_tokens):
        logits = model(ids, mask).logits[:, -1]
        if temperature > 0:
            nxt = torch.multinomial((logits / temperature).softmax(-1), 1, generator=generator).squeeze(-1)
        else:
            nxt = logits.argmax(-1)
        for i in range(len(prompts)):
            if not done[i]:
                if nxt[i].item() == eos_id:
                    done[i] = True
                else:
                    out[i].append(int(nxt[i]))
        if done.all():
            break
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        mask = torch.cat([mask, (~done).long()[:, None]], dim=1)
    model.train(was_training)
    return out
