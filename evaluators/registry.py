"""Name -> verifier lookup shared by the benchmark runner, the reward service and the trainer.

A verifier is any object with ``name``, ``version``, ``grade(response, reference, **options)``
and ``grade_batch(items, **options)`` where items are ``(response, reference)`` pairs.
Modules register themselves at import time; ``get_verifier`` imports the known ones lazily so
that importing ``evaluators`` stays cheap.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
from typing import Any, Iterable, Protocol, Sequence

from evaluators.verdict import Verdict


class Verifier(Protocol):
    name: str
    version: str

    def grade(self, response: str, reference: Any, **options: Any) -> Verdict: ...

    def grade_batch(self, items: Sequence[tuple[str, Any]], **options: Any) -> list[Verdict]: ...


_REGISTRY: dict[str, Verifier] = {}
# verifier name -> module that registers it on import
_BUILTIN = {"math": "evaluators.math", "gpqa": "evaluators.gpqa", "code": "evaluators.code"}


def register(verifier: Verifier) -> Verifier:
    _REGISTRY[verifier.name] = verifier
    return verifier


def get_verifier(name: str) -> Verifier:
    """Return the verifier called ``name``; KeyError lists the known names."""
    if name not in _REGISTRY and name in _BUILTIN:
        importlib.import_module(_BUILTIN[name])
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown verifier {name!r}; known: {', '.join(available())}") from None


@functools.lru_cache(maxsize=None)
def _installed(module: str) -> bool:
    # a module search walks sys.path: once per process, not on every request's item
    return importlib.util.find_spec(module) is not None


def available() -> list[str]:
    names = set(_REGISTRY)
    names.update(name for name, module in _BUILTIN.items() if _installed(module))
    return sorted(names)


def grade_many(name: str, items: Iterable[tuple[str, Any]], **options: Any) -> list[Verdict]:
    return get_verifier(name).grade_batch(list(items), **options)
