"""Our torch BailingMoe must reproduce vLLM's per-token log-probs (RL on vLLM rollouts needs it)."""
from __future__ import annotations

import httpx
import pytest
import torch
from tokenizers import Tokenizer

from tests.conftest import API_KEY
from trainer.modeling import BailingMoeForCausalLM

pytestmark = pytest.mark.vllm

PROMPTS = [
    "<|im_start|>user\nWhat is 17 * 23? Think step by step.<|im_end|>\n<|im_start|>assistant\n",
    "def f(x):\n    return x + 1\n\nprint(f(41))",
    "The answer is $\\boxed{1331}$ and then some more words to make the sequence longer than before",
]


def vllm_logprobs(server, ids: list[int], seed: int) -> tuple[list[int], list[float]]:
    """Prompt + sampled completion tokens and vLLM's log-prob of each token after the first."""
    body = {"model": server.model, "prompt": ids, "max_tokens": 24, "seed": seed, "logprobs": 0,
            "prompt_logprobs": 0, "return_token_ids": True, "ignore_eos": True}
    r = httpx.post(server.v1 + "/completions", json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120)
    r.raise_for_status()
    ch = r.json()["choices"][0]
    prompt_lp = [entry[str(tok)]["logprob"] for entry, tok in zip(ch["prompt_logprobs"][1:], ids[1:])]
    return ids + ch["token_ids"], prompt_lp + ch["logprobs"]["token_logprobs"]


def test_logprobs_match_vllm(tiny_server):
    tok = Tokenizer.from_file(str(tiny_server.model_dir / "tokenizer.json"))
    model = BailingMoeForCausalLM.from_pretrained(tiny_server.model_dir).eval()
    worst, count = 0.0, 0
    for seed, prompt in enumerate(PROMPTS):
        full, theirs = vllm_logprobs(tiny_server, tok.encode(prompt).ids, seed)
        with torch.no_grad():
            lp = model(torch.tensor([full])).logits.log_softmax(-1)[0]
        ours = lp[torch.arange(len(full) - 1), torch.tensor(full[1:])].tolist()
        assert len(ours) == len(theirs)
        worst = max(worst, max(abs(a - b) for a, b in zip(ours, theirs)))
        count += len(ours)
    print(f"logprob parity: max |ours - vLLM| = {worst:.2e} over {count} tokens")
    assert worst < 1e-3


def test_batched_padding_matches_single(tiny_server):
    """Left/right padding in a batch must not change any real token's log-prob."""
    tok = Tokenizer.from_file(str(tiny_server.model_dir / "tokenizer.json"))
    model = BailingMoeForCausalLM.from_pretrained(tiny_server.model_dir).eval()
    a, b = tok.encode(PROMPTS[0]).ids, tok.encode(PROMPTS[1]).ids[:7]
    pad = 0
    with torch.no_grad():
        single = model(torch.tensor([b])).logits[0]
        right = model(torch.tensor([a, b + [pad] * (len(a) - len(b))]),
                      attention_mask=torch.tensor([[1] * len(a), [1] * len(b) + [0] * (len(a) - len(b))])).logits[1]
        left = model(torch.tensor([a, [pad] * (len(a) - len(b)) + b]),
                     attention_mask=torch.tensor([[1] * len(a), [0] * (len(a) - len(b)) + [1] * len(b)])).logits[1]
    assert torch.allclose(right[:len(b)], single, atol=1e-4)
    assert torch.allclose(left[len(a) - len(b):], single, atol=1e-4)
