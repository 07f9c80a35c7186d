"""Exhaustive MAX: every assignment of the query variables, scored in batches (|Q| <= 20)."""
from __future__ import annotations

import numpy as np

from spn.network import SPN, SPNError
from spn.solvers.common import empty_row, score

MAX_QUERY = 20


def solve(spn: SPN, query: np.ndarray, batch: int = 4096):
    if len(query) > MAX_QUERY:
        raise SPNError(f"brute force takes at most {MAX_QUERY} query variables, got {len(query)}")
    best_row, best = empty_row(spn), -np.inf
    total = 1 << len(query)
    bits = np.arange(len(query))
    for first in range(0, total, batch):
        codes = np.arange(first, min(first + batch, total))
        rows = np.tile(empty_row(spn), (len(codes), 1))
        rows[:, query] = (codes[:, None] >> bits) & 1
        values = score(spn, rows)
        i = int(np.argmax(values))
        if values[i] > best:
            best, best_row = float(values[i]), rows[i]
    if best == -np.inf:
        best_row[query] = 0
    return best_row, best, True, {"evaluated": total}
