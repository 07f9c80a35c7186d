"""Grade mixed items in-process or through the reward service; shared by the adapters."""
from __future__ import annotations

import json
import os
from typing import Any, Sequence

from evaluators.registry import get_verifier

FIELDS = ("verifier", "score", "correct", "extracted", "reason")


def verifier_for(data_source: str) -> str:
    """The verifier for a verl-style data_source; ValueError when none fits."""
    from ring_serve.reward.datasource import verifier_for as lookup

    name = lookup(data_source)
    if name is None:
        raise ValueError(f"data_source {data_source!r} maps to no verifier (math, gpqa, code)")
    return name


def grade_items(items: Sequence[dict[str, Any]], *, url: str | None = None, api_key: str | None = None,
                timeout_s: float | None = None) -> list[dict[str, Any]]:
    """Grade dicts with ``verifier``, ``response``, ``reference`` (and optional ``options``).

    Remote when ``url`` (or $RING_REWARD_URL) is set, else in-process. An item the grader cannot
    use gets score 0 with its message in ``reason`` rather than failing the whole batch.
    """
    url = url or os.environ.get("RING_REWARD_URL") or None
    if url:
        from evaluators.compat.client import client_for

        key = api_key if api_key is not None else os.environ.get("RING_API_KEY")
        return client_for(url, key).grade(items, timeout_s=timeout_s)
    return _grade_local(items)


def _grade_local(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any] | None] = [None] * len(items)
    groups: dict[tuple[str, str], list[int]] = {}  # items sharing verifier and options
    for i, it in enumerate(items):
        key = (it["verifier"], json.dumps(it.get("options") or {}, sort_keys=True))
        groups.setdefault(key, []).append(i)
    for (name, _), idx in groups.items():
        verifier = get_verifier(name)
        opts = dict(items[idx[0]].get("options") or {})
        pairs = [(items[i]["response"], items[i]["reference"]) for i in idx]
        try:
            verdicts = verifier.grade_batch(pairs, **opts)
        except Exception:  # one bad item spoils grade_batch: grade one by one to isolate it
            verdicts = [_one(verifier, r, ref, items[i].get("options") or {}) for i, (r, ref) in zip(idx, pairs)]
        for i, v in zip(idx, verdicts):
            out[i] = v if isinstance(v, dict) else {"verifier": name, "score": float(v.score),
                                                    "correct": bool(v.correct), "extracted": v.extracted,
                                                    "reason": v.reason}
    return out  # type: ignore[return-value]


def _one(verifier, response, reference, options) -> Any:
    try:
        return verifier.grade(response, reference, **options)
    except Exception as exc:
        return {"verifier": verifier.name, "score": 0.0, "correct": False, "extracted": None,
                "reason": f"invalid item: {exc}"[:500]}
