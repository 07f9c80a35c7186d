"""The "code" verifier: extract the program from a response, run its tests in the sandbox.

``reference`` is an LCB-shaped dict or its JSON: ``{"tests": [{"input", "output", "testtype"}],
"func_name": ...}``, or a raw LiveCodeBench row (public/private_test_cases, metadata). The score
is 1.0 only when every test passes; ``details`` holds per-test results and LCB's codes.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from pydantic import BaseModel, ConfigDict, Field

from evaluators.code.extract import extract_program
from evaluators.code.outputs import DEFAULT_FLOAT_TOL
from evaluators.registry import register
from evaluators.verdict import Verdict
from evaluators.verifier import Verifier


class CodeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per_test_timeout_s: float = Field(6.0, ge=0.05, le=30.0, description="wall-clock limit per test (seconds)")
    memory_mb: int = Field(1024, ge=32, le=4096, description="memory limit of the program (MiB)")
    float_tol: float = Field(DEFAULT_FLOAT_TOL, ge=0.0, le=1.0,
                             description="tolerance when comparing floats in outputs")
    strict_lcb: bool = Field(False, description="compare exactly like LiveCodeBench's checker")
    include_supplementary: bool = Field(False, description="also run supplementary_test_cases")
    stop_on_first_failure: bool = Field(True, description="stop at the first failing test")


class CodeVerifier(Verifier):
    """Runs the response's program against the reference's tests in the sandbox."""

    name = "code"
    version = "1.0"
    suite = "code"
    data_sources = (r"livecodebench|lcb|codecontests|code_contests|apps|taco|leetcode|codeforces|"
                    r"primeintellect|deepcoder|kodcode|\bcode\b|coding",)
    bounds_own_time = False  # seconds of tests: the service gives each item its own call
    Options = CodeOptions
    trusted = frozenset({"backend"})  # a sandbox backend name or WorkerPool

    def judge(self, response: str, reference: Any, *, backend: Any = None, include_supplementary: bool,
              **test_options: Any) -> Verdict:
        from evaluators.code.judge import RUNTIME_ERROR, run_tests
        from evaluators.code.reference import parse_reference

        t0 = time.monotonic()
        cases, mode, func_name = parse_reference(reference, include_supplementary=include_supplementary)
        program = extract_program(response)
        if program is None:
            return Verdict(False, 0.0, None, "no program found in the response",
                           time.monotonic() - t0, {"lcb_results": [RUNTIME_ERROR], "n_tests": len(cases)})
        report = run_tests(program, cases, mode=mode, func_name=func_name, backend=backend, **test_options)
        details = report.to_dict()
        details["mode"] = mode
        return Verdict(report.passed, 1.0 if report.passed else 0.0, program, _reason(report),
                       time.monotonic() - t0, details)

    def judge_batch(self, items: list[tuple[str, Any]], *, progress: bool = False, **settings: Any) -> list[Verdict]:
        """Many (response, reference) pairs in parallel over the warm pool."""
        from evaluators.code.reference import parse_reference
        from sandbox.pool import WorkerPool, get_pool

        backend = settings.get("backend")
        pool = backend if isinstance(backend, WorkerPool) else get_pool(backend)
        settings = {**settings, "backend": pool}
        for _, reference in items:  # a malformed reference fails the batch before any work
            parse_reference(reference, include_supplementary=settings["include_supplementary"])
        with ThreadPoolExecutor(pool.size) as ex:
            futures = [ex.submit(self.judge, r, ref, **settings) for r, ref in items]
            if progress:
                from tqdm import tqdm

                futures = tqdm(futures, desc="code", unit="response")
            return [f.result() for f in futures]


def _reason(report) -> str:
    if report.passed:
        return f"all {report.n_total} tests passed"
    if report.error:
        return report.error
    bad = next(t for t in report.tests if not t.passed)
    return f"test {bad.index + 1}/{report.n_total} failed: {bad.reason}"


VERIFIER = register(CodeVerifier())


def grade(response: str, reference: Any, **options: Any) -> Verdict:
    """Options are :class:`CodeOptions` plus the trusted ``backend``."""
    return VERIFIER.grade(response, reference, **options)


def grade_batch(items: Sequence[tuple[str, Any]], **options: Any) -> list[Verdict]:
    return VERIFIER.grade_batch(items, **options)
