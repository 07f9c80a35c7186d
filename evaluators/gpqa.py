"""GPQA multiple-choice matcher, plus the simple-evals style prompt and seeded choice shuffle.

The chosen letter is the LAST explicit statement of the answer after the reasoning block:
``\\boxed{X}`` and "Answer: X" / "the correct answer is X" first, then weaker cues such as
``**X**``, ``\\text{(X)}`` or a trailing "(X)". A final statement naming two different letters
("Answer: A or B") is graded incorrect.
"""
from __future__ import annotations

import csv
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from evaluators.answer import NO_ANSWER, final_answer
from evaluators.math.extract import boxed_all
from evaluators.registry import register
from evaluators.verdict import Verdict
from evaluators.verifier import Verifier

VERSION = "1.0"
LETTERS = "ABCD"

PROMPT_TEMPLATE = (
    "Answer the following multiple choice question. The last line of your response should be of "
    "the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. "
    "Think step by step before answering.\n\n{question}\n\nA) {A}\nB) {B}\nC) {C}\nD) {D}"
)

# Every gap below is a bounded run ([ \t*]{0,4} etc.): nested unbounded \s* around optional
# parts backtrack catastrophically on long whitespace runs, which a model can emit.
_SP = r"[ \t]{0,3}"
_GAP = r"[ \t*$]{0,6}"
# a letter as an answer token: upper-case anywhere, lower-case only when clearly a label
_L = (r"(?:\(" + _SP + r"([A-Da-d])" + _SP + r"\)|([A-D])(?![A-Za-z])"
      r"|([a-d])(?=[ \t]{0,2}(?:[).\]*:,/]|$|[ \t]or[ \t])))")
_STRONG = [
    re.compile(r"(?i:answer)" + _GAP + r"(?i:is)?" + _SP + r"[:：]" + _GAP + r"(?:\\text\{)?" + _SP + _L, re.M),
    re.compile(r"(?i:(?:the[ \t]|my[ \t])?(?:(?:correct|final|best|right)[ \t])?(?:answer|option|choice)"
               r"[ \t](?:is|would[ \t]be|should[ \t]be))" + _SP + r":?" + _GAP
               + r"(?i:option[ \t]|choice[ \t])?" + _SP + r"\$?(?:\\text\{)?" + _SP + _L, re.M),
]
_WEAK = [
    re.compile(r"\*\*" + _SP + r"(?:\(" + _SP + r"([A-Da-d])" + _SP + r"\)|([A-D]))" + _SP + r"[).]?" + _SP + r"\*\*"),
    re.compile(r"\\text(?:bf)?\{" + _SP + r"\(?" + _SP + r"([A-Da-d])" + _SP + r"\)?" + _SP + r"\}"),
    re.compile(r"\(([A-D])\)"),
]
_TWO = re.compile(r"^[ \t]{0,3}\(?([A-Da-d])\)?[ \t]{0,3}(?:or|and|/|,|&)[ \t]{0,3}\(?([A-Da-d])\)?(?![A-Za-z])",
                  re.I)


def _first_group(m: re.Match) -> str:
    return next(g for g in m.groups() if g).upper()


def extract_choice(response: str) -> tuple[str | None, str]:
    """(letter, how). letter is None with a reason in ``how`` when there is no single answer."""
    text = final_answer(response)
    if text is None:
        return None, NO_ANSWER
    hits: list[tuple[int, str, str]] = []  # (position, letter, how)
    for b in _boxed_with_pos(text):
        pos, content = b
        inner = re.sub(r"\\text(?:bf)?\{([^{}]*)\}", r"\1", content).strip()
        two = _TWO.match(inner)
        if two and two.group(1).upper() != two.group(2).upper():
            hits.append((pos, "?" + two.group(1).upper() + two.group(2).upper(), "boxed"))
            continue
        m = re.match(r"\(?[ \t]{0,3}([A-Da-d])[ \t]{0,3}\)?[.:]?(?:\s|$)", inner)
        if m:
            hits.append((pos, m.group(1).upper(), "boxed"))
    for rx in _STRONG:
        for m in rx.finditer(text):
            letter = _first_group(m)
            two = _TWO.match(text[m.start(m.lastindex):m.start(m.lastindex) + 40])
            if two and two.group(1).upper() != two.group(2).upper():
                letter = "?" + two.group(1).upper() + two.group(2).upper()
            hits.append((m.start(), letter, "answer statement"))
    if not hits:
        for rx in _WEAK:
            for m in rx.finditer(text):
                hits.append((m.start(), _first_group(m), "weak cue"))
    if not hits:
        return None, "no answer found"
    hits.sort(key=lambda h: h[0])
    _, letter, how = hits[-1]
    if letter.startswith("?"):
        return None, f"two different final letters ({letter[1]} or {letter[2]})"
    return letter, how


def _boxed_with_pos(text: str) -> list[tuple[int, str]]:
    """(position, content) of the last few boxes; capped so hostile input stays linear."""
    out = []
    starts = [m.start() for m in re.finditer(r"\\boxed[ \t]{0,3}\{", text)][-8:]
    for pos in starts:
        got = boxed_all(text[pos:pos + 2000])
        if got:
            out.append((pos, got[0]))
    return out


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
