"""The one grading front-end: every path (in-process, the RL adapters, the reward service) turns an
item into the same ``GradeResult``, with the same reason for the same bad item.

``grade_one`` grades a single item and never raises for a bad one; ``grade_items`` grades a mixed
list in-process (grouped per verifier and options, through ``grade_batch``) or, given a URL or
$RING_REWARD_URL, through ``ring reward serve``, which itself calls ``grade_one``.
"""
from __future__ import annotations

import json
import os
import time
from typing import Any, Optional, Sequence, Union

from pydantic import BaseModel, Field

from evaluators.registry import get_verifier
from evaluators.verdict import Verdict
from evaluators.verifier import Verifier
from ring_core.jsonsafe import jsonable


class GradeResult(BaseModel):
    """The verdict for one item (score is the reward)."""

    verifier: str
    score: float
    correct: bool
    extracted: Optional[str] = None
    reason: str
    elapsed_s: float = Field(..., description="Grading wall time (seconds), or time until the deadline.")
    id: Optional[str] = None
    error: Optional[str] = Field(None, description="Set when the item itself was invalid (score 0).")
    details: dict[str, Any] = Field(default_factory=dict)


def from_verdict(verifier: str, verdict: Verdict, item_id: str | None = None) -> GradeResult:
    return GradeResult(verifier=verifier, score=float(verdict.score), correct=bool(verdict.correct),
                       extracted=verdict.extracted, reason=verdict.reason, elapsed_s=float(verdict.elapsed_s),
                       id=item_id, details=jsonable(verdict.details))


def failed(verifier: str, reason: str, elapsed_s: float, item_id: str | None = None,
           error: str | None = None) -> GradeResult:
    """Score 0 without a verdict: ``timeout``, ``invalid item`` or ``grader error``."""
    return GradeResult(verifier=verifier, score=0.0, correct=False, reason=reason, elapsed_s=elapsed_s,
                       id=item_id, error=error)


def grade_one(verifier: Union[str, Verifier], response: Any, reference: Any, options: dict[str, Any] | None = None,
              *, item_id: str | None = None, deadline: float | None = None) -> GradeResult:
    """Grade one item; never raises for a bad item. ``deadline`` is a ``time.monotonic()`` instant."""
    v = get_verifier(verifier) if isinstance(verifier, str) else verifier
    start = time.monotonic()
    if deadline is not None and start >= deadline:
        return failed(v.name, "timeout", 0.0, item_id)
    if reference is None:
        return failed(v.name, "invalid item", 0.0, item_id, "the reference is null: nothing to grade against")
    try:
        opts = v.check_options(options, trusted_ok=True)
        if deadline is not None:
            opts = v.options_within(opts, deadline - start)
        verdict = v.grade_checked(response, reference, opts)
    except (ValueError, TypeError, KeyError) as exc:
        # the graders raise these for references/responses they cannot use
        return failed(v.name, "invalid item", time.monotonic() - start, item_id, _message(exc))
    except Exception as exc:  # a grader fault must cost one item, not the batch
        return failed(v.name, "grader error", time.monotonic() - start, item_id,
                      f"{type(exc).__name__}: {_message(exc)}")
    return from_verdict(v.name, verdict, item_id)


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:500]


def grade_items(items: Sequence[dict[str, Any]], *, url: str | None = None, api_key: str | None = None,
                timeout_s: float | None = None) -> list[GradeResult]:
    """Grade dicts with ``verifier``, ``response``, ``reference`` (optional ``options``, ``id``).

    Remote when ``url`` (or $RING_REWARD_URL) is set, else in-process; ``timeout_s`` is the
    service's per-request deadline (remote only). An unusable item (null or unusable reference,
    unknown verifier or option) gets score 0 with its message in ``error``, in-process as remotely.
    """
    url = url or os.environ.get("RING_REWARD_URL") or None
    if url:
        return _grade_remote(items, url, api_key, timeout_s)
    return _grade_local(items)


def _grade_remote(items: Sequence[dict[str, Any]], url: str, api_key: str | None,
                  timeout_s: float | None) -> list[GradeResult]:
    from evaluators.compat.reward_client import client_for

    key = api_key if api_key is not None else os.environ.get("RING_API_KEY")
    return [GradeResult.model_validate(r) for r in client_for(url, key).grade(items, timeout_s=timeout_s)]


def _grade_local(items: Sequence[dict[str, Any]]) -> list[GradeResult]:
    out: list[GradeResult | None] = [None] * len(items)
    groups: dict[tuple[str, str], list[int]] = {}  # items sharing verifier and options
    for i, it in enumerate(items):
        key = (it["verifier"], json.dumps(it.get("options") or {}, sort_keys=True, default=str))
        groups.setdefault(key, []).append(i)
    for (name, _), idx in groups.items():
        try:  # like the service: only the declared options, checked before any grading
            verifier = get_verifier(name)
            opts = verifier.check_options(items[idx[0]].get("options"), trusted_ok=False)
        except (KeyError, ValueError) as exc:  # an unknown verifier or option costs its items only
            for i in idx:
                out[i] = failed(name, "invalid item", 0.0, items[i].get("id"), _message(exc))
            continue
        for i, result in zip(idx, _grade_group(verifier, [items[i] for i in idx], opts)):
            out[i] = result
    return out  # type: ignore[return-value]


def _grade_group(verifier: Verifier, group: list[dict[str, Any]], opts: dict[str, Any]) -> list[GradeResult]:
    try:
        verdicts = verifier.grade_batch([(it["response"], it["reference"]) for it in group], **opts)
    except Exception:  # one bad item spoils grade_batch: grade one by one to isolate it
        return [grade_one(verifier, it["response"], it["reference"], opts, item_id=it.get("id")) for it in group]
    return [from_verdict(verifier.name, v, it.get("id")) for v, it in zip(verdicts, group)]
