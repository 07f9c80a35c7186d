"""The one place a response is split into its reasoning and its final answer.

Ring-lite style models think inside ``<think>...</think>`` and answer after it. Servers with a
reasoning parser send the two apart; otherwise the tags are in the text, in any letter case, and a
chat template may already have opened ``<think>`` (so the text starts inside the reasoning).
Only the final answer is ever graded.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

OPEN, CLOSE = "<think>", "</think>"
NO_ANSWER = "no answer (reasoning never closed)"
_OPEN_RE = re.compile(re.escape(OPEN), re.IGNORECASE)
_CLOSE_RE = re.compile(re.escape(CLOSE), re.IGNORECASE)


@dataclass(frozen=True)
class Split:
    reasoning: str | None  # None: the response had no reasoning block
    answer: str | None  # None: the reasoning never closed, so there is no final answer


def split(text: str) -> Split:
    """Split on the last ``</think>``; an unclosed ``<think>`` means there is no answer yet."""
    closes = list(_CLOSE_RE.finditer(text))
    if closes:
        cut = closes[-1]
        thought = _OPEN_RE.sub("", text[:cut.start()], count=1) if _starts_open(text[:cut.start()]) \
            else text[:cut.start()]
        return Split(thought, text[cut.end():])
    opened = _OPEN_RE.search(text)
    if opened:
        return Split(text[opened.end():], None)
    return Split(None, text)


def _starts_open(text: str) -> bool:
    return text.lstrip().lower().startswith(OPEN)


def final_answer(text: str) -> str | None:
    """The text after the reasoning block; None when reasoning opened but never closed."""
    return split(text).answer


def split_reasoning(content: str | None, reasoning: str | None) -> tuple[str | None, str | None]:
    """(answer, reasoning) of a chat reply: a server-side reasoning field wins, else the tags."""
    if reasoning is not None:
        return content, reasoning
    if content is None:
        return None, None
    parts = split(content)
    return (None if parts.answer is None else parts.answer.strip(),
            None if parts.reasoning is None else parts.reasoning.strip())
