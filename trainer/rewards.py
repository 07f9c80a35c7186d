"""Binary rewards: each response graded by its task's verifier, in-process or by `ring reward serve`.

Both paths are ``evaluators.grading.grade_items``, the one the verl/TRL/OpenRLHF adapters use:
in-process it groups the batch by verifier (math, code in the sandbox, gpqa); with a URL the
mixed batch goes to the reward service, which runs the same verifiers, so rewards are identical.
The service key comes from $RING_API_KEY, never from the run config (which is written to the
checkpoints and the results DB); remote clients are pooled per (url, key) by
``evaluators.compat.reward_client``.
"""
from __future__ import annotations

from typing import Sequence

from evaluators.grading import grade_items
from trainer.data import Task


def rewards(texts: Sequence[str], tasks: Sequence[Task], url: str | None = None) -> list[float]:
    """One reward in {0.0, 1.0} per (response text, task); graded by ``url``'s service if given."""
    if len(texts) != len(tasks):
        raise ValueError(f"{len(texts)} responses for {len(tasks)} tasks")
    items = [{"verifier": t.verifier, "response": r, "reference": t.reference} for r, t in zip(texts, tasks)]
    return [float(res.correct) for res in grade_items(items, url=url or None)]
