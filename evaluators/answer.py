"""The one place a response is split into its reasoning and its final answer.

Ring-lite style models think inside ``<think>...</think>`` and answer after it. Servers with a
reasoning parser send the two apart; otherwise the tags are in the text, in any letter case, and a
chat template may already have opened ``<think>`` (so the text starts inside the reasoning).
Only the final answer is ever graded. A chat template's end-of-turn token (``<|im_end|>``,
``</s>``, ``<|endoftext|>`` ...) ends the reply: it and anything after it are not the answer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

OPEN, CLOSE = "<think>", "</think>"
NO_ANSWER = "no answer (reasoning never closed)"
_OPEN_RE = re.compile(re.escape(OPEN), re.IGNORECASE)
_CLOSE_RE = re.compile(re.escape(CLOSE), re.IGNORECASE)
END_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "<|end|>", "</s>",
              "<eos>", "<|eos|>", "<\uff5cend\u2581of\u2581sentence\uff5c>")
_END_RE = re.compile("|".join(map(re.escape, END_TOKENS)))


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
        return Split(thought, cut_at_end_token(text[cut.end():]))
    opened = _OPEN_RE.search(text)
    if opened:
        return Split(text[opened.end():], None)
    return Split(None, cut_at_end_token(text))


def cut_at_end_token(text: str) -> str:
    """The reply up to its first end-of-turn token (all of it when there is none)."""
    m = _END_RE.search(text)
    return text if m is None else text[:m.start()]


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
