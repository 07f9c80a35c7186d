"""Resource limits for one sandboxed run, with defaults and input validation."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Limits:
    """What one program may use. ``cpu_s`` defaults to the wall timeout (RLIMIT_CPU)."""

    timeout_s: float = 6.0
    memory_mb: int = 1024  # RLIMIT_AS of the program
    cpu_s: float | None = None
    nproc: int = 64  # processes/threads the program may own at once
    nofile: int = 256
    fsize_mb: int = 64  # largest file it may write
    stdout_cap: int = 8 << 20  # bytes kept; more output ends the run as output_limit
    stderr_cap: int = 64 << 10

    def __post_init__(self) -> None:
        checks = {
            "timeout_s": (self.timeout_s, 0.001, 3600),
            "memory_mb": (self.memory_mb, 32, 65536),
            "nproc": (self.nproc, 1, 4096),
            "nofile": (self.nofile, 16, 65536),
            "fsize_mb": (self.fsize_mb, 0, 65536),
            "stdout_cap": (self.stdout_cap, 1, 1 << 30),
            "stderr_cap": (self.stderr_cap, 1, 1 << 30),
        }
        if self.cpu_s is not None:
            checks["cpu_s"] = (self.cpu_s, 0.001, 3600)
        for name, (value, lo, hi) in checks.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if not lo <= value <= hi:
                raise ValueError(f"{name}={value!r} is outside [{lo}, {hi}]")

    def with_(self, **changes) -> "Limits":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def job_fields(self) -> dict:
        """The limits as the worker expects them in a request."""
        d = asdict(self)
        d["cpu_s"] = self.cpu_s if self.cpu_s is not None else self.timeout_s
        d["memory_mb"] = int(self.memory_mb)
        d["fsize_mb"] = int(self.fsize_mb)
        return d
