"""`ring eval --harness lm-eval`: run lm-eval's ``simple_evaluate`` against the endpoint and store
its per-sample results and aggregate metrics in the Ring Lab DB (one run per lm-eval task)."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
TASKS_DIR = Path(__file__).resolve().parents[1] / "lm_eval_tasks"


class LmEvalError(Exception):
    """lm-eval is missing, a task is unknown, or the harness failed."""


@contextmanager
def _env(**values: str | None):
    old = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is not None:
                os.environ[k] = v
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class ServerErrors(logging.Handler):
    """Keeps the reason lm-eval logs for a failed API request (its exception drops the body)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.last: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "API request failed" in text:
            self.last = text.split("Response text:", 1)[-1].removesuffix("Retrying...").strip(" .")[:500]


@contextmanager
def _server_errors():
    handler, logger = ServerErrors(), logging.getLogger("lm_eval.models.api_models")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def served_context(endpoint: str, model: str, api_key: str | None = None) -> int | None:
    """The model's context length as the endpoint's ``GET /models`` lists it (vLLM), else None."""
    import httpx

    from evaluators.runner.chat_client import listed_context

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        resp = httpx.get(endpoint.rstrip("/") + "/models", headers=headers, timeout=30)
        entries = resp.json().get("data") or [] if resp.status_code == 200 else []
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return listed_context(entries, model)


