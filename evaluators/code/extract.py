"""Find the program in a model's response: the last fenced python block of the final answer.

Fences follow CommonMark: a run of at least three backticks or tildes, indented by up to three
spaces, with an optional info string (``python``, ``Python3``, ``{.python}``, ``py title=x``);
the block ends at a run of the same character at least as long, or at the end of the text.
Models also open a fence after text on the same line ("Here it is: ```python"); that is
accepted too when the rest of the line is only an info string.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from evaluators.answer import final_answer

OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)$")
OPEN_AFTER_TEXT = re.compile(r"^(?P<indent>)\S.*?(?P<fence>`{3,})(?P<info>[A-Za-z0-9_.+{}-]*[ \t]*)$")
PYTHON_TAG = re.compile(r"(python[0-9.]*|py3?)", re.IGNORECASE)


@dataclass(frozen=True)
class Block:
    info: str
    body: str

    @property
    def language(self) -> str:
        """The info string's first word, without Pandoc's ``{.lang}`` dressing."""
        word = self.info.split()[0] if self.info.split() else ""
        return word.strip("{}").lstrip(".").lower()

    @property
    def is_python(self) -> bool:
        return PYTHON_TAG.fullmatch(self.language) is not None


def _opening(line: str) -> re.Match | None:
    m = OPEN.match(line)
    if m and not (m["fence"][0] == "`" and "`" in m["info"]):  # a backtick info string has none
        return m
    return OPEN_AFTER_TEXT.match(line)


def _closes(line: str, fence: str) -> bool:
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3:
        return False
    run = len(stripped) - len(stripped.lstrip(fence[0]))
    return run >= len(fence) and not stripped[run:].strip()


def fenced_blocks(text: str) -> list[Block]:
    """Every fenced code block of ``text``, in order."""
    blocks, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        m = _opening(lines[i])
        i += 1
        if m is None:
            continue
        indent, fence, body = len(m["indent"]), m["fence"], []
        while i < len(lines) and not _closes(lines[i], fence):
            line = lines[i]
            body.append(line[min(indent, len(line) - len(line.lstrip(" "))):])
            i += 1
        i += 1  # past the closing fence (or the end)
        blocks.append(Block(m["info"].strip(), "\n".join(body)))
    return blocks


def extract_program(response: str) -> str | None:
    """Last fenced python block after any reasoning, else the last untagged fence, else the text."""
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    text = final_answer(response)
    if text is None:  # still thinking when it stopped: no answer
        return None
    blocks = fenced_blocks(text)
    python = [b.body for b in blocks if b.is_python]
    bare = [b.body for b in blocks if not b.language]
    program = (python or bare or [text])[-1].strip("\n")
    return program if program.strip() else None
