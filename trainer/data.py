"""Synthetic reasoning tasks generated in code, with short <think> teacher traces.

Each task is a chat prompt, a reference for its verifier and a teacher trace in Ring-lite's
format (``<think>\\n...\\n</think>\\n`` then the answer). Kinds and their verifiers:

- ``add``, ``chain``, ``multi``, ``program``: arithmetic / "what does this print?"; the trace
  ends with ``The answer is $\\boxed{v}$``, graded by the math verifier;
- ``code``: write a stdin -> stdout program (``trainer.code_tasks``); the reference is hidden
  tests, graded by the sandboxed code verifier (1 only if all pass);
- ``science``: GPQA-style multiple choice (``trainer.science_tasks``); graded by the gpqa verifier.

The SFT stage distils the traces; the RL stage only uses prompts and references. Problems are
drawn from a seeded generator, and ``split`` keeps the train and held-out suites disjoint by prompt.
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any

from trainer.code_tasks import make_code
from trainer.science_tasks import make_science

# the evaluators verifier (``evaluators.get_verifier`` name) that grades each kind
VERIFIERS = {"add": "math", "chain": "math", "multi": "math", "program": "math", "code": "code",
             "science": "gpqa"}
KINDS = tuple(VERIFIERS)
# response tokens that fit a kind's teacher trace (tiny tokenizer): code traces take 45-57
RESPONSE_TOKENS = {"code": 64, "multi": 96}  # multi traces: 21-78 tokens
DEFAULT_RESPONSE_TOKENS = 40


@dataclass(frozen=True)
class Task:
    kind: str
    question: str
    answer: str  # math: the value; science: the letter; code: the tests as JSON (keeps Task hashable)
    trace: str

    @property
    def id(self) -> str:
        return hashlib.sha1(self.question.encode()).hexdigest()[:12]

    @property
    def verifier(self) -> str:
        return VERIFIERS[self.kind]

    @property
    def reference(self) -> Any:
        """What ``get_verifier(self.verifier).grade`` takes as the reference."""
        return json.loads(self.answer) if self.verifier == "code" else self.answer


def response_tokens(kinds: tuple[str, ...]) -> int:
    """A generation limit long enough for the teacher traces of all ``kinds``."""
    return max(RESPONSE_TOKENS.get(k, DEFAULT_RESPONSE_TOKENS) for k in kinds)


def chat_prompt(question: str) -> str:
    """The tiny model's chat template with the generation prompt (matches its tokenizer config)."""
    return f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"


def _answer(value: int, steps: str) -> str:
    return f"<think>\n{steps}\n</think>\nThe answer is $\\boxed{{{value}}}$."


def make_task(kind: str, rng: random.Random, max_operand: int) -> Task:
    if kind == "add":
        a, b = rng.randint(0, max_operand), rng.randint(0, max_operand)
        return Task(kind, f"What is {a} + {b}?", str(a + b), _answer(a + b, f"{a} + {b} = {a + b}."))
    if kind == "chain":
        a, b, c = (rng.randint(0, max_operand) for _ in range(3))
        s = a + b
        return Task(kind, f"What is {a} + {b} - {c}?", str(s - c),
                    _answer(s - c, f"{a} + {b} = {s}. {s} - {c} = {s - c}."))
    if kind == "multi":
        # 1-6 operations: response lengths vary several-fold, which C3PO's budget is about
        n_ops = rng.randint(1, 6)
        value = rng.randint(0, max_operand)
        question, steps = str(value), []
        for _ in range(n_ops):
            op, x = rng.choice("+-"), rng.randint(0, max_operand)
            new = value + x if op == "+" else value - x
            question += f" {op} {x}"
            steps.append(f"{value} {op} {x} = {new}.")
            value = new
        return Task(kind, f"What is {question}?", str(value), _answer(value, " ".join(steps)))
    if kind == "program":
        k, x = rng.randint(1, max_operand), rng.randint(0, max_operand)
        op = rng.choice(["+", "-"])
        v = x + k if op == "+" else x - k
        q = f"What does this print?\ndef f(x):\n    return x {op} {k}\nprint(f({x}))"
        return Task(kind, q, str(v), _answer(v, f"f({x}) = {x} {op} {k} = {v}."))
    if kind == "code":
        return Task(kind, *make_code(rng, max_operand))
    if kind == "science":
        return Task(kind, *make_science(rng, max_operand))
    raise ValueError(f"unknown task kind {kind!r}; expected one of {KINDS}")


def make_tasks(n: int, seed: int, kinds: tuple[str, ...] = ("add",), max_operand: int = 20,
               exclude: set[str] | None = None) -> list[Task]:
    """``n`` distinct tasks (by question), none of whose questions is in ``exclude``."""
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"unknown task kind {k!r}; expected one of {KINDS}")
    rng = random.Random(seed)
    seen = set(exclude or ())
    out: list[Task] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 100 * n + 1000:
            raise ValueError(f"cannot draw {n} distinct tasks of kinds {kinds} with max_operand={max_operand}")
        t = make_task(rng.choice(kinds), rng, max_operand)
        if t.question not in seen:
            seen.add(t.question)
            out.append(t)
    return out


def split(n_train: int, n_val: int, seed: int, kinds: tuple[str, ...] = ("add",),
          max_operand: int = 20) -> tuple[list[Task], list[Task]]:
    """Held-out suite first (its own seed stream), then a training set that avoids it."""
    val = make_tasks(n_val, seed + 1_000_003, kinds, max_operand)
    train = make_tasks(n_train, seed, kinds, max_operand, exclude={t.question for t in val})
    return train, val
