"""Map a verl-style ``data_source`` (a dataset name) to the verifier that grades it."""
from __future__ import annotations

import re

# first match wins; gpqa and code come before math so "codemath"-like names are not misread
_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"gpqa"), "gpqa"),
    (re.compile(r"livecodebench|lcb|codecontests|code_contests|apps|taco|leetcode|codeforces|"
                r"primeintellect|deepcoder|kodcode|\bcode\b|coding"), "code"),
    (re.compile(r"aime|amc|math|gsm8k|olympiad|minerva|deepscaler|numina|dapo|omni"), "math"),
]


def verifier_for(data_source: str) -> str | None:
    """Verifier name for ``data_source`` (e.g. "lighteval/MATH-500" -> "math"), else None."""
    key = data_source.strip().lower()
    if key in ("math", "gpqa", "code"):
        return key
    for pattern, name in _RULES:
        if pattern.search(key):
            return name
    return None
