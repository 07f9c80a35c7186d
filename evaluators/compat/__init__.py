"""Adapters that hand our verifiers to RL frameworks (verl, TRL, OpenRLHF).

Each adapter grades through ``evaluators.grading.grade_items``: in-process or, given a service
URL (argument or $RING_REWARD_URL), through ``ring reward serve`` over HTTP. Both paths return
the same ``GradeResult``.
"""
from evaluators.grading import GradeResult, grade_items
from evaluators.registry import available, verifier_for_source


def verifier_for(data_source: str) -> str:
    """The verifier for a verl-style data_source; ValueError when none fits."""
    name = verifier_for_source(data_source)
    if name is None:
        raise ValueError(f"data_source {data_source!r} maps to no verifier ({', '.join(available())})")
    return name


__all__ = ["GradeResult", "grade_items", "verifier_for"]
