"""Which multiple-choice letter (A-D) a response finally commits to.

The chosen letter is the LAST explicit statement of the answer after the reasoning block:
``\\boxed{X}``, "Answer: X", "the correct answer is X", "Correct option: X", "I choose X", a
markdown heading ("## Answer") over the letter, and "the answer is not X; it is Y" (Y). Weaker
cues (``**X**``, ``\\text{(X)}``, a trailing "(X)") count only when there is no statement.
A final statement that hedges between letters ("A or B", "either \\boxed{B} or \\boxed{D}",
"**A** or **B**") is no answer (``ambiguous``); a later "the answer is not X" takes back X only.
"""
from __future__ import annotations

import re

from evaluators.answer import NO_ANSWER, final_answer
from evaluators.math.extract import boxed_all

AMBIGUOUS = "ambiguous: two different final letters"

# Every gap below is a bounded run ([ \t*]{0,4} etc.): nested unbounded \s* around optional
# parts backtrack catastrophically on long whitespace runs, which a model can emit.
_SP = r"[ \t]{0,3}"
_GAP = r"[ \t*$]{0,6}"
# a letter as an answer token: upper-case anywhere, lower-case only when clearly a label
_L = (r"(?:\(" + _SP + r"([A-Da-d])" + _SP + r"\)|([A-D])(?![A-Za-z])"
      r"|([a-d])(?=[ \t]{0,2}(?:[).\]*:,/]|$|[ \t]or[ \t])))")
_OPTION = r"(?i:option[ \t]|choice[ \t]|answer[ \t])?" + _SP
_STRONG = [
    re.compile(r"(?i:answer)" + _GAP + r"(?i:is)?" + _SP + r"[:：]" + _GAP + r"(?:\\text\{)?" + _SP + _L, re.M),
    re.compile(r"(?i:(?:the[ \t]|my[ \t])?(?:(?:correct|final|best|right)[ \t])?(?:answer|option|choice)"
               r"[ \t](?:is|would[ \t]be|should[ \t]be))" + _SP + r":?" + _GAP
               + r"(?i:option[ \t]|choice[ \t])?" + _SP + r"\$?(?:\\text\{)?" + _SP + _L, re.M),
    # "Correct option: B", "Final choice - (C)"
    re.compile(r"(?i:(?:correct|final|right|best|chosen|selected)[ \t](?:option|choice|letter))"
               + _SP + r"[:=\-\u2013\u2014]" + _GAP + _L, re.M),
    # "So I choose option C", "I'll go with D", "I pick (A)"
    re.compile(r"\bI(?:[ \t](?:would|will|shall)|'ll|'d)?[ \t](?i:choose|pick|select|go[ \t]with|opt[ \t]for)"
               r"[ \t]{1,3}" + _OPTION + _L, re.M),
    # a markdown heading or a bold line naming the answer, the letter opening the next line
    re.compile(r"^[ \t]{0,3}(?:#{1,6}[ \t]{0,3}|\*\*)(?i:(?:final|correct)[ \t])?(?i:answer|choice|option)"
               r"[ \t:*]{0,4}\n(?:[ \t]{0,8}\n){0,2}[ \t]{0,3}(?:\*\*)?" + _SP
               + r"(?:\(" + _SP + r"([A-Da-d])" + _SP + r"\)|([A-D])(?=[ \t]{0,2}(?:[).:\]*]|$)))", re.M),
]
# "the answer is not C", then maybe "; it is D" / ", but (D)"
_NEGATED = re.compile(r"(?i:answer|option|choice|it)(?i:[ \t]{1,3}is|'s)[ \t]{1,3}(?i:not)[ \t]{1,3}"
                      + _OPTION + r"(?:\(" + _SP + r"([A-Da-d])" + _SP + r"\)|([A-D])(?![A-Za-z]))")
_INSTEAD = re.compile(r"[ \t]{0,3}[;,.:\u2013\u2014-]{0,2}[ \t\n]{0,3}"
                      r"(?i:but[ \t](?:rather[ \t])?|rather[ \t]|instead[ \t]|it(?:'s|[ \t]is)[ \t]"
                      r"|the[ \t](?:correct[ \t])?(?:answer|option)[ \t]is[ \t])" + _OPTION + _L)
_WEAK = [
    re.compile(r"\*\*" + _SP + r"(?:\(" + _SP + r"([A-Da-d])" + _SP + r"\)|([A-D]))" + _SP + r"[).]?" + _SP + r"\*\*"),
    re.compile(r"\\text(?:bf)?\{" + _SP + r"\(?" + _SP + r"([A-Da-d])" + _SP + r"\)?" + _SP + r"\}"),
    re.compile(r"\(([A-D])\)"),
]
_TWO = re.compile(r"^[ \t]{0,3}\(?([A-Da-d])\)?[ \t]{0,3}(?:or|and|/|,|&)[ \t]{0,3}\(?([A-Da-d])\)?(?![A-Za-z])",
                  re.I)
