"""Grade the items of a request through the shared verifiers, turning every outcome into a ``Result``.

Math and GPQA grades are fast (well under a millisecond on the common path) and bound their own
time: the math grader kills its sympy worker at ``timeout_s``. So a request's items of those
verifiers go to the grading threads in a few chunks, one thread call each, instead of one call
per item: per-item thread dispatch cost as much as the grading itself. Code items run seconds of
sandboxed tests and keep one call per item, so a hung one is abandoned alone.
"""
from __future__ import annotations

import asyncio
import math
import time
from typing import Any, Sequence

from evaluators import get_verifier
from ring_serve.reward.queue import GradingRunner, Timeout
from ring_serve.reward.schemas import Result

DEFAULT_MATH_TIMEOUT_S = 5.0
CHUNKED = frozenset({"math", "gpqa"})  # verifiers that bound their own time per item
MIN_CHUNK = 32  # a thread hop per chunk costs about as much as grading a few fast items


class Job:
    """One item ready to grade: verifier resolved, options checked."""

    __slots__ = ("verifier", "response", "reference", "options", "id")

    def __init__(self, verifier: str, response: str, reference: Any, options: dict[str, Any],
                 item_id: str | None = None):
        self.verifier, self.response, self.reference = verifier, response, reference
        self.options, self.id = options, item_id


def grade_one(job: Job, deadline: float) -> Result:
    """Blocking; never raises for a bad item: invalid references and grader faults become results."""
    start = time.monotonic()
    if start >= deadline:
        return _timeout(job, 0.0)
    opts = dict(job.options)
    if job.verifier == "math":
        # the math grader kills its sympy worker at timeout_s: never let it outlive the deadline
        opts["timeout_s"] = min(opts.get("timeout_s", DEFAULT_MATH_TIMEOUT_S), max(deadline - start, 0.01))
    try:
        v = get_verifier(job.verifier).grade(job.response, job.reference, **opts)
    except (ValueError, TypeError, KeyError) as exc:
        # the graders raise these for references/responses they cannot use
        return Result(verifier=job.verifier, score=0.0, correct=False, reason="invalid item",
                      elapsed_s=time.monotonic() - start, id=job.id, error=_message(exc))
    except Exception as exc:  # a grader fault must cost one item, not the request
        return Result(verifier=job.verifier, score=0.0, correct=False, reason="grader error",
                      elapsed_s=time.monotonic() - start, id=job.id,
                      error=f"{type(exc).__name__}: {_message(exc)}")
    return Result(verifier=job.verifier, score=float(v.score), correct=bool(v.correct),
                  extracted=v.extracted, reason=v.reason, elapsed_s=float(v.elapsed_s), id=job.id,
                  details=_jsonable(v.details))


def _grade_chunk(jobs: Sequence[Job], deadline: float, out: list[Result | None]) -> None:
    # results land in ``out`` as they finish, so a chunk cut off by its deadline keeps its done items
    for i, job in enumerate(jobs):
        out[i] = grade_one(job, deadline)


async def grade_jobs(runner: GradingRunner, jobs: Sequence[Job], deadline: float) -> list[Result]:
    """All items of one request, concurrently; an item not graded by ``deadline`` gets ``timeout``."""
    out: list[Result | None] = [None] * len(jobs)
    chunked = [i for i, j in enumerate(jobs) if j.verifier in CHUNKED]
    single = [i for i, j in enumerate(jobs) if j.verifier not in CHUNKED]
    # spread a large request over the grading threads; a small one costs one thread call
    size = max(MIN_CHUNK, math.ceil(len(chunked) / runner.workers)) if chunked else 1
    groups = [chunked[a:a + size] for a in range(0, len(chunked), size)] + [[i] for i in single]

    async def run(group: list[int]) -> None:
        picked = [jobs[i] for i in group]
        part: list[Result | None] = [None] * len(group)
        try:
            await runner.run(_grade_chunk, picked, deadline, part, deadline=deadline)
        except Timeout:
            pass
        for i, res in zip(group, part):
            out[i] = res

    start = time.monotonic()
    await asyncio.gather(*(run(g) for g in groups))
    waited = time.monotonic() - start
    return [r if r is not None else _timeout(jobs[i], waited) for i, r in enumerate(out)]


def _timeout(job: Job, elapsed: float) -> Result:
    return Result(verifier=job.verifier, score=0.0, correct=False, reason="timeout", elapsed_s=elapsed,
                  id=job.id)


def outcome(result: Result) -> str:
    if result.error:
        return "error"
    if result.reason == "timeout":
        return "timeout"
    return "correct" if result.correct else "incorrect"


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:500]


def _jsonable(value: Any) -> Any:
    """Details as plain JSON types (floats stay finite so the response always encodes)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)
