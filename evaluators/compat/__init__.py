"""Adapters that hand our verifiers to RL frameworks (verl, TRL, OpenRLHF).

Each adapter grades in-process through ``evaluators.get_verifier`` or, given a service URL
(argument or $RING_REWARD_URL), through ``ring reward serve`` over HTTP. Both paths return the
same fields: ``verifier``, ``score``, ``correct``, ``extracted``, ``reason``.
"""
from evaluators.compat.grading import grade_items, verifier_for

__all__ = ["grade_items", "verifier_for"]
