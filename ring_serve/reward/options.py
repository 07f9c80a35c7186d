"""The grading options a client may set, per verifier, with their bounds.

Clients never reach the graders' unsafe switches (``in_process`` for math, ``backend`` for code):
only the options listed here pass, each type- and range-checked.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    kind: type
    help: str
    low: float | None = None
    high: float | None = None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind.__name__, "help": self.help}
        if self.low is not None:
            out["min"] = self.low
        if self.high is not None:
            out["max"] = self.high
        return out


OPTIONS: dict[str, dict[str, Option]] = {
    "math": {
        "timeout_s": Option(float, "hard limit for the sympy comparison (seconds)", 0.01, 60.0),
    },
    "gpqa": {},
    "code": {
        "per_test_timeout_s": Option(float, "wall-clock limit per test (seconds)", 0.05, 30.0),
        "memory_mb": Option(int, "memory limit of the program (MiB)", 32, 4096),
        "float_tol": Option(float, "tolerance when comparing floats in outputs", 0.0, 1.0),
        "strict_lcb": Option(bool, "compare exactly like LiveCodeBench's checker"),
        "include_supplementary": Option(bool, "also run supplementary_test_cases"),
        "stop_on_first_failure": Option(bool, "stop at the first failing test"),
    },
}


class OptionError(ValueError):
    pass


def clean_options(verifier: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """Checked copy of ``options`` for ``verifier``; OptionError names the bad one."""
    allowed = OPTIONS.get(verifier, {})
    out: dict[str, Any] = {}
    for key, value in (options or {}).items():
        spec = allowed.get(key)
        if spec is None:
            known = ", ".join(sorted(allowed)) or "none"
            raise OptionError(f"unknown option {key!r} for verifier {verifier!r} (known: {known})")
        if spec.kind is bool:
            if not isinstance(value, bool):
                raise OptionError(f"option {key!r} must be true or false")
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise OptionError(f"option {key!r} must be a number")
        elif spec.kind is int and not float(value).is_integer():
            raise OptionError(f"option {key!r} must be an integer")
        else:
            if not math.isfinite(value):
                raise OptionError(f"option {key!r} must be finite")
            if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
                raise OptionError(f"option {key!r} must be in [{spec.low}, {spec.high}], got {value}")
            value = spec.kind(value)
        out[key] = value
    return out
