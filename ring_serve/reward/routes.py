"""HTTP endpoints: per-verifier and mixed reward batches, OpenRLHF's /get_reward, introspection."""
from __future__ import annotations

import time
from collections import Counter
from typing import Any, Union

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from evaluators.compat.openrlhf import strip_prompt
from evaluators.registry import available, get_verifier, verifier_for_source
from evaluators.verifier import OptionError
from ring_serve.reward.dispatch import Job, grade_jobs, outcome
from ring_serve.reward.schemas import (GradeBatch, GradeItem, Health, MixedBatch, OpenRLHFRequest,
                                       OpenRLHFResponse, RewardResponse, VerifierInfo,
                                       VerifiersResponse)

router = APIRouter()

ERRORS = {404: {"description": "Unknown verifier (the message lists the known ones)"},
          413: {"description": "Body or batch too large"},
          422: {"description": "Invalid request (field messages)"},
          429: {"description": "Queue full: retry after the Retry-After header's seconds"}}


def _json(model) -> Response:
    # the models were built from validated values: skip FastAPI's second validation and encoding
    return Response(model.model_dump_json(), media_type="application/json")


def _known_verifier(name: str) -> str:
    if name not in available():
        raise HTTPException(404, f"unknown verifier {name!r}; known: {', '.join(available())}")
    return name


