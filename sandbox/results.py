"""What one execution of a program returns (``ExecResult``)."""
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
