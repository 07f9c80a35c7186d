"""C3PO's token budget: which responses an optimiser step trains on.

GRPO trains on every response of a step, so the number of tokens per step (and with it the
gradient's scale, its variance and the step time) swings with the response lengths. C3PO
(Ring-lite, arXiv 2506.14731, Sec. 3.2) fixes a budget of Phi tokens per step (per rank):
after advantages are computed it walks the responses in order and takes them greedily until
the running token count first reaches Phi,

    S = {o_1, ..., o_m},  m = min{ j : sum_{i<=j} |o_i| >= Phi },

and the loss is divided by Phi (see ``trainer.losses``). Responses after o_m are dropped, as in
the paper; ``defer=True`` keeps them for the next step instead (they then come from an older
policy, which the decoupled PPO objective in ``trainer.losses`` accounts for). The response that
crosses the budget is taken whole by default; ``exact=True`` trains only on its first tokens so
that every step sees exactly Phi tokens (when there are that many).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class BudgetSelection:
    selected: list[int]  # indices into the candidate list, in the order taken
    left: list[int]  # indices not taken (dropped, or deferred when defer=True)
    tokens: int  # tokens trained on this step
    deferred: bool = False
    # index -> how many of its leading tokens count (only the crossing response with exact=True)
    keep_tokens: dict[int, int] = field(default_factory=dict)


def select_by_budget(lengths: Sequence[int], budget: int, *, defer: bool = False,
                     exact: bool = False) -> BudgetSelection:
    """Greedy C3PO selection over responses of the given token ``lengths`` (in that order)."""
    if budget <= 0:
        raise ValueError(f"token budget must be positive, got {budget}")
    if any(n < 0 for n in lengths):
        raise ValueError("response lengths must be non-negative")
    selected: list[int] = []
    keep: dict[int, int] = {}
    total = 0
    for i, n in enumerate(lengths):
        if total >= budget:
            break
        if exact and total + n > budget:
            keep[i] = budget - total
            n = budget - total
        selected.append(i)
        total += n
    left = list(range(len(selected), len(lengths)))
    return BudgetSelection(selected=selected, left=left, tokens=total, deferred=defer, keep_tokens=keep)
