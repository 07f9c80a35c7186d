"""OpenRLHF adapters: ``strip_prompt`` for its query format, and ``reward_func`` for
``--reward.remote_url /path/to/this/file.py`` (OpenRLHF 0.11; ``--remote_rm_url`` before):
in-process grading, no service needed.

For a remote service point that flag at ``http://HOST:8100/get_reward`` instead.
The verifier comes from $RING_REWARD_VERIFIER (default math).
"""
from __future__ import annotations

import os
from typing import Any, Sequence


def strip_prompt(query: str, prompt: str | None) -> str:
    """The response part of OpenRLHF's ``query`` (prompt text followed by the response)."""
    if not prompt:
        return query
    if query.startswith(prompt):
        return query[len(prompt):]
    at = query.find(prompt)  # detokenising can put a BOS token or spaces before the prompt
    if at >= 0:
        return query[at + len(prompt):]
    return query


def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **_: Any):
    """OpenRLHF's reward-function-file protocol: rewards, scores and extra_logs per sample."""
    from evaluators.grading import grade_items

    verifier = os.environ.get("RING_REWARD_VERIFIER", "math")
    items = [{"verifier": verifier, "response": strip_prompt(q, p), "reference": label}
             for q, p, label in zip(queries, prompts, labels)]
    results = grade_items(items)
    rewards = [r.score for r in results]
    correct = [float(r.correct) for r in results]
    try:
        import torch
    except ImportError:  # plain lists for callers without torch
        return {"rewards": rewards, "scores": rewards, "extra_logs": {"correct": correct}}
    return {"rewards": torch.tensor(rewards), "scores": torch.tensor(rewards),
            "extra_logs": {"correct": torch.tensor(correct)}}
