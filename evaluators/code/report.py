"""Per-test verdicts (``TestResult``) and a program's whole test run (``TestReport``)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class TestResult:
    index: int
    passed: bool
    lcb_code: bool | int  # True, or LiveCodeBench's -2 wrong answer / -3 time limit / -4 runtime error
    status: str
    reason: str
    wall_s: float
    expected: str = ""
    got: str = ""


@dataclass
class TestReport:
    """Per-test results in order; stops after the first failure unless asked not to."""

    passed: bool
    tests: list[TestResult]
    n_total: int
    backend: str
    elapsed_s: float
    lcb_results: list[bool | int]  # what LCB's run_test would have returned
    error: str = ""

    @property
    def n_passed(self) -> int:
        return sum(t.passed for t in self.tests)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["n_passed"] = self.n_passed
        return d
