"""HTTP endpoints: per-verifier and mixed reward batches, OpenRLHF's /get_reward, introspection."""
from __future__ import annotations

import time
from collections import Counter
from typing import Any, Union

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from evaluators.compat.openrlhf import strip_prompt
from evaluators.grading import GradeResult, failed
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


class InvalidItem(Exception):
    """One item of a batch that cannot be graded: it gets score 0 and this message, the rest go on."""


def _item_verifier(i: int, verifier: str | None, data_source: str | None) -> str:
    if verifier is not None:
        if verifier not in available():
            raise InvalidItem(f"items[{i}]: unknown verifier {verifier!r}; known: {', '.join(available())}")
        return verifier
    if data_source is None:
        raise InvalidItem(f"items[{i}] needs 'verifier' or 'data_source'")
    name = verifier_for_source(data_source)
    if name is None:
        raise InvalidItem(f"items[{i}]: data_source {data_source!r} maps to no verifier; "
                          f"name one of {', '.join(available())} in 'verifier'")
    return name


def _item_options(name: str, i: int, *layers: dict[str, Any] | None) -> dict[str, Any]:
    try:
        return _options(name, f"items[{i}].options", *layers)
    except HTTPException as exc:
        raise InvalidItem(exc.detail) from None


def _invalid(verifier: str, message: str, item_id: str | None = None) -> GradeResult:
    return failed(verifier, "invalid item", 0.0, item_id, error=message)


async def _grade_entries(request: Request, entries: list[Job | GradeResult], timeout_s: float | None):
    """Grade the jobs among ``entries``; items already failed validation keep their place."""
    graded = iter(await _grade_jobs(request, [e for e in entries if isinstance(e, Job)], timeout_s))
    return [next(graded) if isinstance(e, Job) else e for e in entries]


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
    """A single item answers 422 when it is unusable; in a batch such an item gets score 0 and an
    ``error`` message while the rest are graded."""
    start = time.monotonic()
    name = _known_verifier(verifier)
    if isinstance(body, GradeItem):
        job = Job(name, body.response, body.reference, _options(name, "options", body.options), body.id)
        (result,) = await _grade_jobs(request, [job], None)
        if result.error:
            raise HTTPException(422, f"invalid item for verifier {name!r}: {result.error}")
        return _json(RewardResponse(results=[result], elapsed_s=time.monotonic() - start))
    _options(name, "options", body.options)  # the batch's defaults are the request's own: 422
    entries: list[Job | GradeResult] = []
    for i, it in enumerate(body.items):
        try:
            entries.append(Job(name, it.response, it.reference, _item_options(name, i, body.options, it.options),
                               it.id))
        except InvalidItem as exc:
            entries.append(_invalid(name, str(exc), it.id))
    results = await _grade_entries(request, entries, body.timeout_s)
    return _json(RewardResponse(results=results, elapsed_s=time.monotonic() - start))


@router.post("/v1/reward", response_model=RewardResponse, responses=ERRORS,
             summary="Grade a mixed batch; each item names its verifier or data_source")
async def reward_mixed(body: MixedBatch, request: Request):
    """Each item is graded by its own verifier; an item naming none that is known, or with
    unusable options or reference, gets score 0 and an ``error`` message."""
    start = time.monotonic()
    entries: list[Job | GradeResult] = []
    for i, it in enumerate(body.items):
        try:
            name = _item_verifier(i, it.verifier, it.data_source)
            entries.append(Job(name, it.response, it.reference, _item_options(name, i, it.options), it.id))
        except InvalidItem as exc:
            entries.append(_invalid(it.verifier or "", str(exc), it.id))
    results = await _grade_entries(request, entries, body.timeout_s)
    return _json(RewardResponse(results=results, elapsed_s=time.monotonic() - start))


@router.post("/get_reward", response_model=OpenRLHFResponse, responses=ERRORS,
             summary="OpenRLHF remote reward model protocol (--reward.remote_url)")
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
    default = _known_verifier(verifier)
    entries: list[Job | GradeResult] = []
    for i in range(n):
        source = sources[i] if isinstance(sources, list) else sources
        try:
            name = default if source is None else _item_verifier(i, None, source)
            if body.labels[i] is None:
                raise InvalidItem(f"labels[{i}] is null: no reference answer to grade against")
            prompt = body.prompts[i] if body.prompts else None
            entries.append(Job(name, strip_prompt(body.query[i], prompt), body.labels[i], {}))
        except InvalidItem as exc:
            entries.append(_invalid(default if source is None else "", str(exc)))
    results = await _grade_entries(request, entries, None)
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
