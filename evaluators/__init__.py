"""Verifiers shared by evaluation and training: math (sympy), gpqa (letter matcher), code (sandbox)."""
from evaluators.registry import available, get_verifier, register
from evaluators.verdict import Verdict

__all__ = ["Verdict", "get_verifier", "register", "available"]