def fit_max_tokens(max_tokens: int, context: int | None) -> int:
    """``max_tokens`` capped so that a prompt still fits the context beside it.

    lm-eval always sends ``max_tokens``, and vLLM rejects prompt + ``max_tokens`` over the
    context; the prompt gets half the context, at most 1024 tokens (our prompts are shorter).
    """
    if context is None:
        return max_tokens
    return max(1, min(max_tokens, context - min(1024, context // 2)))


def evaluate(*, endpoint: str, model: str, tasks: list[str], include_path: str | None = None,
             limit: int | None = None, api_key: str | None = None, max_tokens: int = 32768,
             temperature: float = 1.0, top_p: float = 0.95, concurrency: int = 8,
             seed: int | None = None) -> dict[str, Any]:
    """lm-eval's results dict (with per-sample logs) for ``tasks`` served by ``endpoint``."""
    try:
        from lm_eval import simple_evaluate
        from lm_eval.tasks import TaskManager
    except ImportError as exc:
        raise LmEvalError("lm-eval is not installed: pip install lm-eval") from exc
    # Indexing lm-eval's thousands of built-in YAMLs takes a minute on a small machine: skip it
    # when our include path already has every requested task.
    manager = TaskManager(include_path=str(include_path or TASKS_DIR), include_defaults=False)
    local_only = all(t in manager.all_tasks for t in tasks)
    if not local_only:
        manager = TaskManager(include_path=str(include_path or TASKS_DIR))
    unknown = [t for t in tasks if t not in manager.all_tasks]
    if unknown:
        raise LmEvalError(f"unknown lm-eval tasks {unknown}; ours: "
                          f"{sorted(t for t in manager.all_tasks if t.startswith('ring_'))}")
    context = served_context(endpoint, model, api_key)
    fitted = fit_max_tokens(max_tokens, context)
    if fitted != max_tokens:
        log.warning("--max-tokens %d does not fit %s's context of %d tokens (the server's max_model_len): "
                    "lm-eval asks for %d", max_tokens, model, context, fitted)
        max_tokens = fitted
    model_args = {"base_url": endpoint.rstrip("/") + "/chat/completions", "model": model,
                  "num_concurrent": concurrency, "max_retries": 3, "tokenized_requests": False,
                  "tokenizer_backend": None, "max_gen_toks": max_tokens}
    gen_kwargs = {"temperature": temperature, "top_p": top_p, "max_gen_toks": max_tokens}
    # lm-eval's local-chat-completions reads the key from OPENAI_API_KEY only; our own tasks read
    # local files, so the Hub is switched off for them (built-in tasks may need it)
    offline = "1" if local_only else None
    with _env(OPENAI_API_KEY=api_key, HF_DATASETS_OFFLINE=offline, HF_HUB_OFFLINE=offline), \
            _server_errors() as server:
        try:
            return simple_evaluate(model="local-chat-completions", model_args=model_args, tasks=tasks,
                                   task_manager=manager, limit=limit, log_samples=True,
                                   apply_chat_template=True, gen_kwargs=gen_kwargs,
                                   random_seed=seed if seed is not None else 0)
        except Exception as exc:  # noqa: BLE001 - the harness raises many types; report them plainly
            said = f"; the server said: {server.last}" if server.last else ""
            raise LmEvalError(f"lm-eval failed: {type(exc).__name__}: {exc}{said}") from exc


def _first_metric(metrics: dict[str, Any]) -> tuple[str | None, float]:
    for name, value in metrics.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return name, float(value)
    return None, 0.0


def task_suite(task: str, config: dict[str, Any]) -> str:
    """Leaderboard suite of an lm-eval task: its ``metadata.verifier`` (ours), else by name, else "other"."""
    from evaluators.registry import get_verifier, suite_for

    verifier = (config.get("metadata") or {}).get("verifier")
    if isinstance(verifier, str) and verifier:
        return get_verifier(verifier).suite
    return suite_for(task) or "other"


def store(results: dict[str, Any], *, model: str, endpoint: str, sampling: dict[str, Any],
          tags: list[str] | None = None, db_url: str | None = None,
          started_at: datetime | None = None) -> dict[str, dict[str, Any]]:
    """One run per task: samples keyed (doc_id, repeat) and the aggregate metrics."""
    import lm_eval

    from ring_core.store import api, db

    db.upgrade(db_url)
    out = {}
    samples = results.get("samples") or {}
    with db.session(db_url) as s:
        mrow = api.get_or_create_model(s, model, endpoint=endpoint)
        for task, agg in results["results"].items():
            config = (results.get("configs") or {}).get(task, {})
            # function reprs carry memory addresses that change every process
            text = re.sub(r" at 0x[0-9a-fA-F]+", "", json.dumps(config, sort_keys=True, default=str))
            digest = hashlib.sha256(text.encode()).hexdigest()
            version = f"lm-eval-{getattr(lm_eval, '__version__', '?')}+task-{results.get('versions', {}).get(task, '?')}"
            logged = samples.get(task, [])
            bench = api.get_or_create_benchmark(s, f"lm-eval:{task}", version, digest, suite=task_suite(task, config),
                                                num_problems=len({d['doc_id'] for d in logged}) or None)
            run_sampling = dict(sampling, limit=results.get("config", {}).get("limit"))
            repeats = max((len(d.get("resps") or []) for d in logged), default=1)
            run = api.get_or_create_run(s, mrow, bench, run_sampling, "lm-eval", max(repeats, 1),
                                        tags=["lm-eval", *(tags or [])])
            s.flush()
            api.set_run_status(s, run.id, "running", at=started_at)
            rows = []
            for d in logged:
                metrics = {m: d[m] for m in (d.get("metrics") or []) if m in d}
                name, score = _first_metric(metrics)
                resps = d.get("resps") or [[None]]
                filtered = d.get("filtered_resps") or [None] * len(resps)
                for i, resp in enumerate(resps):
                    text = resp[0] if isinstance(resp, list) and resp else resp
                    filt = filtered[i] if i < len(filtered) else None
                    rows.append(api.sample_row(
                        str(d["doc_id"]), i, prompt=str(d.get("arguments", ""))[:20000] or None,
                        answer=None if text is None else str(text), extracted=None if filt is None else str(filt),
                        correct=score >= 1.0, score=score,
                        reason=f"lm-eval {name}={score}" if name else "lm-eval: no metric",
                        details={"metrics": metrics, "target": str(d.get("target"))}))
            inserted = api.add_samples(s, run.id, rows)
            metrics = {k: v for k, v in agg.items() if k != "alias"}
            api.save_run_metrics(s, run.id, {"lm_eval": metrics, "samples": len(rows)})
            api.set_run_status(s, run.id, "done")
            out[task] = {"run_id": run.id, "samples": len(rows), "inserted": inserted, "metrics": metrics}
    return out


def run_lm_eval(*, endpoint: str, model: str, tasks: list[str], include_path: str | None = None,
                limit: int | None = None, api_key: str | None = None, max_tokens: int = 32768,
                temperature: float = 1.0, top_p: float = 0.95, concurrency: int = 8,
                seed: int | None = None, tags: list[str] | None = None,
                db_url: str | None = None) -> dict[str, dict[str, Any]]:
    """Evaluate with lm-eval, then store; returns {task: {run_id, samples, metrics}}."""
    from ring_core.store.models import utcnow

    tasks = [t.strip() for t in tasks if t.strip()]
    if not tasks:
        raise LmEvalError("no lm-eval tasks given")
    started_at = utcnow()
    results = evaluate(endpoint=endpoint, model=model, tasks=tasks, include_path=include_path, limit=limit,
                       api_key=api_key, max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                       concurrency=concurrency, seed=seed)
    if not results or not results.get("results"):
        raise LmEvalError("lm-eval returned no results")
    sampling = {"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens}
    return store(results, model=model, endpoint=endpoint, sampling=sampling, tags=tags, db_url=db_url,
                 started_at=started_at)
