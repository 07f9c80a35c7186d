"""The ``Verifier`` base class: a verifier declares itself once and every caller reads that.

A subclass sets ``name``, ``version``, ``suite`` (leaderboard suite), ``data_sources`` (regex
patterns over verl-style dataset names), ``bounds_own_time`` and ``Options`` (a pydantic model
of its options with defaults and bounds), and implements ``judge``. ``grade``/``grade_batch``
check the options against ``Options`` first, so a misspelled option is an ``OptionError`` in
process exactly as it is a 422 from the reward service.
"""
from __future__ import annotations

import math
import re
from typing import Any, ClassVar, Mapping, Sequence

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo

from evaluators.verdict import Verdict


class OptionError(ValueError):
    """An option the verifier does not accept, or a value outside its declared bounds."""


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Verifier:
    """Base of every verifier; one instance per verifier is registered (``evaluators.register``)."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1.0"
    suite: ClassVar[str] = ""  # "math" | "science" | "code"
    data_sources: ClassVar[tuple[str, ...]] = ()  # searched in the lower-cased data_source
    bounds_own_time: ClassVar[bool] = False  # True: an item can never run past its own time limit
    Options: ClassVar[type[BaseModel]] = NoOptions
    trusted: ClassVar[frozenset[str]] = frozenset()  # in-process-only switches, never over HTTP

    defaults: ClassVar[dict[str, Any]] = {}
    source_pattern: ClassVar[re.Pattern[str] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # computed once per class: grading calls read them on every item
        cls.defaults = {k: f.get_default(call_default_factory=True) for k, f in cls.Options.model_fields.items()}
        cls.source_pattern = re.compile("|".join(cls.data_sources)) if cls.data_sources else None

    # -- declarations, read by the registry and the reward service -----------------------------

    def check_options(self, given: Mapping[str, Any] | None, *, trusted_ok: bool) -> dict[str, Any]:
        """Checked copy of ``given`` (only the keys given); OptionError names the bad one.

        ``trusted_ok`` lets this verifier's ``trusted`` switches through (in-process callers only).
        """
        if not given:
            return {}
        fields = self.Options.model_fields
        public: dict[str, Any] = {}
        switches: dict[str, Any] = {}
        for key, value in given.items():
            if trusted_ok and key in self.trusted:
                switches[key] = value
            elif key in fields:
                public[key] = _checked_value(key, value, fields[key])
            else:
                known = ", ".join(sorted(fields)) or "none"
                raise OptionError(f"unknown option {key!r} for verifier {self.name!r} (known: {known})")
        return {**self._validated(public), **switches}

    def _validated(self, public: dict[str, Any]) -> dict[str, Any]:
        # the model has the last word: its own validators (if a verifier declares any) run here
        if not public:
            return {}
        try:
            model = self.Options.model_validate(public)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "options"
            raise OptionError(f"option {where!r} {first.get('msg', 'is invalid')}") from None
        return {key: getattr(model, key) for key in public}

    def describe(self) -> dict[str, dict[str, Any]]:
        """Each option's type, help, bounds and default (``GET /v1/verifiers``)."""
        return {key: _describe_field(f) for key, f in self.Options.model_fields.items()}

    def matches_source(self, data_source: str) -> bool:
        """Whether a lower-cased verl ``data_source`` names a dataset this verifier grades."""
        return bool(self.source_pattern and self.source_pattern.search(data_source))

    def options_within(self, options: dict[str, Any], remaining_s: float) -> dict[str, Any]:
        """Options that keep one grade within ``remaining_s`` seconds; by default unchanged."""
        return options

    # -- grading ------------------------------------------------------------------------------

    def grade(self, response: str, reference: Any, **options: Any) -> Verdict:
        """Grade one response against one reference (in-process: trusted switches allowed)."""
        return self.grade_checked(response, reference, self.check_options(options, trusted_ok=True))

    def grade_checked(self, response: str, reference: Any, options: dict[str, Any]) -> Verdict:
        """``grade`` with options that came from ``check_options`` (or ``options_within``)."""
        return self.judge(response, reference, **{**self.defaults, **options})

    def grade_batch(self, items: Sequence[tuple[str, Any]], *, progress: bool = False,
                    **options: Any) -> list[Verdict]:
        """Grade ``(response, reference)`` pairs, in order; ``progress`` shows a bar where supported."""
        settings = {**self.defaults, **self.check_options(options, trusted_ok=True)}
        return self.judge_batch(list(items), progress=progress, **settings)

    def judge(self, response: str, reference: Any, **settings: Any) -> Verdict:
        """Grade one item with checked ``settings`` (every option, defaults filled in)."""
        raise NotImplementedError

    def judge_batch(self, items: list[tuple[str, Any]], *, progress: bool = False,
                    **settings: Any) -> list[Verdict]:
        """Many items with checked settings; one by one unless a verifier parallelises."""
        return [self.judge(response, reference, **settings) for response, reference in items]


def _bounds(field: FieldInfo) -> tuple[Any, Any]:
    low = next((m.ge for m in field.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in field.metadata if isinstance(m, Le)), None)
    return low, high


def _checked_value(key: str, value: Any, field: FieldInfo) -> Any:
    """Type and range check of one option with the reward service's long-standing messages."""
    kind = field.annotation
    if kind is bool:
        if not isinstance(value, bool):
            raise OptionError(f"option {key!r} must be true or false")
        return value
    if kind not in (int, float):
        return value  # other types: the model's own validation decides
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OptionError(f"option {key!r} must be a number")
    if kind is int and not float(value).is_integer():
        raise OptionError(f"option {key!r} must be an integer")
    if not math.isfinite(value):
        raise OptionError(f"option {key!r} must be finite")
    low, high = _bounds(field)
    if (low is not None and value < low) or (high is not None and value > high):
        raise OptionError(f"option {key!r} must be in [{low}, {high}], got {value}")
    return kind(value)


def _describe_field(field: FieldInfo) -> dict[str, Any]:
    kind = field.annotation
    out: dict[str, Any] = {"type": getattr(kind, "__name__", str(kind)), "help": field.description or ""}
    low, high = _bounds(field)
    if low is not None:
        out["min"] = low
    if high is not None:
        out["max"] = high
    out["default"] = field.get_default(call_default_factory=True)
    return out
