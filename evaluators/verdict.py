"""The one result type every verifier returns (math, gpqa, code)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Verdict:
    """Outcome of grading one response against one reference.

    ``score`` is the reward (1.0/0.0 for the binary verifiers); ``reason`` says in words why it
    matched or not ("timeout", "no answer found", "equal as rationals", ...); ``elapsed_s`` is the
    grading wall time. ``details`` holds verifier-specific extras (per-test results for code).
    """

    correct: bool
    score: float
    extracted: str | None
    reason: str
    elapsed_s: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
