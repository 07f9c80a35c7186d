"""Glue for the lm-eval task YAMLs here: local data via our loaders, grading via our verifiers.

Use with ``lm_eval --include_path evaluators/lm_eval_tasks --tasks ring_aime24 ...``; nothing is
fetched from the Hugging Face Hub.
"""
from __future__ import annotations

from typing import Any


def _to_hf(dataset) -> Any:
    import datasets as hf

    rows = {"id": [], "prompt": [], "answer": []}
    for p in dataset.problems:
        rows["id"].append(p.id)
        rows["prompt"].append(p.prompt)
        rows["answer"].append(p.reference if isinstance(p.reference, str) else "")
    return hf.DatasetDict({"test": hf.Dataset.from_dict(rows)})


def load_aime24(**_: Any):
    from evaluators.runner.datasets import load_math

    return _to_hf(load_math("aime24"))


def load_aime25(**_: Any):
    from evaluators.runner.datasets import load_math

    return _to_hf(load_math("aime25"))


def load_math500(**_: Any):
    from evaluators.runner.datasets import load_math

    return _to_hf(load_math("math500"))


def load_synthetic(**_: Any):
    """Eight seeded arithmetic problems, every other one with answer 42 (smoke tests)."""
    from evaluators.runner.datasets import load_synthetic as load

    return _to_hf(load("synthetic:n=8:target=42"))


def doc_to_text(doc: dict) -> str:
    return doc["prompt"]


def process_results(doc: dict, results: list[str]) -> dict[str, float]:
    """Math verifier on the final answer (after any reasoning) of the first response."""
    from evaluators import get_verifier

    response = results[0] if results and results[0] is not None else ""
    verdict = get_verifier("math").grade(response, doc["answer"])
    return {"exact_match": verdict.score}
