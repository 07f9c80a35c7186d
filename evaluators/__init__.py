"""Verifiers shared by evaluation and training: math (sympy), gpqa (letter matcher), code (sandbox).

Each verifier is a ``evaluators.verifier.Verifier`` declared in its own module and listed once in
``evaluators.registry``; ``evaluators.grading`` is the one grading front-end.
"""
from evaluators.registry import available, get_verifier, register, suite_for, verifier_for_source
from evaluators.verdict import Verdict

__all__ = ["Verdict", "get_verifier", "register", "available", "verifier_for_source", "suite_for"]
