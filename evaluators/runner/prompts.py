"""Zero-shot prompt templates per benchmark family; users may override any of them from a file.

Templates are ``str.format`` strings over the problem's fields. The rendered prompt is part of
the dataset hash, so a changed template always starts a new run.
"""
from __future__ import annotations

from pathlib import Path

from evaluators.gpqa import PROMPT_TEMPLATE as GPQA_TEMPLATE

MATH = "{problem}\n\nPlease reason step by step, and put your final answer within \\boxed{{}}."

CODE_STDIN = (
    "You will be given a programming problem. Write a correct Python 3 program that reads the "
    "input from standard input and writes the answer to standard output.\n\n"
    "### Problem\n{question_content}\n\n"
    "### Format\nReturn the whole program in one fenced block:\n```python\n# your code\n```"
)

CODE_FUNCTIONAL = (
    "You will be given a programming problem. Complete the given starter code in Python 3 so "
    "that it passes all tests.\n\n"
    "### Problem\n{question_content}\n\n"
    "### Starter code\n```python\n{starter_code}\n```\n\n"
    "### Format\nReturn the completed code in one fenced block:\n```python\n# your code\n```"
)

DEFAULTS: dict[str, str] = {
    "math": MATH,
    "gpqa": GPQA_TEMPLATE,
    "code_stdin": CODE_STDIN,
    "code_functional": CODE_FUNCTIONAL,
}


def load_overrides(specs: list[str] | None) -> dict[str, str]:
    """``NAME=FILE`` pairs (NAME from :data:`DEFAULTS`) -> {name: template text}."""
    out: dict[str, str] = {}
    for spec in specs or []:
        name, sep, path = spec.partition("=")
        if not sep or name not in DEFAULTS:
            raise ValueError(f"prompt override must be NAME=FILE with NAME in {sorted(DEFAULTS)}, "
                             f"got {spec!r}")
        text = Path(path).read_text(encoding="utf-8")
        out[name] = text
    return out


def render(kind: str, fields: dict[str, str], overrides: dict[str, str] | None = None) -> str:
    """The prompt for ``fields`` under template ``kind``; a clear error names a missing field."""
    template = (overrides or {}).get(kind, DEFAULTS[kind])
    try:
        return template.format(**fields)
    except KeyError as exc:
        raise ValueError(f"prompt template {kind!r} uses field {exc} that this benchmark lacks "
                         f"(available: {sorted(fields)})") from None
    except (IndexError, ValueError) as exc:
        raise ValueError(f"prompt template {kind!r} is not a valid format string: {exc}") from None
