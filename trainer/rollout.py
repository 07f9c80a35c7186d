"""Rollout samplers for RL: vLLM holding the policy (default) or our torch model (small tests).

Both take prompts as token ids and return ``n`` sampled responses per prompt as token ids
(the terminating eos included when the response finished). After each optimiser step the
trainer calls ``push_weights`` with the new state dict; the vLLM sampler copies it into the
running engine's model in place (no restart) and resets the prefix cache, since cached KV
blocks were computed by the old weights.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from dataclasses import dataclass

import torch


@dataclass
class Rollout:
    prompt: list[int]
    response: list[int]  # includes eos if finished
    finished: bool
    logprobs: list[float] | None = None  # sampler's own log-probs of the response tokens, if reported


class TorchSampler:
    """Samples with ``trainer.generate`` from the trainer's own model (shares its weights)."""

    name = "torch"

    def __init__(self, model, eos_id: int, pad_id: int, seed: int = 0):
        self.model, self.eos_id, self.pad_id = model, eos_id, pad_id
        self.gen = torch.Generator().manual_seed(seed)

    def sample(self, prompts: list[list[int]], n: int, max_new_tokens: int, temperature: float) -> list[Rollout]:
        from trainer.generate import generate

        flat = [p for p in prompts for _ in range(n)]
        outs = generate(self.model, flat, max_new_tokens=max_new_tokens, eos_id=self.eos_id, pad_id=self.pad_id,
                        temperature=temperature, generator=self.gen)
        return [Rollout(p, o + [self.eos_id] if len(o) < max_new_tokens else o, len(o) < max_new_tokens)
                for p, o in zip(flat, outs)]

    def push_weights(self, state: dict[str, torch.Tensor]) -> float:
        return 0.0  # same module object: nothing to copy

    def close(self) -> None:
        pass


def _expert_sources(state: dict[str, torch.Tensor], name: str) -> torch.Tensor | None:
    """The checkpoint tensors that vLLM fuses into routed-expert parameter ``name``, stacked."""
    prefix, _, leaf = name.rpartition(".mlp.experts.routed_experts.")
    if not prefix:
        return None
    n = sum(1 for k in state if k.startswith(f"{prefix}.mlp.experts.") and k.endswith(".down_proj.weight"))
    if leaf == "w13_weight":
        return torch.stack([torch.cat([state[f"{prefix}.mlp.experts.{e}.gate_proj.weight"],
                                       state[f"{prefix}.mlp.experts.{e}.up_proj.weight"]]) for e in range(n)])
    if leaf == "w2_weight":
        return torch.stack([state[f"{prefix}.mlp.experts.{e}.down_proj.weight"] for e in range(n)])
    return None


def _expert_layouts(worker, state):
    """Learn, from the weights the engine was started with, where each checkpoint element of the
    fused expert tensors sits in vLLM's kernel layout (the CPU MoE kernel repacks them, and the
    in-place reload does not reproduce that repacking). Random float weights are distinct, so
    sorting both sides gives the element permutation; it is checked exactly."""
    model = worker.model_runner.get_model()
    maps = {}
    for name, param in model.named_parameters():
        src = _expert_sources(state, name)
        if src is None:
            continue
        s, k = src.reshape(-1), param.detach().reshape(-1)
        if s.numel() != k.numel():
            raise RuntimeError(f"cannot map {name}: {s.numel()} vs {k.numel()} elements")
        perm = torch.empty_like(s, dtype=torch.long)
        perm[k.argsort()] = s.argsort()
        if not torch.equal(s[perm], k):
            raise RuntimeError(f"vLLM's layout of {name} is not a permutation of the checkpoint's")
        maps[name] = perm
    worker._ring_expert_perm = maps
    return len(maps)


def _reload_keeping_buffers(worker, items):
    """vLLM's layerwise in-place reload re-creates modules from checkpoint tensors only, so
    non-persistent buffers that are not in a checkpoint (the rotary cos/sin cache) come back
    wrong; we snapshot every buffer first and put them back afterwards."""
    model = worker.model_runner.get_model()
    saved = {n: b.detach().clone() for n, b in model.named_buffers()}
    worker.reload_weights(weights_iterator=items)
    restored = 0
    for n, b in model.named_buffers():
        if n in saved and b.shape == saved[n].shape:
            b.data.copy_(saved[n])
            restored += 1
    state = dict(items)
    for name, param in model.named_parameters():
        perm = getattr(worker, "_ring_expert_perm", {}).get(name)
        if perm is not None:
            param.data.copy_(_expert_sources(state, name).reshape(-1)[perm].view_as(param))
    return restored


CPU_PREFILL_TOKENS = 32768


class VllmSampler:
    """Offline ``vllm.LLM`` in this process (float32 on CPU), weights pushed in place each step."""

    name = "vllm"

    def __init__(self, model_dir: str, seed: int = 0, max_model_len: int = 512, kv_cache_gb: float = 1.0):
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(int(max(1, kv_cache_gb))))
        # the engine core must live in this process so collective_rpc can take a plain function
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        from vllm import LLM

        on_cpu = not torch.cuda.is_available()
        # vLLM's CPU runner cannot rewind a seeded request's generator when a prefill is split over
        # engine steps ("CPU Generator does not use offset"), so on CPU a whole step's prompts must
        # fit one engine step; on GPUs vLLM's own budget stays (it sizes the activation profile)
        self.prefill_limit = CPU_PREFILL_TOKENS if on_cpu else None
        extra = {"max_num_batched_tokens": CPU_PREFILL_TOKENS} if on_cpu else {}
        self.llm = LLM(model=str(model_dir), dtype="float32" if on_cpu else "auto", seed=seed,
                       max_model_len=max_model_len, trust_remote_code=True, enable_prefix_caching=True,
                       enforce_eager=on_cpu, **extra)
        self.seed = seed
        self.calls = 0
        from trainer.modeling.bailing_moe import load_state_dict

        self.llm.collective_rpc(_expert_layouts, args=(load_state_dict(Path(model_dir)),))

    def sample(self, prompts: list[list[int]], n: int, max_new_tokens: int, temperature: float) -> list[Rollout]:
        from vllm import SamplingParams

        if self.prefill_limit is not None and n * sum(map(len, prompts)) > self.prefill_limit:
            raise ValueError(f"{len(prompts)} prompts x {n} samples need {n * sum(map(len, prompts))} prefill "
                             f"tokens in one engine step; the CPU sampler takes at most {self.prefill_limit}: "
                             "use fewer prompts per step or samples per prompt")
        self.calls += 1
        params = SamplingParams(n=n, temperature=temperature, max_tokens=max_new_tokens, logprobs=0,
                                seed=self.seed * 100_003 + self.calls)
        outs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
        rolls = []
        for p, o in zip(prompts, outs):
            for c in o.outputs:
                ids = list(c.token_ids)
                lps = [d[t].logprob for t, d in zip(ids, c.logprobs)] if c.logprobs else None
                rolls.append(Rollout(p, ids, c.finish_reason == "stop", lps))
        return rolls

    def push_weights(self, state: dict[str, torch.Tensor]) -> float:
        t0 = time.perf_counter()
        cpu_state = {k: v.detach().to("cpu") for k, v in state.items()}
        # vLLM's in-place reload maps checkpoint names onto its fused/repacked layout; the engine
        # core is in this process, so the tensors are handed over without serialisation
        self.llm.collective_rpc(_reload_keeping_buffers, args=(list(cpu_state.items()),))
        self.llm.reset_prefix_cache()
        return time.perf_counter() - t0

    def close(self) -> None:
        del self.llm
