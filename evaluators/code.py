"""The "code" verifier: extract the program from a response, run its tests in the sandbox.

``reference`` is an LCB-shaped dict or its JSON: ``{"tests": [{"input", "output", "testtype"}],
"func_name": ...}``, or a raw LiveCodeBench row (public/private_test_cases, metadata). The score
is 1.0 only when every test passes; ``details`` holds per-test results and LCB's codes.
"""
from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from evaluators.registry import register
from evaluators.verdict import Verdict

THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
FENCE = re.compile(r"^```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
PYTHON_TAGS = {"python", "py", "python3"}


def extract_program(response: str) -> str | None:
    """Last fenced python block after any reasoning, else the last bare fence, else the text."""
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    text = THINK_BLOCK.sub("", response)
    if "</think>" in text.lower():  # an unopened close tag: only what follows it is the answer
        text = text[text.lower().rindex("</think>") + len("</think>"):]
    if "<think>" in text.lower():  # still thinking when it stopped: no answer
        text = text[:text.lower().index("<think>")]
    blocks = FENCE.findall(text)
    python = [body for tag, body in blocks if tag.lower() in PYTHON_TAGS]
    bare = [body for tag, body in blocks if not tag]
    program = (python or bare or [text])[-1].strip("\n")
    return program if program.strip() else None


class CodeVerifier:
    name = "code"
    version = "1.0"

    def grade(self, response: str, reference: Any, **options: Any) -> Verdict:
        """Options: per_test_timeout_s, memory_mb, backend, float_tol, strict_lcb,
        include_supplementary, stop_on_first_failure."""
        from sandbox import lcb, run_tests

        t0 = time.monotonic()
        cases, mode, func_name = lcb.parse_reference(
            reference, include_supplementary=bool(options.get("include_supplementary", False)))
        program = extract_program(response)
        if program is None:
            return Verdict(False, 0.0, None, "no program found in the response",
                           time.monotonic() - t0, {"lcb_results": [lcb.RUNTIME_ERROR], "n_tests": len(cases)})
        report = run_tests(
            program, cases, mode=mode, func_name=func_name,
            per_test_timeout_s=float(options.get("per_test_timeout_s", 6.0)),
            memory_mb=int(options.get("memory_mb", 1024)),
            stop_on_first_failure=bool(options.get("stop_on_first_failure", True)),
            float_tol=float(options.get("float_tol", lcb.DEFAULT_FLOAT_TOL)),
            strict_lcb=bool(options.get("strict_lcb", False)), backend=options.get("backend"))
        if report.passed:
            reason = f"all {report.n_total} tests passed"
        elif report.error:
            reason = report.error
        else:
            bad = next(t for t in report.tests if not t.passed)
            reason = f"test {bad.index + 1}/{report.n_total} failed: {bad.reason}"
        details = report.to_dict()
        details["mode"] = mode
        return Verdict(report.passed, 1.0 if report.passed else 0.0, program, reason,
                       time.monotonic() - t0, details)

    def grade_batch(self, items: Sequence[tuple[str, Any]], **options: Any) -> list[Verdict]:
        """Grade many (response, reference) pairs in parallel over the warm pool."""
        from sandbox.lcb import parse_reference
        from sandbox.pool import WorkerPool, get_pool

        items = list(items)
        opts = dict(options)
        progress = opts.pop("progress", False)
        backend = opts.get("backend")
        opts["backend"] = backend if isinstance(backend, WorkerPool) else get_pool(backend)
        for _, reference in items:  # a malformed reference fails the batch before any work
            parse_reference(reference, include_supplementary=bool(opts.get("include_supplementary")))
        with ThreadPoolExecutor(opts["backend"].size) as ex:
            futures = [ex.submit(self.grade, r, ref, **opts) for r, ref in items]
            if progress:
                from tqdm import tqdm

                futures = tqdm(futures, desc="code", unit="response")
            return [f.result() for f in futures]


VERIFIER = register(CodeVerifier())


def grade(response: str, reference: Any, **options: Any) -> Verdict:
    return VERIFIER.grade(response, reference, **options)


def grade_batch(items: Sequence[tuple[str, Any]], **options: Any) -> list[Verdict]:
    return VERIFIER.grade_batch(items, **options)
