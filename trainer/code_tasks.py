"""The ``code`` task kind: write a stdin -> stdout Python program, graded by hidden tests.

The question names a small function of an integer x read from standard input; the reference is
the code verifier's LCB-shaped ``{"tests": [{"input", "output", "testtype": "stdin"}]}`` (as
JSON, so ``Task`` stays hashable) and the reward is 1 only if every test passes in the sandbox.
"""
from __future__ import annotations

import json
import random
from typing import Callable


def _functions(rng: random.Random, m: int) -> tuple[str, Callable[[int], int]]:
    """One of several function shapes of x with operands up to ``m``: (Python expression, f)."""
    k, a, b = rng.randint(1, max(1, m)), rng.randint(2, max(2, m)), rng.randint(1, max(1, m))
    shapes = [
        (f"x + {k}", lambda x: x + k),
        (f"x - {k}", lambda x: x - k),
        (f"x * {a}", lambda x: x * a),
        (f"max(x, {k})", lambda x: max(x, k)),
        (f"min(x, {k})", lambda x: min(x, k)),
        (f"x % {a}", lambda x: x % a),
        # two operations: enough distinct questions for a code stage even with small operands
        (f"x * {a} + {b}", lambda x: x * a + b),
        (f"x * {a} - {b}", lambda x: x * a - b),
    ]
    return rng.choice(shapes)


def make_code(rng: random.Random, max_operand: int) -> tuple[str, str, str]:
    """(question, reference JSON, teacher trace) of one code task."""
    expr, f = _functions(rng, max_operand)
    question = ("Write a Python program that reads an integer x from standard input and prints "
                f"{expr}.")
    # one input below 0, one in [0, m], one above m (>= every constant): max/min/% cannot pass by
    # printing x or the constant, and a negative input checks Python's % sign convention
    m = max(1, max_operand)
    xs = [rng.randint(-m, -1), rng.randint(0, m), rng.randint(m + 1, 2 * m)]
    tests = [{"input": f"{x}\n", "output": f"{f(x)}\n", "testtype": "stdin"} for x in xs]
    trace = (f"<think>\nRead x, print {expr}.\n</think>\n"
             f"```python\nx = int(input())\nprint({expr})\n```")
    return question, json.dumps({"tests": tests}), trace
