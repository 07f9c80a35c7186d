"""Decimal commas (``2,74``, ``0,111``), decided by the reference's own form.

A lone ``d,d`` number is ambiguous: a decimal comma, a thousands separator (``1,234``) or two
answers (``3,5``). The reference decides. When it is a decimal number written with a point, an
answer written with a comma is read with a point; when the reference itself is written with a
comma that no thousands grouping explains (``0,111``, ``2,74``), the reference's comma is the
decimal one. Everything else stays as written (``1,234`` against ``1234`` is a thousands
separator; ``3,5`` against ``3, 5`` is two answers).
"""
from __future__ import annotations

import re

# what may surround the number: currency, math delimiters, spacing macros
_NOISE_RE = re.compile(r"\\\$|\$|\\[,!;: ]|\\text\s*\{\s*\}")
_COMMA_RE = re.compile(r"([-+]?\d+),(\d+)[ \t]{0,3}(\\?%)?")  # no space after the comma: "3, 5" is two
_POINT_RE = re.compile(r"[-+]?\d*\.\d+[ \t]{0,3}(?:\\?%)?")
_THOUSANDS_RE = re.compile(r"[-+]?[1-9]\d{0,2}(?:,\d{3})+")


def _bare(text: str) -> str:
    return _NOISE_RE.sub("", text).strip()


def _with_point(text: str) -> str | None:
    """``2,74`` -> ``2.74`` when ``text`` is one comma-number and nothing else."""
    m = _COMMA_RE.fullmatch(_bare(text))
    if not m:
        return None
    return f"{m.group(1)}.{m.group(2)}{m.group(3) or ''}"


def reread(reference: str, answer: str) -> tuple[str, str, str] | None:
    """``(reference, answer, note)`` with a decimal comma read as a point, or None."""
    if "," not in answer and "," not in reference:
        return None
    if _POINT_RE.fullmatch(_bare(reference)):
        pointed = _with_point(answer)
        if pointed is not None:
            return reference, pointed, "decimal comma read as a point (the reference is a decimal)"
    if _POINT_RE.fullmatch(_bare(answer)) and not _THOUSANDS_RE.fullmatch(_bare(reference)):
        pointed = _with_point(reference)
        if pointed is not None:
            return pointed, answer, "the reference's comma read as a decimal point"
    return None
