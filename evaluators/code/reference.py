"""The tests a code reference carries: an LCB row, ``{"tests": [...]}`` or ``{"inputs", "outputs"}``."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from evaluators.runner.lcb_dataset import decode_tests  # the one LCB test-list decoder


@dataclass(frozen=True)
class Case:
    input: str
    output: str


def parse_reference(reference: Any, *, include_supplementary: bool = False
                    ) -> tuple[list[Case], str, str | None]:
    """(cases, mode, func_name) from an LCB row, ``{"tests": [...]}``, or ``{"inputs","outputs"}``."""
    if isinstance(reference, (str, bytes)):
        try:
            reference = json.loads(reference)
        except ValueError as exc:
            raise ValueError("reference is not valid JSON") from exc
    if not isinstance(reference, dict):
        raise ValueError(f"reference must be a dict or its JSON, got {type(reference).__name__}")
    metadata = reference.get("metadata") or {}
    if isinstance(metadata, str):
        metadata = json.loads(metadata) if metadata.strip() else {}
    func_name = reference.get("func_name") or reference.get("fn_name") or metadata.get("func_name")
    raw: list[dict] = []
    if "tests" in reference:
        raw = decode_tests(reference["tests"])
    elif "inputs" in reference and "outputs" in reference:
        raw = [{"input": i, "output": o} for i, o in zip(reference["inputs"], reference["outputs"])]
    else:
        raw = decode_tests(reference.get("public_test_cases")) + \
              decode_tests(reference.get("private_test_cases"))
        if include_supplementary:
            raw += decode_tests(reference.get("supplementary_test_cases"))
    if not raw:
        raise ValueError("reference has no tests")
    cases, types = [], set()
    for i, t in enumerate(raw):
        if not isinstance(t, dict) or "input" not in t or "output" not in t:
            raise ValueError(f"test {i} needs 'input' and 'output'")
        if not isinstance(t["input"], str) or not isinstance(t["output"], str):
            raise ValueError(f"test {i}: input and output must be strings")
        types.add(t.get("testtype") or ("functional" if func_name else "stdin"))
    if len(types) > 1:
        raise ValueError(f"tests mix test types {sorted(types)}")
    mode = types.pop()
    if mode not in ("stdin", "functional"):
        raise ValueError(f"unknown testtype {mode!r}")
    if mode == "functional" and not func_name:
        raise ValueError("functional tests need metadata.func_name")
    cases = [Case(t["input"], t["output"]) for t in raw]
    return cases, mode, func_name
