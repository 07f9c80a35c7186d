"""Find the program in a model's response: the last fenced python block of the final answer."""
from __future__ import annotations

import re

from evaluators.answer import final_answer

FENCE = re.compile(r"^```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
PYTHON_TAGS = {"python", "py", "python3"}


def extract_program(response: str) -> str | None:
    """Last fenced python block after any reasoning, else the last bare fence, else the text."""
    if not isinstance(response, str):
        raise TypeError(f"response must be a str, got {type(response).__name__}")
    text = final_answer(response)
    if text is None:  # still thinking when it stopped: no answer
        return None
    blocks = FENCE.findall(text)
    python = [body for tag, body in blocks if tag.lower() in PYTHON_TAGS]
    bare = [body for tag, body in blocks if not tag]
    program = (python or bare or [text])[-1].strip("\n")
    return program if program.strip() else None