# hedges between marked letters: boxed ("\boxed{B} or \boxed{D}", also "and"), bold ("**A** or
# **B**") and "either A or C"
_BOX_CUE = r"\$?\\boxed\{(?:\\text(?:bf)?\{)?" + _SP + r"\(?([A-D])\)?" + _SP + r"\}?\}\$?"
_BOLD_CUE = r"\*\*" + _SP + r"\(?([A-D])\)?[.)]?" + _SP + r"\*\*"
_HEDGES = [
    re.compile(_BOX_CUE + r"(?:" + _SP + r"," + _SP + _BOX_CUE + r"){0,3}" + _SP + r",?" + _SP
               + r"(?:or|and/or|and)[ \t]{1,3}" + _BOX_CUE),
    re.compile(_BOLD_CUE + r"(?:" + _SP + r"," + _SP + _BOLD_CUE + r"){0,3}" + _SP + r",?" + _SP
               + r"(?:or|and/or)[ \t]{1,3}" + _BOLD_CUE),
    re.compile(r"(?i:either)[ \t]{1,3}" + _OPTION + r"\(?([A-D])\)?[ \t]{1,3}(?i:or)[ \t]{1,3}" + _OPTION
               + r"\(?([A-D])\)?(?![A-Za-z])"),
]


def _first_group(m: re.Match) -> str:
    return next(g for g in m.groups() if g).upper()


def extract_choice(response: str) -> tuple[str | None, str]:
    """(letter, how). letter is None with a reason in ``how`` when there is no single answer."""
    text = final_answer(response)
    if text is None:
        return None, NO_ANSWER
    hedges = _hedges(text)
    hits = _boxed_hits(text) + _statement_hits(text) + [(start, letter, "hedge") for start, _, letter in hedges]
    if all(letter.startswith("!") for _, letter, _ in hits):  # nothing stated but negations
        hits += [(m.start(), _first_group(m), "weak cue") for rx in _WEAK for m in rx.finditer(text)]
    if not hits:
        return None, "no answer found"
    return _resolve(sorted(hits, key=lambda h: h[0]), hedges)


def _resolve(hits: list[tuple[int, str, str]], hedges: list[tuple[int, int, str]]) -> tuple[str | None, str]:
    """The last statement wins, unless a later negation takes back that very letter."""
    negated: set[str] = set()
    for pos, letter, how in reversed(hits):
        if letter.startswith("!"):
            negated.add(letter[1])
            continue
        for start, end, two in hedges:
            if start <= pos < end:
                letter = two
        if letter.startswith("?"):
            return None, f"{AMBIGUOUS} ({letter[1]} or {letter[2]})"
        if letter in negated:
            break
        return letter, how
    return None, f"negated answer (not {' or '.join(sorted(negated))})"


def _boxed_hits(text: str) -> list[tuple[int, str, str]]:
    hits = []
    for pos, content in _boxed_with_pos(text):
        inner = re.sub(r"\\text(?:bf)?\{([^{}]*)\}", r"\1", content).strip()
        two = _TWO.match(inner)
        if two and two.group(1).upper() != two.group(2).upper():
            hits.append((pos, "?" + two.group(1).upper() + two.group(2).upper(), "boxed"))
            continue
        m = re.match(r"\(?[ \t]{0,3}([A-Da-d])[ \t]{0,3}\)?[.:]?(?:\s|$)", inner)
        if m:
            hits.append((pos, m.group(1).upper(), "boxed"))
    return hits


def _statement_hits(text: str) -> list[tuple[int, str, str]]:
    hits = []
    for rx in _STRONG:
        for m in rx.finditer(text):
            letter = _first_group(m)
            two = _TWO.match(text[m.start(m.lastindex):m.start(m.lastindex) + 40])
            if two and two.group(1).upper() != two.group(2).upper():
                letter = "?" + two.group(1).upper() + two.group(2).upper()
            hits.append((m.start(), letter, "answer statement"))
    for m in _NEGATED.finditer(text):
        instead = _INSTEAD.match(text, m.end())
        letter = _first_group(instead) if instead else "!" + _first_group(m)
        hits.append((m.start(), letter, "answer statement"))
    return hits


def _hedges(text: str) -> list[tuple[int, int, str]]:
    """(start, end, "?XY") of each hedge between two or more different letters."""
    out = []
    for rx in _HEDGES:
        for m in rx.finditer(text):
            letters = list(dict.fromkeys(g for g in m.groups() if g))
            if len(letters) > 1:
                out.append((m.start(), m.end(), "?" + letters[0] + letters[1]))
    return out


def _boxed_with_pos(text: str) -> list[tuple[int, str]]:
    """(position, content) of the last few boxes; capped so hostile input stays linear."""
    out = []
    starts = [m.start() for m in re.finditer(r"\\boxed[ \t]{0,3}\{", text)][-8:]
    for pos in starts:
        got = boxed_all(text[pos:pos + 2000])
        if got:
            out.append((pos, got[0]))
    return out
