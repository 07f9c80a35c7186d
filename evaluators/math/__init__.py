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

from pydantic import BaseModel, ConfigDict, Field

from evaluators.answer import NO_ANSWER, final_answer
from evaluators.math import decimal_comma, extract
from evaluators.math.compare import FAST, NeedSympy, equal
from evaluators.math.normalize import choice_letter
from evaluators.math.parse import ParseError, TooLarge, parse_answer
from evaluators.math.sympy_pool import get_pool
from evaluators.registry import register
from evaluators.timeout_pool import PoolTimeout, WorkerError
from evaluators.verdict import Verdict
from evaluators.verifier import Verifier

__all__ = ["grade", "grade_batch", "agrade", "MathVerifier", "MathOptions"]
VERSION = "1.1"
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


def grade(response: str, reference: str, **options: Any) -> Verdict:
    """Grade one response against one reference; never raises on odd content.

    ``reference`` is a bare answer (``"12"``, ``"\\frac{3}{4}"``) or a whole worked solution
    (MATH style): a solution's own final answer is extracted the same way as a response's (its
    boxed answers together, else "the answer is ...", ...) and reported in ``details``
    (``reference_answer``). Options are :class:`MathOptions` (``timeout_s``) plus
    ``in_process=True`` for trusted input.
    """
    return VERIFIER.grade(response, reference, **options)


def _grade_one(response: str, reference: str, timeout_s: float, in_process: bool) -> Verdict:
    response = _as_text(response, "response")
    reference = _as_text(reference, "reference")
    start = time.monotonic()
    v = _grade(response, reference, timeout_s, in_process, start)
    return replace(v, elapsed_s=time.monotonic() - start)


def _grade(response: str, reference: str, timeout_s: float, in_process: bool, start: float) -> Verdict:
    cands = extract.candidates(response)
    if not cands:
        if final_answer(response) is None:
            return _verdict(False, None, NO_ANSWER)
        return _verdict(False, None, "no answer found")
    reference, ref_how = extract.reference_answer(reference)
    ref_details = {} if ref_how == "bare" else {"reference_answer": reference, "reference_how": ref_how}
    gold_letter = _gold_choice(reference)
    if gold_letter:
        text = cands[0][0]
        letter = choice_letter(text) or _leading_choice(text)
        ok = letter == gold_letter
        return _verdict(ok, text, "same choice" if ok else "different choice", how=cands[0][1],
                        **ref_details)
    gold, gold_error = _parse_reference(reference)
    multi_gold = gold is not None and gold[0] in ("list", "set")
    result = None
    for i, (cand, cand_how) in enumerate(cands):
        if i > 0 and not (cand_how == "all boxed" and multi_gold):
            continue  # several boxes count together only when the reference has several parts
        r = _compare_candidate(reference, gold, cand, timeout_s, in_process, start)
        r = replace(r, details={**r.details, "how": cand_how, **ref_details})
        if i == 0 or r.correct:
            result = r
        if r.correct:
            break
    if gold is None and not result.correct:
        result = replace(result, details={**result.details, "reference_error": gold_error})
    return result


def _parse_reference(reference: str) -> tuple[Any, str | None]:
    """(parsed reference or None, the parse error)."""
    try:
        return parse_answer(reference), None
    except (ParseError, TooLarge, ValueError, ArithmeticError) as exc:
        return None, str(exc)


def _compare_candidate(reference: str, gold, text: str, timeout_s: float, in_process: bool,
                       start: float) -> Verdict:
    """Compare one answer; a lone decimal comma is read as the reference's form says."""
    comma = decimal_comma.reread(reference, text)
    if comma is None:
        return _compare_text(reference, gold, text, timeout_s, in_process, start)
    new_reference, new_text, note = comma
    if new_reference != reference:
        gold = _parse_reference(new_reference)[0]
    r = _compare_text(new_reference, gold, new_text, timeout_s, in_process, start)
    return replace(r, extracted=text, reason=f"{r.reason}; {note}")


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


def grade_batch(items: Sequence[tuple[str, str]], **options: Any) -> list[Verdict]:
    """Grade many ``(response, reference)`` pairs; sympy work spreads over all worker processes.

    Options as for :func:`grade`, plus ``progress=True`` for a progress bar.
    """
    return VERIFIER.grade_batch(items, **options)


class MathOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(DEFAULT_TIMEOUT_S, ge=0.01, le=60.0,
                             description="hard limit for the sympy comparison (seconds)")


class MathVerifier(Verifier):
    """Final-answer equivalence (rationals, structure, then sympy under a hard time limit)."""

    name = "math"
    version = VERSION
    suite = "math"
    data_sources = (r"aime|amc|math|gsm8k|olympiad|minerva|deepscaler|numina|dapo|omni",)
    bounds_own_time = True  # the sympy worker is killed at timeout_s
    Options = MathOptions
    trusted = frozenset({"in_process"})

    def options_within(self, options: dict[str, Any], remaining_s: float) -> dict[str, Any]:
        # the math grader kills its sympy worker at timeout_s: never let it outlive the deadline
        limit = options.get("timeout_s", self.defaults["timeout_s"])
        return {**options, "timeout_s": min(limit, max(remaining_s, 0.01))}

    def judge(self, response: str, reference: Any, *, timeout_s: float, in_process: bool = False) -> Verdict:
        return _grade_one(response, reference, timeout_s, in_process)

    def judge_batch(self, items: list[tuple[str, Any]], *, progress: bool = False, timeout_s: float,
                    in_process: bool = False) -> list[Verdict]:
        if not items:
            return []
        if in_process:
            threads = 1
        else:
            pool = get_pool()
            pool.warm()  # start-up cost stays out of the items' deadlines
            threads = pool.size  # one in-flight sympy call per worker: no queueing on the deadline

        def one(pair):
            return _grade_one(pair[0], pair[1], timeout_s, in_process)

        with ThreadPoolExecutor(max_workers=threads) as ex:
            it = ex.map(one, items)
            if progress:
                from tqdm import tqdm

                it = tqdm(it, total=len(items), desc="math grading", unit="item")
            return list(it)


VERIFIER = register(MathVerifier())


async def agrade(response: str, reference: str, **options: Any) -> Verdict:
    """``grade`` for asyncio code: runs in a thread so the event loop never blocks."""
    import asyncio

    return await asyncio.to_thread(grade, response, reference, **options)
