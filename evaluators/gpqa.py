"""GPQA multiple-choice matcher, plus the simple-evals style prompt and seeded choice shuffle.

The chosen letter is found by ``evaluators.choice.extract_choice`` (the last explicit statement
of the answer); a final statement that hedges between letters is graded incorrect with a reason
starting ``ambiguous``.
"""
from __future__ import annotations

import csv
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from evaluators.choice import extract_choice  # noqa: F401 (part of this module's API)
from evaluators.registry import register
from evaluators.verdict import Verdict
from evaluators.verifier import Verifier

VERSION = "1.1"
LETTERS = "ABCD"

PROMPT_TEMPLATE = (
    "Answer the following multiple choice question. The last line of your response should be of "
    "the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. "
    "Think step by step before answering.\n\n{question}\n\nA) {A}\nB) {B}\nC) {C}\nD) {D}"
)

class GPQAVerifier(Verifier):
    """Multiple-choice letter matcher; ``reference`` is the correct letter (A-D)."""

    name = "gpqa"
    version = VERSION
    suite = "science"
    data_sources = (r"gpqa",)
    bounds_own_time = True  # a bounded regex scan: microseconds per item

    def judge(self, response: str, reference: Any, **settings: Any) -> Verdict:
        if not isinstance(response, str):
            raise TypeError(f"response must be a string, got {type(response).__name__}")
        if not isinstance(reference, str) or reference.strip().upper() not in tuple(LETTERS):
            raise ValueError(f"reference must be one of the letters {LETTERS}, got {reference!r}")
        start = time.monotonic()
        gold = reference.strip().upper()
        letter, how = extract_choice(response)
        if letter is None:
            ok, reason = False, how
        else:
            ok = letter == gold
            reason = f"chose {letter} ({how}); " + ("correct" if ok else f"expected {gold}")
        return Verdict(correct=ok, score=1.0 if ok else 0.0, extracted=letter, reason=reason,
                       elapsed_s=time.monotonic() - start)

    # judge_batch: the base class's loop. Regex work of microseconds per item: a thread or
    # process pool would only add overhead.


VERIFIER = register(GPQAVerifier())


def grade(response: str, reference: str, **options: Any) -> Verdict:
    """``reference`` is the correct letter (A-D)."""
    return VERIFIER.grade(response, reference, **options)


def grade_batch(items: Sequence[tuple[str, str]], **options: Any) -> list[Verdict]:
    return VERIFIER.grade_batch(items, **options)


# -- prompts and shuffling ---------------------------------------------------------------------

@dataclass(frozen=True)
class GPQAItem:
    record_id: str
    question: str
    correct: str
    incorrect: tuple[str, str, str]
    extra: dict[str, str] = field(default_factory=dict, compare=False)


def permutation_for(seed: int | str) -> list[int]:
    """Seeded order of [correct, wrong1, wrong2, wrong3]: entry i is shown as letter i."""
    return random.Random(seed).sample(range(4), 4)


def build_prompt(question: str, correct: str, incorrect: Sequence[str], seed: int | str
                 ) -> tuple[str, str, list[int]]:
    """Return (prompt, correct_letter, permutation) with the choices shuffled by ``seed``."""
    if len(incorrect) != 3:
        raise ValueError(f"GPQA needs exactly 3 incorrect answers, got {len(incorrect)}")
    for name, value in [("question", question), ("correct", correct), *[("incorrect", x) for x in incorrect]]:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string")
    pool = [correct.strip(), *(x.strip() for x in incorrect)]
    perm = permutation_for(seed)
    shown = [pool[i] for i in perm]
    letter = LETTERS[perm.index(0)]
    prompt = PROMPT_TEMPLATE.format(question=question.strip(), A=shown[0], B=shown[1], C=shown[2],
                                    D=shown[3])
    return prompt, letter, perm


def prompts_for(items: Sequence[GPQAItem], seed: int = 0) -> list[dict[str, Any]]:
    """One row per item: id, prompt, correct letter and the permutation used (for audit).

    Each item's permutation comes from ``seed`` and its record id, so it does not change when
    items are filtered or reordered.
    """
    out = []
    for it in items:
        prompt, letter, perm = build_prompt(it.question, it.correct, it.incorrect,
                                            seed=f"{seed}:{it.record_id}")
        out.append({"record_id": it.record_id, "prompt": prompt, "answer": letter,
                    "permutation": perm})
    return out


REQUIRED_COLUMNS = ("Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2",
                    "Incorrect Answer 3")


def load_csv(path: str | Path) -> list[GPQAItem]:
    """Read the official GPQA CSV (gpqa_diamond.csv etc.)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing GPQA columns {missing}")
        items = []
        for n, row in enumerate(reader, start=1):
            rid = (row.get("Record ID") or "").strip() or f"row-{n}"
            items.append(GPQAItem(
                record_id=rid, question=row["Question"], correct=row["Correct Answer"],
                incorrect=(row["Incorrect Answer 1"], row["Incorrect Answer 2"], row["Incorrect Answer 3"]),
                extra={k: v for k, v in row.items() if k not in REQUIRED_COLUMNS and k and v}))
    return items
