"""TRL ``GRPOTrainer(reward_funcs=[...])`` functions built from our verifiers.

TRL calls ``f(prompts=..., completions=..., **columns)`` where every other dataset column comes
as a list; completions are strings or chat messages. ``reward_func`` returns such an ``f``.
"""
from __future__ import annotations

from typing import Any, Callable

from evaluators.compat import grade_items, verifier_for


def _text(completion: Any) -> str:
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):  # conversational: the assistant's message(s)
        return "".join(m.get("content") or "" for m in completion if isinstance(m, dict))
    if isinstance(completion, dict):
        return completion.get("content") or ""
    raise TypeError(f"completion must be a string or chat messages, got {type(completion).__name__}")


# TRL's own examples call the reference `solution`, most math sets `answer`; where a set has both
# (MATH: a worked solution and its final answer), the bare answer is the sharper reference.
REFERENCE_COLUMNS = ("answer", "solution")


def _reference_column(columns: dict[str, Any], reference_key: str | None) -> str:
    if reference_key is not None:
        if reference_key not in columns:
            raise KeyError(f"dataset has no {reference_key!r} column (set reference_key=...)")
        return reference_key
    for key in REFERENCE_COLUMNS:
        if key in columns:
            return key
    raise KeyError(f"dataset has none of the reference columns {list(REFERENCE_COLUMNS)} "
                   f"(columns: {sorted(columns)}; set reference_key=...)")


def reward_func(verifier: str | None = None, *, reference_key: str | None = None,
                data_source_key: str = "data_source", url: str | None = None, api_key: str | None = None,
                timeout_s: float | None = None, name: str | None = None) -> Callable[..., list[float]]:
    """A TRL reward function grading ``completions`` against the reference column.

    The reference column is ``reference_key`` when given, else ``answer`` or, failing that,
    ``solution``.
    ``verifier`` fixes the grader; when None each row's ``data_source_key`` column picks it.
    ``url`` (or $RING_REWARD_URL) grades through a remote reward service.
    """

    def reward(prompts: list[Any] | None = None, completions: list[Any] | None = None,
               **columns: Any) -> list[float]:
        completions = list(completions or [])
        references = list(columns[_reference_column(columns, reference_key)])
        if len(references) != len(completions):
            raise ValueError(f"{len(completions)} completions but {len(references)} references")
        if verifier is None:
            if data_source_key not in columns:
                raise KeyError(f"no verifier given and the dataset has no {data_source_key!r} column")
            names = [verifier_for(s) for s in columns[data_source_key]]
        else:
            names = [verifier] * len(completions)
        items = [{"verifier": v, "response": _text(c), "reference": ref}
                 for v, c, ref in zip(names, completions, references)]
        return [r.score for r in grade_items(items, url=url, api_key=api_key, timeout_s=timeout_s)]

    reward.__name__ = name or f"ring_{verifier or 'mixed'}_reward"
    reward.__qualname__ = reward.__name__
    return reward
