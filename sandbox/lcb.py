"""LiveCodeBench-compatible grading: test parsing, output comparison, verdict codes, pass@k.

Compatible means a program passes here exactly when it passes LCB's ``run_test`` except for LCB's
known defects, which are fixed: stdin outputs compare floats with a tolerance (LCB compares them
as exact Decimals, issues 129/133) and programs get a real stdout (so ``sys.stdout.buffer``
works). ``strict=True`` restores LCB's exact float comparison for side-by-side checks.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from evaluators.runner.lcb import decode_tests  # the one LCB test-list decoder

# LCB's per-test codes (lcb_runner/evaluation/testing_util.py and compute_code_generation_metrics)
PASS = True
GLOBAL_TIMEOUT = -1
WRONG_ANSWER = -2
TIME_LIMIT = -3
RUNTIME_ERROR = -4
CODE_NAMES = {GLOBAL_TIMEOUT: "global timeout", WRONG_ANSWER: "wrong answer",
              TIME_LIMIT: "time limit exceeded", RUNTIME_ERROR: "runtime error"}
DEFAULT_FLOAT_TOL = 1e-6


@dataclass(frozen=True)
class Case:
    input: str
    output: str


# ---------------------------------------------------------------- comparison
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


# ---------------------------------------------------------------- test parsing
def parse_reference(reference: Any, *, include_supplementary: bool = False
                    ) -> tuple[list[Case], str, str | None]:
    """(cases, mode, func_name) from an LCB row, ``{"tests": [...]}``, or ``{"inputs","outputs"}``."""
    if isinstance(reference, (str, bytes)):
        try:
            reference = json.loads(reference)
        except ValueError as exc:
            raise ValueError("reference is not valid JSON") from exc
    if not isinstance(reference, dict):
        raise ValueError(f"reference must be a dict or its JSON, got {type(reference).__name__}")
    metadata = reference.get("metadata") or {}
    if isinstance(metadata, str):
        metadata = json.loads(metadata) if metadata.strip() else {}
    func_name = reference.get("func_name") or reference.get("fn_name") or metadata.get("func_name")
    raw: list[dict] = []
    if "tests" in reference:
        raw = decode_tests(reference["tests"])
    elif "inputs" in reference and "outputs" in reference:
        raw = [{"input": i, "output": o} for i, o in zip(reference["inputs"], reference["outputs"])]
    else:
        raw = decode_tests(reference.get("public_test_cases")) + \
              decode_tests(reference.get("private_test_cases"))
        if include_supplementary:
            raw += decode_tests(reference.get("supplementary_test_cases"))
    if not raw:
        raise ValueError("reference has no tests")
    cases, types = [], set()
    for i, t in enumerate(raw):
        if not isinstance(t, dict) or "input" not in t or "output" not in t:
            raise ValueError(f"test {i} needs 'input' and 'output'")
        if not isinstance(t["input"], str) or not isinstance(t["output"], str):
            raise ValueError(f"test {i}: input and output must be strings")
        types.add(t.get("testtype") or ("functional" if func_name else "stdin"))
    if len(types) > 1:
        raise ValueError(f"tests mix test types {sorted(types)}")
    mode = types.pop()
    if mode not in ("stdin", "functional"):
        raise ValueError(f"unknown testtype {mode!r}")
    if mode == "functional" and not func_name:
        raise ValueError("functional tests need metadata.func_name")
    cases = [Case(t["input"], t["output"]) for t in raw]
    return cases, mode, func_name