def _options(verifier: str, where: str, *layers: dict[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer or {})
    try:
        return get_verifier(verifier).check_options(merged, trusted_ok=False)
    except OptionError as exc:
        raise HTTPException(422, f"{where}: {exc}") from None


async def _grade_jobs(request: Request, jobs: list[Job], timeout_s: float | None):
    """Admit the jobs (or 429), grade them concurrently under one deadline."""
    state = request.app.state.reward
    settings = state.settings
    if len(jobs) > settings.max_batch:
        raise HTTPException(413, f"batch of {len(jobs)} items exceeds the limit of {settings.max_batch}")
    if not jobs:
        return []
    if not state.admission.try_acquire(len(jobs)):
        state.metrics.rejected.inc()
        raise HTTPException(429, "reward queue is full; retry later",
                            headers={"Retry-After": str(state.retry_after())})
    state.metrics.queue_depth.set(state.admission.depth)
    deadline_s = min(timeout_s or settings.deadline_s, settings.max_deadline_s)
    deadline = time.monotonic() + deadline_s
    try:
        results = await grade_jobs(state.runner, jobs, deadline)
    finally:
        state.admission.release(len(jobs))
        state.metrics.queue_depth.set(state.admission.depth)
        state.metrics.abandoned.set(state.runner.abandoned)
    counts = Counter()
    for r in results:
        state.observe(r)
        counts[r.verifier, outcome(r)] += 1
        state.metrics.grade_seconds.labels(r.verifier).observe(r.elapsed_s)
    # one counter update per (verifier, outcome) rather than per item
    for (verifier, result), n in counts.items():
        state.metrics.items.labels(verifier, result).inc(n)
        if result == "timeout":
            state.metrics.timeouts.labels(verifier).inc(n)
    return results


@router.post("/v1/reward/{verifier}", response_model=RewardResponse, responses=ERRORS,
             summary="Grade one item or a batch with one verifier")
async def reward_one_verifier(verifier: str, body: Union[GradeItem, GradeBatch], request: Request):
    """A single item answers 422 when its reference is unusable; in a batch such an item gets
    score 0 and an ``error`` message while the rest are graded."""
    start = time.monotonic()
    name = _known_verifier(verifier)
    single = isinstance(body, GradeItem)
    items = [body] if single else body.items
    defaults = None if single else body.options
    jobs = [Job(name, it.response, it.reference, _options(name, f"items[{i}].options", defaults, it.options),
                it.id) for i, it in enumerate(items)]
    results = await _grade_jobs(request, jobs, None if single else body.timeout_s)
    if single and results[0].error:
        raise HTTPException(422, f"invalid item for verifier {name!r}: {results[0].error}")
    return _json(RewardResponse(results=results, elapsed_s=time.monotonic() - start))


@router.post("/v1/reward", response_model=RewardResponse, responses=ERRORS,
             summary="Grade a mixed batch; each item names its verifier or data_source")
async def reward_mixed(body: MixedBatch, request: Request):
    start = time.monotonic()
    jobs = []
    for i, it in enumerate(body.items):
        if it.verifier is not None:
            name = _known_verifier(it.verifier)
        elif it.data_source is not None:
            name = verifier_for_source(it.data_source)
            if name is None:
                raise HTTPException(422, f"items[{i}].data_source {it.data_source!r} maps to no verifier; "
                                         f"name one of {', '.join(available())} in 'verifier'")
        else:
            raise HTTPException(422, f"items[{i}] needs 'verifier' or 'data_source'")
        jobs.append(Job(name, it.response, it.reference, _options(name, f"items[{i}].options", it.options),
                        it.id))
    results = await _grade_jobs(request, jobs, body.timeout_s)
    return _json(RewardResponse(results=results, elapsed_s=time.monotonic() - start))


@router.post("/get_reward", response_model=OpenRLHFResponse, responses=ERRORS,
             summary="OpenRLHF remote reward model protocol (--remote_rm_url)")
async def openrlhf_reward(body: OpenRLHFRequest, request: Request,
                          verifier: str = Query("math", max_length=64,
                                                description="Verifier when no data_source is given.")):
    n = len(body.query)
    if body.labels is None:
        raise HTTPException(422, "labels are required (the reference answers)")
    for field, value in (("prompts", body.prompts), ("labels", body.labels)):
        if value is not None and len(value) != n:
            raise HTTPException(422, f"{field} has {len(value)} entries but query has {n}")
    sources = body.data_source
    if isinstance(sources, list) and len(sources) != n:
        raise HTTPException(422, f"data_source has {len(sources)} entries but query has {n}")
    jobs = []
    for i in range(n):
        source = sources[i] if isinstance(sources, list) else sources
        if source is not None:
            name = verifier_for_source(source)
            if name is None:
                raise HTTPException(422, f"data_source {source!r} maps to no verifier")
        else:
            name = _known_verifier(verifier)
        prompt = body.prompts[i] if body.prompts else None
        jobs.append(Job(name, strip_prompt(body.query[i], prompt), body.labels[i], {}))
    results = await _grade_jobs(request, jobs, None)
    rewards = [r.score for r in results]
    return _json(OpenRLHFResponse(rewards=rewards, scores=rewards,
                            extra_logs={"correct": [float(r.correct) for r in results],
                                        "timeout": [float(r.reason == "timeout") for r in results],
                                        "error": [float(r.error is not None) for r in results]}))


@router.get("/v1/verifiers", response_model=VerifiersResponse, summary="Verifier names, versions, options")
async def list_verifiers():
    infos = []
    for name in available():
        v = get_verifier(name)
        infos.append(VerifierInfo(name=name, version=str(v.version), options=v.describe()))
    examples = {s: verifier_for_source(s) for s in ("aime_2024", "lighteval/MATH-500", "gsm8k", "gpqa_diamond",
                                             "livecodebench", "codecontests")}
    return VerifiersResponse(verifiers=infos, data_source_examples=examples)


@router.get("/health", response_model=Health, summary="Liveness and queue state")
async def health(request: Request):
    state = request.app.state.reward
    return Health(status="ok", queue_depth=state.admission.depth, queue_size=state.admission.size,
                  abandoned_threads=state.runner.abandoned, verifiers=available())


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
async def metrics(request: Request):
    state = request.app.state.reward
    state.metrics.queue_depth.set(state.admission.depth)
    state.metrics.abandoned.set(state.runner.abandoned)
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
