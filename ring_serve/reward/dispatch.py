"""Dispatch a request's items to the grading threads; each item is graded by ``evaluators.grading``.

Verifiers that bound their own time per item (``bounds_own_time``: math kills its sympy worker at
``timeout_s``, gpqa is a bounded regex scan) are fast, well under a millisecond on the common
path. So a request's items of those verifiers go to the grading threads in a few chunks, one
thread call each, instead of one call per item: per-item thread dispatch cost as much as the
grading itself. Other items (code: seconds of sandboxed tests) keep one call per item, so a hung
one is abandoned alone.
"""
from __future__ import annotations

import asyncio
import math
import time
from typing import Any, Sequence

from evaluators.grading import GradeResult, failed, grade_one
from evaluators.registry import get_verifier
from ring_serve.reward.queue import GradingRunner, Timeout

MIN_CHUNK = 32  # a thread hop per chunk costs about as much as grading a few fast items


class Job:
    """One item ready to grade: verifier resolved, options checked."""

    __slots__ = ("verifier", "response", "reference", "options", "id")

    def __init__(self, verifier: str, response: str, reference: Any, options: dict[str, Any],
                 item_id: str | None = None):
        self.verifier, self.response, self.reference = verifier, response, reference
        self.options, self.id = options, item_id


def grade_job(job: Job, deadline: float) -> GradeResult:
    """Blocking; never raises for a bad item (see ``evaluators.grading.grade_one``)."""
    return grade_one(job.verifier, job.response, job.reference, job.options, item_id=job.id,
                     deadline=deadline)


def _grade_chunk(jobs: Sequence[Job], deadline: float, out: list[GradeResult | None]) -> None:
    # results land in ``out`` as they finish, so a chunk cut off by its deadline keeps its done items
    for i, job in enumerate(jobs):
        out[i] = grade_job(job, deadline)


def _groups(jobs: Sequence[Job], workers: int) -> list[list[int]]:
    """Job indexes per thread call: self-bounded items in a few chunks, the others one each."""
    chunked = [i for i, j in enumerate(jobs) if get_verifier(j.verifier).bounds_own_time]
    picked = set(chunked)
    single = [[i] for i in range(len(jobs)) if i not in picked]
    # spread a large request over the grading threads; a small one costs one thread call
    size = max(MIN_CHUNK, math.ceil(len(chunked) / workers)) if chunked else 1
    return [chunked[a:a + size] for a in range(0, len(chunked), size)] + single


async def grade_jobs(runner: GradingRunner, jobs: Sequence[Job], deadline: float) -> list[GradeResult]:
    """All items of one request, concurrently; an item not graded by ``deadline`` gets ``timeout``."""
    out: list[GradeResult | None] = [None] * len(jobs)

    async def run(group: list[int]) -> None:
        part: list[GradeResult | None] = [None] * len(group)
        try:
            await runner.run(_grade_chunk, [jobs[i] for i in group], deadline, part, deadline=deadline)
        except Timeout:
            pass
        for i, res in zip(group, part):
            out[i] = res

    start = time.monotonic()
    await asyncio.gather(*(run(g) for g in _groups(jobs, runner.workers)))
    waited = time.monotonic() - start
    return [r if r is not None else failed(jobs[i].verifier, "timeout", waited, jobs[i].id)
            for i, r in enumerate(out)]


def outcome(result: GradeResult) -> str:
    if result.error:
        return "error"
    if result.reason == "timeout":
        return "timeout"
    return "correct" if result.correct else "incorrect"
