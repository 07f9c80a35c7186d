"""The ``science`` task kind: GPQA-style four-way multiple choice from small built-in tables.

Questions cover the first 20 chemical elements (atomic number, symbol, name) and one-step
kinematics/dynamics (v = d / t, F = m a). The trace ends with ``Answer: X``, the statement the
gpqa verifier extracts first; the reference is the correct letter.

Distractors and the choice order are seeded by the question stem, so a problem always shows the
same choices: ``trainer.data.split`` dedups by the question text, and a problem that could appear
in several orders would slip into both the training and the held-out suite.
"""
from __future__ import annotations

import random

LETTERS = "ABCD"

ELEMENTS = [  # (name, symbol, atomic number)
    ("hydrogen", "H", 1), ("helium", "He", 2), ("lithium", "Li", 3), ("beryllium", "Be", 4),
    ("boron", "B", 5), ("carbon", "C", 6), ("nitrogen", "N", 7), ("oxygen", "O", 8),
    ("fluorine", "F", 9), ("neon", "Ne", 10), ("sodium", "Na", 11), ("magnesium", "Mg", 12),
    ("aluminium", "Al", 13), ("silicon", "Si", 14), ("phosphorus", "P", 15), ("sulfur", "S", 16),
    ("chlorine", "Cl", 17), ("argon", "Ar", 18), ("potassium", "K", 19), ("calcium", "Ca", 20),
]


def _element(rng: random.Random) -> tuple[str, str, list[str], str]:
    name, symbol, z = rng.choice(ELEMENTS)
    others = [e for e in ELEMENTS if e[2] != z]
    form = rng.randrange(3)
    if form == 0:
        return (f"What is the atomic number of {name}?", str(z), [str(e[2]) for e in others],
                f"{name.capitalize()} is element {z}")
    if form == 1:
        return (f"What is the chemical symbol of {name}?", symbol, [e[1] for e in others],
                f"The symbol of {name} is {symbol}")
    return (f"Which element has atomic number {z}?", name, [e[0] for e in others],
            f"Element {z} is {name}")


def _numeric_pool(value: int, *near: int) -> list[int]:
    """Plausible wrong values: the given slips, then off-by-one/two/three, positive and distinct."""
    pool = []
    for v in (*near, value + 1, value + 2, value + 3, value - 1):
        if v > 0 and v != value and v not in pool:
            pool.append(v)
    return pool  # value + 1..3 alone guarantee three


def _physics(rng: random.Random, m: int) -> tuple[str, str, list[str], str]:
    a, b = rng.randint(1, max(1, m)), rng.randint(1, max(1, m))
    if rng.randrange(2) == 0:  # speed from distance and time: d = a * b metres in b seconds
        d = a * b
        wrong = _numeric_pool(a, d * b, d + b, abs(d - b))
        return (f"A cart covers {d} m in {b} s at constant speed. What is its speed?", f"{a} m/s",
                [f"{w} m/s" for w in wrong], f"v = {d} / {b} = {a} m/s")
    f = a * b  # Newton's second law
    wrong = _numeric_pool(f, a + b, f + a, f + b)
    return (f"What net force gives a {a} kg mass an acceleration of {b} m/s^2?", f"{f} N",
            [f"{w} N" for w in wrong], f"F = {a} * {b} = {f} N")


def make_science(rng: random.Random, max_operand: int) -> tuple[str, str, str]:
    """(question with choices A-D, correct letter, teacher trace) of one science task."""
    stem, correct, wrong_pool, why = _element(rng) if rng.randrange(2) == 0 else _physics(rng, max_operand)
    local = random.Random(stem)  # choices depend on the problem only (see the module docstring)
    choices = [correct, *local.sample(wrong_pool, 3)]
    local.shuffle(choices)
    letter = LETTERS[choices.index(correct)]
    listed = "\n".join(f"{L}) {c}" for L, c in zip(LETTERS, choices))
    question = f"{stem}\n{listed}\nEnd with 'Answer: LETTER'."
    trace = f"<think>\n{why}: choice {letter}.\n</think>\nAnswer: {letter}"
    return question, letter, trace
