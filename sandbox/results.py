"""Result types: one execution (ExecResult), one test (TestResult), one test list (TestReport)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STATUSES = ("ok", "runtime_error", "timeout", "memory_limit", "output_limit", "killed", "sandbox_error")


@dataclass
class ExecResult:
    """Outcome of running one program once. ``backend`` names the isolation that ran it."""

    status: str
    exit_code: int | None
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    backend: str
    signal: int | None = None
    stdout_bytes: bytes = field(default=b"", repr=False)
    return_value: Any = None  # functional mode: the decoded return value
    has_return_value: bool = False
    error: str = ""  # sandbox-side explanation for sandbox_error

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("stdout_bytes")
        return d


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
