"""Name -> verifier lookup shared by the benchmark runner, the reward service and the trainer.

Each built-in verifier is one line of ``_BUILTIN`` (name -> the module that registers it on
import); ``get_verifier`` imports them lazily so that importing ``evaluators`` stays cheap.
What a verifier grades (its verl data_source names) and its leaderboard suite come from its own
declarations (``evaluators.verifier.Verifier``), so nothing here names a dataset.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evaluators.verifier import Verifier

# verifier name -> module that registers it on import. The order is the data_source precedence:
# gpqa and code before math, so "codemath"-like names are not read as math.
_BUILTIN = {
    "gpqa": "evaluators.gpqa",
    "code": "evaluators.code",
    "math": "evaluators.math",
}
_REGISTRY: dict[str, "Verifier"] = {}


def register(verifier: "Verifier") -> "Verifier":
    """Make ``verifier`` available under its ``name`` (replacing one of the same name)."""
    if not getattr(verifier, "name", ""):
        raise ValueError(f"{type(verifier).__name__} has no name")
    _REGISTRY[verifier.name] = verifier
    return verifier


def unregister(name: str) -> None:
    """Forget a registered verifier (tests); a built-in one comes back on the next lookup."""
    _REGISTRY.pop(name, None)


def get_verifier(name: str) -> "Verifier":
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


def _in_precedence() -> list[str]:
    """Verifier names in data_source precedence: built-ins in ``_BUILTIN`` order, then the rest."""
    builtin = [name for name, module in _BUILTIN.items() if _installed(module)]
    return builtin + [name for name in _REGISTRY if name not in _BUILTIN]


def available() -> list[str]:
    return sorted(_in_precedence())


def verifier_for_source(data_source: str) -> str | None:
    """Verifier name for a verl ``data_source`` (e.g. "lighteval/MATH-500" -> "math"), else None."""
    key = data_source.strip().lower()
    names = _in_precedence()
    if key in names:
        return key
    return next((name for name in names if get_verifier(name).matches_source(key)), None)


def suite_for(benchmark_name: str) -> str:
    """Leaderboard suite ("math", "science", "code") of the verifier grading ``benchmark_name``, else ""."""
    name = verifier_for_source(benchmark_name)
    return get_verifier(name).suite if name else ""
