"""LiveCodeBench-compatible output comparison (stdin text and functional return values).

Compatible means a program passes here exactly when it passes LCB's ``run_test`` except for LCB's
known defects, which are fixed: stdin outputs compare floats with a tolerance (LCB compares them
as exact Decimals, issues 129/133) and programs get a real stdout (so ``sys.stdout.buffer``
works). ``strict=True`` restores LCB's exact float comparison for side-by-side checks.
"""
from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any

DEFAULT_FLOAT_TOL = 1e-6


def stripped_lines(text: str) -> list[str]:
    """LCB's get_stripped_lines: strip the whole text, split on newlines, strip each line."""
    return [line.strip() for line in text.strip().split("\n")]


def _is_integer_token(tok: str) -> bool:
    body = tok[1:] if tok[:1] in "+-" else tok
    return body.isdigit()


def _decimal(tok: str) -> Decimal | None:
    try:
        return Decimal(tok)
    except InvalidOperation:
        return None


def _tokens_match(got: str, want: str, tol: float, strict: bool) -> bool:
    a, b = _decimal(got), _decimal(want)
    if strict or (_is_integer_token(got) and _is_integer_token(want)):
        return a == b  # integers stay exact: a tolerance must never accept 10**12 + 1
    if not (a.is_finite() and b.is_finite()):
        return a == b
    return abs(a - b) <= Decimal(tol) * max(Decimal(1), abs(b))


def compare_stdout(got: str, want: str, *, float_tol: float = DEFAULT_FLOAT_TOL,
                   strict: bool = False) -> tuple[bool, str]:
    """Compare a program's stdout with the expected text the way LCB's grade_stdio does."""
    got_lines, want_lines = stripped_lines(got), stripped_lines(want)
    if len(got_lines) != len(want_lines):
        return False, f"wrong answer: {len(got_lines)} output lines, expected {len(want_lines)}"
    for i, (g, w) in enumerate(zip(got_lines, want_lines)):
        if g == w:
            continue
        g_toks, w_toks = g.split(), w.split()
        # LCB converts whole lines to Decimals; a line with any non-number token is a mismatch.
        parses = all(_decimal(t) is not None for t in g_toks + w_toks)
        if parses and len(g_toks) == len(w_toks) and all(
                _tokens_match(a, b, float_tol, strict) for a, b in zip(g_toks, w_toks)):
            continue
        return False, f"wrong answer at line {i + 1}: got {g[:80]!r}, expected {w[:80]!r}"
    return True, "accepted"


def values_equal(got: Any, want: Any, float_tol: float = DEFAULT_FLOAT_TOL, strict: bool = False) -> bool:
    """``got == want`` as LCB's call-based check, plus a float tolerance unless strict."""
    if strict:
        return got == want
    if isinstance(got, float) or isinstance(want, float):
        if isinstance(got, (int, float)) and isinstance(want, (int, float)) \
                and not isinstance(got, bool) and not isinstance(want, bool):
            if math.isfinite(got) and math.isfinite(want):
                return abs(got - want) <= float_tol * max(1.0, abs(want))
        return got == want
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(values_equal(a, b, float_tol) for a, b in zip(got, want))
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(values_equal(got[k], want[k], float_tol) for k in got)
    return got == want


def compare_functional(got: Any, want_json: str, *, float_tol: float = DEFAULT_FLOAT_TOL,
                       strict: bool = False) -> tuple[bool, str]:
    try:
        want = json.loads(want_json)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"expected output is not JSON: {want_json[:80]!r}") from exc
    if values_equal(got, want, float_tol, strict):
        return True, "accepted"
    return False, f"wrong answer: got {json.dumps(got)[:80]}, expected {json.dumps(want)[:80]}"


