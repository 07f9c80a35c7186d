"""Math answer grader: extract the final answer, parse both sides, compare.

Cheap paths (exact rationals, identical structure, text) run in the caller's thread; anything
needing sympy runs in a worker process under a hard wall-clock limit (``timeout_s``), so a
hostile answer can never hang the caller. ``in_process=True`` skips the pool for trusted input.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Sequence

from evaluators.math import extract
from evaluators.math.compare import FAST, NeedSympy, equal
from evaluators.math.normalize import choice_letter
from evaluators.math.parse import ParseError, TooLarge, parse_answer
from evaluators.math.pool import get_pool
from evaluators.registry import register
from evaluators.timeout_pool import PoolTimeout, WorkerError
from evaluators.verdict import Verdict

__all__ = ["grade", "grade_batch", "agrade", "MathVerifier"]
VERSION = "1.0"
DEFAULT_TIMEOUT_S = 5.0


def _verdict(ok: bool, extracted: str | None, reason: str, **details: Any) -> Verdict:
    return Verdict(correct=ok, score=1.0 if ok else 0.0, extracted=extracted, reason=reason,
                   details=details)


def _as_text(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and what == "reference":
        return str(value)
    raise TypeError(f"{what} must be a string, got {type(value).__name__}")


def grade(response: str, reference: str, *, timeout_s: float = DEFAULT_TIMEOUT_S,
          in_process: bool = False, **options: Any) -> Verdict:
    """Grade one response against one reference answer; never raises on odd content."""
    response = _as_text(response, "response")
    reference = _as_text(reference, "reference")
    if not timeout_s or timeout_s <= 0:
        raise ValueError("timeout_s must be positive")
    start = time.monotonic()
    v = _grade(response, reference, timeout_s, in_process, start)
    return replace(v, elapsed_s=time.monotonic() - start)


def _grade(response: str, reference: str, timeout_s: float, in_process: bool, start: float) -> Verdict:
    cands = extract.candidates(response)
    if not cands:
        if extract.strip_think(response) is None:
            return _verdict(False, None, "no answer (reasoning never closed)")
        return _verdict(False, None, "no answer found")
    gold_letter = _gold_choice(reference)
    if gold_letter:
        text = cands[0][0]
        letter = choice_letter(text) or _leading_choice(text)
        ok = letter == gold_letter
        return _verdict(ok, text, "same choice" if ok else "different choice", how=cands[0][1])
    try:
        gold = parse_answer(reference)
    except (ParseError, TooLarge, ValueError, ArithmeticError) as exc:
        gold = None
        gold_error = str(exc)
    multi_gold = gold is not None and gold[0] in ("list", "set")
    result = None
    for i, (cand, cand_how) in enumerate(cands):
        if i > 0 and not (cand_how == "all boxed" and multi_gold):
            continue  # several boxes count together only when the reference has several parts
        r = _compare_text(reference, gold, cand, timeout_s, in_process, start)
        r = replace(r, details={**r.details, "how": cand_how})
        if i == 0 or r.correct:
            result = r
        if r.correct:
            break
    if gold is None and not result.correct:
        result = replace(result, details={**result.details, "reference_error": gold_error})
    return result


def _compare_text(reference: str, gold, text: str, timeout_s: float, in_process: bool,
                  start: float) -> Verdict:
    try:
        pred = parse_answer(text)
    except TooLarge as exc:
        return _verdict(False, text, f"too large ({exc})")
    except (ParseError, ValueError, ArithmeticError):
        pred = None
    if gold is None or pred is None:
        ok = _squash(reference) == _squash(text)
        return _verdict(ok, text, "same text" if ok else "unparsable answer")
    try:
        ok, why = equal(gold, pred, FAST)
        return _verdict(ok, text, why)
    except NeedSympy:
        pass
    except TooLarge as exc:
        return _verdict(False, text, f"too large ({exc})")
    except (ArithmeticError, ValueError, TypeError, RecursionError) as exc:
        return _verdict(False, text, f"not comparable ({type(exc).__name__})")
    if in_process:
        from evaluators.math.symbolic import equal_sympy
        try:
            ok, why = equal_sympy(gold, pred)
        except TooLarge as exc:
            return _verdict(False, text, f"too large ({exc})")
        except Exception as exc:  # sympy can raise almost anything on odd input
            return _verdict(False, text, f"not comparable ({type(exc).__name__})")
        return _verdict(ok, text, why)
    remaining = timeout_s - (time.monotonic() - start)
    try:
        ok, why = get_pool().call("evaluators.math.symbolic", "equal_sympy", gold, pred,
                                  timeout_s=max(remaining, 0.001))
    except PoolTimeout:
        return _verdict(False, text, "timeout")
    except WorkerError as exc:
        if exc.kind == "memory":
            return _verdict(False, text, "too large (memory limit)")
        if "TooLarge" in str(exc):
            return _verdict(False, text, "too large")
        return _verdict(False, text, f"not comparable ({exc})")
    return _verdict(ok, text, why)


def _squash(s: str) -> str:
    return "".join(s.split()).strip("$.").lower()


def _gold_choice(reference: str) -> str | None:
    ref = reference.strip()
    if "(" in ref or "\\text" in ref or (len(ref) == 1 and ref.isupper()):
        return choice_letter(ref)
    return None


def _leading_choice(text: str) -> str | None:
    """``(C) 12`` or ``\\textbf{(C)}\\ 12`` -> ``C``."""
    import re

    t = re.sub(r"\\(?:text|textbf|mathrm|mathbf)\s*\{([^{}]*)\}", r"\1", text)
    m = re.match(r"^\s*\(([A-Ja-j])\)(?:\s|\\|$)", t)
    return m.group(1).upper() if m else None


def grade_batch(items: Sequence[tuple[str, str]], *, timeout_s: float = DEFAULT_TIMEOUT_S,
                in_process: bool = False, progress: bool = False, **options: Any) -> list[Verdict]:
    """Grade many ``(response, reference)`` pairs; sympy work spreads over all worker processes."""
    items = list(items)
    if not items:
        return []
    if in_process:
        threads = 1
    else:
        pool = get_pool()
        pool.warm()  # start-up cost stays out of the items' deadlines
        threads = pool.size  # one in-flight sympy call per worker: no queueing on the deadline

    def one(pair):
        response, reference = pair
        return grade(response, reference, timeout_s=timeout_s, in_process=in_process)

    with ThreadPoolExecutor(max_workers=threads) as ex:
        it = ex.map(one, items)
        if progress:
            from tqdm import tqdm

            it = tqdm(it, total=len(items), desc="math grading", unit="item")
        return list(it)


class MathVerifier:
    name = "math"
    version = VERSION

    def grade(self, response: str, reference: Any, **options: Any) -> Verdict:
        return grade(response, reference, **options)

    def grade_batch(self, items: Sequence[tuple[str, Any]], **options: Any) -> list[Verdict]:
        return grade_batch(items, **options)


register(MathVerifier())


async def agrade(response: str, reference: str, **options: Any) -> Verdict:
    """``grade`` for asyncio code: runs in a thread so the event loop never blocks."""
    import asyncio

    return await asyncio.to_thread(grade, response, reference, **options)
