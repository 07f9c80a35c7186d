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
from dataclasses import dataclass

import torch

from trainer.vllm_worker_ext import reload_in_place


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
        # the same in-place reload as the rollout servers' (it redoes the CPU MoE prepacking that
        # vLLM's own reload skips); the engine core is in this process: no serialisation
        self.llm.collective_rpc(reload_in_place, args=(list(cpu_state.items()),))
        self.llm.reset_prefix_cache()
        return time.perf_counter() - t0

    def close(self) -> None:
        del self.llm
