"""Generated problems for smoke tests, the tiny model and the trainer: arithmetic and small code tasks.

Difficulty scales operand count and size (arithmetic) or input size (code). ``target`` makes
every other arithmetic problem evaluate to that number, which lets a scripted model score a
known fraction end to end.
"""
from __future__ import annotations

import random
from typing import Any

KINDS = ("arith", "code")

_CODE_TASKS = [
    ("sum", "Read an integer N and then N integers on the next line. Print their sum.",
     lambda xs: str(sum(xs))),
    ("max", "Read an integer N and then N integers on the next line. Print the largest.",
     lambda xs: str(max(xs))),
    ("count_even", "Read an integer N and then N integers on the next line. "
                   "Print how many of them are even.", lambda xs: str(sum(x % 2 == 0 for x in xs))),
]


def _arith(rng: random.Random, difficulty: int, target: int | None) -> tuple[str, str]:
    terms = 1 + difficulty
    hi = 10 ** min(1 + difficulty, 9)
    nums = [rng.randint(1, hi) for _ in range(terms)]
    ops = [rng.choice("+-*" if difficulty > 1 else "+-") for _ in range(terms - 1)]
    expr = str(nums[0]) + "".join(f" {o} {n}" for o, n in zip(ops, nums[1:]))
    if target is not None:
        # replace the last term by "+ x" with x chosen so the whole expression equals target
        head = str(nums[0]) + "".join(f" {o} {n}" for o, n in zip(ops[:-1], nums[1:-1]))
        last = target - eval(head)  # noqa: S307 - our own digits and operators only
        expr = f"{head} + ({last})" if last < 0 else f"{head} + {last}"
    return expr, str(eval(expr))  # noqa: S307


def generate(n: int = 10, *, difficulty: int = 1, seed: int = 0, kinds: tuple[str, ...] = ("arith",),
             target: int | None = None) -> list[dict[str, Any]]:
    """``n`` problems as dicts: id, kind, problem text, and answer (arith) or tests (code)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 1 <= difficulty <= 5:
        raise ValueError(f"difficulty must be 1..5, got {difficulty}")
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ValueError(f"kinds must be from {KINDS}, got {list(kinds)}")
    rng = random.Random(f"synthetic:{seed}:{difficulty}")
    out, n_arith = [], 0
    for i in range(n):
        kind = kinds[i % len(kinds)]
        if kind == "arith":
            expr, answer = _arith(rng, difficulty, target if n_arith % 2 == 0 else None)
            n_arith += 1
            out.append({"id": f"syn-arith-{i}", "kind": "arith",
                        "problem": f"Compute {expr}.", "answer": answer})
        else:
            name, text, fn = rng.choice(_CODE_TASKS)
            tests = []
            for _ in range(2 + difficulty):
                xs = [rng.randint(-10 ** difficulty, 10 ** difficulty) for _ in range(rng.randint(1, 3 * difficulty))]
                tests.append({"input": f"{len(xs)}\n{' '.join(map(str, xs))}\n", "output": fn(xs) + "\n",
                              "testtype": "stdin"})
            out.append({"id": f"syn-code-{i}-{name}", "kind": "code", "problem": text, "tests": tests})
    return out
