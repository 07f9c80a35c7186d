"""Serving and scoring one checkpoint for the demo: `ring serve`'s launcher, one chat request, and
`ring eval` on the held-out synthetic suite and a few AIME 2024 problems (every sample in the DB)."""
from __future__ import annotations

import json
from pathlib import Path

from ring_core.service import free_port
from ring_serve.demo.recipe import KINDS, MAX_OPERAND, Recipe
from ring_serve.vllm_server import ServeOptions, VllmServer

HELDOUT_TOKENS = 40  # the add/chain traces' generation limit (trainer.data.response_tokens)


def checkpoint_server(checkpoint: str, name: str, log: Path) -> VllmServer:
    # 1024 tokens: the longest of the AIME prompts is about 430 tiny-tokenizer tokens, plus the answer.
    # --enforce-eager: torch.compile's warm-up took 40-80 s per new checkpoint here and served the
    # tiny model no faster (held-out eval 74 s eager vs 81 s compiled, same load)
    opts = ServeOptions(model=checkpoint, served_name=name, port=free_port(), max_model_len=1024, kv_cache_gb=1.0,
                        extra_args=["--enforce-eager"])
    return VllmServer(opts, log_path=log)


def heldout_config(r: Recipe):
    from trainer.config import HeldoutConfig

    # n_train/train_n_val default to the SFT run's split, so the training questions are left out
    return HeldoutConfig(seed=r.seed, kinds=KINDS, max_operand=MAX_OPERAND, n_val=r.heldout_draw)


def heldout_suite(r: Recipe) -> Path:
    """The held-out problems as a `jsonl:` suite (written once per seed)."""
    from ring_serve.served_eval import write_suite

    path = r.home / "heldout" / f"heldout-seed{r.seed}-{'+'.join(KINDS)}-op{MAX_OPERAND}-n{r.heldout_draw}.jsonl"
    if not path.is_file():
        write_suite(path, heldout_config(r))
    template = path.with_name("raw_question.txt")
    template.write_text("{problem}", encoding="utf-8")  # the format SFT taught: the bare question
    return path


def first_problem(suite: Path) -> str:
    with suite.open(encoding="utf-8") as fh:
        return json.loads(fh.readline())["problem"]


def eval_fields(r: Recipe) -> dict:
    """The recipe fields that decide the eval runs (a change re-scores)."""
    keep = ("seed", "heldout_draw", "heldout_k", "aime_limit", "aime_k", "aime_max_tokens")
    return {k: v for k, v in r.fields().items() if k in keep}


def eval_configs(r: Recipe, server: VllmServer, name: str, suite: Path) -> dict:
    """Held-out at T = 1 (RL's own sampling, k samples), AIME 2024 with the paper's sampling."""
    from evaluators.runner.run import EvalConfig

    common = dict(endpoint=server.base_url + "/v1", model=name, seed=r.seed, concurrency=32,
                  api_key=server.opts.api_key, progress=False)
    template = suite.with_name("raw_question.txt")
    return {
        "heldout": EvalConfig(suites=[f"jsonl:{suite}"], k=r.heldout_k, temperature=1.0, top_p=1.0,
                              max_tokens=HELDOUT_TOKENS, prompt_overrides=[f"math={template}"],
                              tags=["demo", "heldout"], **common),
        "aime24": EvalConfig(suites=["aime24"], limit=r.aime_limit, k=r.aime_k, temperature=1.0, top_p=0.95,
                             max_tokens=r.aime_max_tokens, tags=["demo"], **common),
    }


def evaluate(cfg) -> int:
    """Run one `ring eval` suite; its run id (raises EvalError unless every sample came back)."""
    from evaluators.runner.run import EvalError, run_eval

    (run,) = run_eval(cfg)
    if run.status != "done" or run.errors:
        raise EvalError(f"{cfg.model} on {cfg.suites[0]}: {run.status} with {run.errors} failed requests: "
                        f"{run.last_error}")
    return run.run_id


def ask(server: VllmServer, name: str, question: str) -> dict:
    """One greedy chat request; the reasoning parser hands back reasoning and answer apart."""
    from openai import OpenAI

    client = OpenAI(base_url=server.base_url + "/v1", api_key=server.opts.api_key or "none")
    reply = client.chat.completions.create(model=name, max_tokens=64, temperature=0.0, seed=0,
                                           messages=[{"role": "user", "content": question}])
    msg = reply.choices[0].message
    return {"question": question, "reasoning": getattr(msg, "reasoning", None) or
            getattr(msg, "reasoning_content", None), "answer": msg.content,
            "completion_tokens": reply.usage.completion_tokens}


def reward_counts(base_url: str, headers: dict[str, str]) -> dict:
    """Requests and graded items as the reward service's own Prometheus ``/metrics`` counts them."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(urllib.request.Request(base_url + "/metrics", headers=headers), timeout=10) as resp:
        text = resp.read().decode()
    out = {"reward_requests": 0.0, "items": {}}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "ring_reward_requests_total" and s.labels.get("route") == "/v1/reward":
                out["reward_requests"] += s.value
            elif s.name == "ring_reward_items_total":
                out["items"][s.labels["outcome"]] = out["items"].get(s.labels["outcome"], 0.0) + s.value
    return out
