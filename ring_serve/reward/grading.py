"""Grade one item through the shared verifiers, turning every outcome into a ``Result``."""
from __future__ import annotations

import time
from typing import Any

from evaluators import get_verifier
from ring_serve.reward.queue import GradingRunner, Timeout
from ring_serve.reward.schemas import Result

DEFAULT_MATH_TIMEOUT_S = 5.0


def _grade_blocking(verifier: str, response: str, reference: Any, options: dict[str, Any],
                    deadline: float):
    opts = dict(options)
    if verifier == "math":
        # the math grader kills its sympy worker at timeout_s: never let it outlive the deadline
        left = max(deadline - time.monotonic(), 0.01)
        opts["timeout_s"] = min(opts.get("timeout_s", DEFAULT_MATH_TIMEOUT_S), left)
    return get_verifier(verifier).grade(response, reference, **opts)


async def grade_item(runner: GradingRunner, verifier: str, response: str, reference: Any,
                     options: dict[str, Any], deadline: float, item_id: str | None = None) -> Result:
    """Never raises for a bad item: timeouts, invalid references and grader faults become results."""
    start = time.monotonic()
    try:
        v = await runner.run(_grade_blocking, verifier, response, reference, options, deadline,
                             deadline=deadline)
    except Timeout:
        return Result(verifier=verifier, score=0.0, correct=False, reason="timeout",
                      elapsed_s=time.monotonic() - start, id=item_id)
    except (ValueError, TypeError, KeyError) as exc:
        # the graders raise these for references/responses they cannot use
        return Result(verifier=verifier, score=0.0, correct=False, reason="invalid item",
                      elapsed_s=time.monotonic() - start, id=item_id, error=_message(exc))
    except Exception as exc:  # a grader fault must cost one item, not the request
        return Result(verifier=verifier, score=0.0, correct=False, reason="grader error",
                      elapsed_s=time.monotonic() - start, id=item_id,
                      error=f"{type(exc).__name__}: {_message(exc)}")
    return Result(verifier=verifier, score=float(v.score), correct=bool(v.correct),
                  extracted=v.extracted, reason=v.reason, elapsed_s=float(v.elapsed_s), id=item_id,
                  details=_jsonable(v.details))


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
