"""Beam search over query assignments, started from Best Tree and Normalised Greedy: one
derivative pass scores every single-variable flip of every beam member at once (by
multilinearity dS'/dlambda[i, v] at a full assignment is S' with X_i set to v)."""
from __future__ import annotations

import numpy as np

from spn.network import SPN, SPNError
from spn.passes import derivatives
from spn.solvers import trees


def solve(spn: SPN, query: np.ndarray, width: int = 10, max_steps: int = 1000):
    if not isinstance(width, (int, np.integer)) or width < 1:
        raise SPNError(f"beam width must be a positive integer, got {width!r}")
    starts = [trees.best_tree(spn, query)[0], trees.normalised_greedy(spn, query)[0]]
    beam = np.unique(np.stack(starts), axis=0)
    values, grads = derivatives(spn, beam)
    steps = 0
    for steps in range(1, max_steps + 1):
        rows, scores = [beam], [values]
        for i in query:  # flip i in every member: value read off the gradient
            flipped = beam.copy()
            flipped[:, i] = 1 - flipped[:, i]
            rows.append(flipped)
            scores.append(grads[i, 1 - beam[:, i], np.arange(len(beam))])
        rows, scores = np.concatenate(rows), np.concatenate(scores)
        rows, first = np.unique(rows, axis=0, return_index=True)
        scores = scores[first]
        keep = np.argsort(-scores, kind="stable")[:width]
        improved = scores[keep[0]] > values.max()
        beam = rows[keep]
        values, grads = derivatives(spn, beam)
        if not improved:
            break
    best = int(np.argmax(values))
    return beam[best], float(values[best]), False, {"steps": steps}
