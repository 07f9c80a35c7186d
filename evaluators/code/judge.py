"""LiveCodeBench-style test verdicts: run a program's tests in the sandbox and judge each output.

The sandbox (``sandbox.api``) executes; this module decides pass/fail per test with LCB's codes
(True, -1 global timeout, -2 wrong answer, -3 time limit, -4 runtime error) and builds the report.
"""
from __future__ import annotations

import json
import time
from typing import Any, Iterable

from evaluators.code import outputs
from evaluators.code.reference import Case
from sandbox.api import check_inputs, execute, execute_group, pool_for
from sandbox.limits import Limits
from sandbox.pool import WorkerPool
from evaluators.code.report import TestReport, TestResult
from sandbox.results import ExecResult

# LCB's per-test codes (lcb_runner/evaluation/testing_util.py and compute_code_generation_metrics)
PASS = True
GLOBAL_TIMEOUT = -1
WRONG_ANSWER = -2
TIME_LIMIT = -3
RUNTIME_ERROR = -4
CODE_NAMES = {GLOBAL_TIMEOUT: "global timeout", WRONG_ANSWER: "wrong answer",
              TIME_LIMIT: "time limit exceeded", RUNTIME_ERROR: "runtime error"}


def _normalise_tests(tests: Iterable[Any]) -> list[Case]:
    cases = []
    for i, t in enumerate(tests):
        if isinstance(t, Case):
            cases.append(t)
        elif isinstance(t, dict) and "input" in t and "output" in t:
            cases.append(Case(t["input"], t["output"]))
        elif isinstance(t, (tuple, list)) and len(t) == 2:
            cases.append(Case(t[0], t[1]))
        else:
            raise ValueError(f"test {i}: expected {{'input', 'output'}} or an (input, output) pair")
        if not isinstance(cases[-1].input, str) or not isinstance(cases[-1].output, str):
            raise ValueError(f"test {i}: input and output must be strings")
    if not cases:
        raise ValueError("no tests given")
    return cases


def _lcb_code(status: str, passed: bool) -> bool | int:
    if passed:
        return PASS
    if status == "ok":
        return WRONG_ANSWER
    if status == "timeout":
        return TIME_LIMIT
    return RUNTIME_ERROR


def run_tests(code: str, tests: Iterable[Any], *, mode: str = "stdin", func_name: str | None = None,
              per_test_timeout_s: float = 6.0, memory_mb: int = 1024,
              stop_on_first_failure: bool = True, global_timeout_s: float | None = None,
              float_tol: float = outputs.DEFAULT_FLOAT_TOL, strict_lcb: bool = False,
              backend: str | WorkerPool | None = None, limits: Limits | None = None,
              process_per_test: bool = False) -> TestReport:
    """Run the tests in the sandbox and compare outputs as LiveCodeBench does.

    By default all tests of the program run in one fresh sandboxed process (as LCB runs them,
    minus LCB's lack of isolation), each with fresh globals or a fresh ``Solution()``, real
    stdin/stdout fds and its own deadline. ``process_per_test=True`` forks a new process per
    test instead (no state can carry between tests; slower). ``global_timeout_s`` defaults to
    LCB's (per_test + 1) * n_tests + 5; past it every test gets LCB's -1, as in LCB.
    """
    check_inputs(code, "python", "", None)
    if mode not in ("stdin", "functional"):
        raise ValueError(f"mode must be 'stdin' or 'functional', got {mode!r}")
    if mode == "functional" and not (isinstance(func_name, str) and func_name.isidentifier()):
        raise ValueError(f"functional mode needs func_name, a Python identifier; got {func_name!r}")
    cases = _normalise_tests(tests)
    limits = (limits or Limits()).with_(timeout_s=per_test_timeout_s, memory_mb=memory_mb)
    if global_timeout_s is None:
        global_timeout_s = (per_test_timeout_s + 1) * len(cases) + 5
    pool = pool_for(backend)
    t0 = time.monotonic()
    results: list[TestResult] = []
    if not process_per_test:
        def on_result(i: int, res: ExecResult) -> bool:
            results.append(_judge(i, cases[i], res, mode, float_tol, strict_lcb))
            return results[-1].passed

        job = {"code": code, "mode": "script" if mode == "stdin" else "functional",
               "func_name": func_name}
        error = execute_group(pool, job, [c.input.encode("utf-8", "surrogatepass") for c in cases],
                              limits, on_result, stop_on_first_failure)
        return _report(results, cases, pool, t0, global_timeout_s, stop_on_first_failure, error)
    for i, case in enumerate(cases):
        if time.monotonic() - t0 > global_timeout_s:
            return TestReport(False, results, len(cases), pool.backend, time.monotonic() - t0,
                              [GLOBAL_TIMEOUT] * len(cases), error="global timeout")
        if mode == "stdin":
            job = {"code": code, "mode": "script", "files": {}}
            res = execute(pool, job, case.input.encode("utf-8", "surrogatepass"), limits)
        else:
            job = {"code": code, "mode": "functional", "func_name": func_name, "input": case.input}
            res = execute(pool, job, b"", limits)
        results.append(_judge(i, case, res, mode, float_tol, strict_lcb))
        if not results[-1].passed and stop_on_first_failure:
            break
    return _report(results, cases, pool, t0, global_timeout_s, stop_on_first_failure, "")


def _report(results: list[TestResult], cases: list[Case], pool: WorkerPool, t0: float,
            global_timeout_s: float, stop: bool, error: str) -> TestReport:
    elapsed = time.monotonic() - t0
    if elapsed > global_timeout_s:
        return TestReport(False, results, len(cases), pool.backend, elapsed,
                          [GLOBAL_TIMEOUT] * len(cases), error="global timeout")
    passed = not error and len(results) == len(cases) and all(r.passed for r in results)
    lcb_results = [r.lcb_code for r in results]
    if error and (not results or results[-1].passed):
        lcb_results.append(RUNTIME_ERROR)  # the sandbox failed; count it against the run
    if not passed and not error:
        # LCB stops at the first failure; report the prefix it would have produced.
        first = next((i for i, r in enumerate(results) if not r.passed), len(results))
        lcb_results = lcb_results[:first + 1]
    return TestReport(passed, results, len(cases), pool.backend, elapsed, lcb_results, error=error)


def _judge(i: int, case: Case, res: ExecResult, mode: str, tol: float, strict: bool) -> TestResult:
    if res.status != "ok":
        detail = res.error or res.stderr.strip().splitlines()[-1:] or [""]
        reason = f"{res.status}: {detail if isinstance(detail, str) else detail[0]}"[:300]
        return TestResult(i, False, _lcb_code(res.status, False), res.status, reason, res.wall_s,
                          expected=case.output[:200], got=res.stdout[:200])
    if mode == "stdin":
        ok, reason = outputs.compare_stdout(res.stdout, case.output, float_tol=tol, strict=strict)
        got = res.stdout[:200]
    elif not res.has_return_value:
        return TestResult(i, False, RUNTIME_ERROR, "runtime_error",
                          "runtime_error: no return value", res.wall_s, case.output[:200], "")
    else:
        ok, reason = outputs.compare_functional(res.return_value, case.output, float_tol=tol, strict=strict)
        got = json.dumps(res.return_value)[:200]
    return TestResult(i, ok, _lcb_code("ok", ok), res.status, reason, res.wall_s, case.output[:200], got)
