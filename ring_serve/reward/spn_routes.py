"""`POST /v1/spn/map`: a MAP query on an SPN sent as text, under the reward service's limits
(body size, queue admission with 429 + Retry-After, per-request deadline capped by the server).

The exact solver is anytime: it gets most of the time left as its time limit and answers with
``optimal: false`` when it runs out. Other solvers that overrun the deadline answer 504. A bad
SPN, query or option answers 422 with the message."""
from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from ring_serve.reward.queue import Timeout

router = APIRouter()
EXACT_SHARE = 0.8  # of the time left after parsing, so the exact best-so-far arrives in time


class MapRequest(BaseModel):
    spn: str = Field(..., description="The SPN in the text format of spn.textformat.")
    query: list[int] | None = Field(None, description="Query variables; default: all but the evidence.")
    evidence: dict[int, int] = Field(default_factory=dict, description="{variable: 0 or 1}")
    method: str = Field("exact", description="exact, brute, best_tree, kbt, greedy, amap or beam")
    k: int = Field(10, ge=1, le=1000, description="K-Best Tree: trees per node")
    width: int = Field(10, ge=1, le=1000, description="Beam search width")
    timeout_s: float | None = Field(None, gt=0, description="Deadline (capped by the server's maximum)")


class MapResponse(BaseModel):
    method: str
    assignment: dict[str, int]
    log_value: float | None = Field(description="log S(q, e) with hidden variables summed out; null for 0")
    optimal: bool
    seconds: float
    stats: dict
    elapsed_s: float


def answer(body: MapRequest, deadline: float) -> dict:
    """Parse and solve (runs in a worker thread); SPNError for anything the caller got wrong."""
    from spn.solvers import solve
    from spn.textformat import parse

    spn = parse(body.spn)
    time_limit = max(0.01, EXACT_SHARE * (deadline - time.monotonic()))
    query = body.query if body.query is not None else [v for v in range(spn.n_vars) if v not in body.evidence]
    options = {"exact": {"time_limit": time_limit}, "kbt": {"k": body.k}, "beam": {"width": body.width}}
    return solve(spn, query, body.evidence, body.method, **options.get(body.method, {})).to_json()


@router.post("/v1/spn/map", response_model=MapResponse, summary="MAP inference in a sum-product network",
             responses={413: {"description": "Body too large"}, 422: {"description": "Bad SPN or query"},
                        429: {"description": "Queue full"}, 504: {"description": "Deadline passed"}})
async def spn_map(body: MapRequest, request: Request):
    from spn.network import SPNError

    start = time.monotonic()
    state = request.app.state.reward
    settings = state.settings
    if not state.admission.try_acquire(1):
        state.metrics.rejected.inc()
        raise HTTPException(429, "queue is full; retry later", headers={"Retry-After": str(state.retry_after())})
    deadline_s = min(body.timeout_s or settings.deadline_s, settings.max_deadline_s)
    try:
        deadline = time.monotonic() + deadline_s
        result = await state.runner.run(answer, body, deadline, deadline=deadline)
    except SPNError as exc:
        raise HTTPException(422, str(exc)) from None
    except Timeout:
        raise HTTPException(504, f"{body.method} did not finish within the {deadline_s:g}s deadline") from None
    finally:
        state.admission.release(1)
    if result["log_value"] == float("-inf"):
        result["log_value"] = None  # JSON has no -inf: the evidence is impossible
    return MapResponse(**result, elapsed_s=time.monotonic() - start)
