"""Random valid SPNs with about a target number of variables and arcs (seeded).

Sums mix several products over the same scope; products split their scope into 2-4 random parts;
a single variable is a two-indicator sum. A sub-SPN already built for a scope is reused with
probability ``share``, which makes the result a DAG. Weights are Dirichlet(alpha) draws
(alpha < 1 gives peaked mixtures, whose MAP is easier to prove).
"""
from __future__ import annotations

import numpy as np

from spn.network import SPN, SPNError, build


class _Builder:
    def __init__(self, n_vars: int, rng: np.random.Generator, share: float, max_children: int, alpha: float):
        self.rng, self.share, self.max_children, self.alpha = rng, share, max_children, alpha
        self.nodes: list[tuple] = []
        self.by_scope: dict[frozenset, list[int]] = {}
        self.indicator = [[self._add(("leaf", v, 0)), self._add(("leaf", v, 1))] for v in range(n_vars)]

    def _add(self, node: tuple) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    def _weights(self, k: int) -> list[float]:
        return np.maximum(self.rng.dirichlet(np.full(k, self.alpha)), 1e-9).tolist()

    def _remember(self, scope: frozenset, node: int) -> int:
        self.by_scope.setdefault(scope, []).append(node)
        return node

    def node(self, scope: list[int], budget: float, avoid: set[int] = frozenset()) -> int:
        """A sub-SPN over ``scope`` using about ``budget`` arcs (fewer when it reuses one)."""
        key = frozenset(scope)
        reusable = [n for n in self.by_scope.get(key, []) if n not in avoid]
        if reusable and self.rng.random() < self.share:
            return reusable[self.rng.integers(len(reusable))]
        if len(scope) == 1:
            return self._remember(key, self._add(("sum", self.indicator[scope[0]], self._weights(2))))
        if budget < 8 * len(scope):  # too little left for a mixture: factorise
            return self._remember(key, self.product(scope, budget))
        k = int(self.rng.integers(2, self.max_children + 1))
        kids: list[int] = []
        for _ in range(k):
            kid = self.node_product(key, scope, (budget - k) / k, set(kids))
            if kid not in kids:
                kids.append(kid)
        return self._remember(key, self._add(("sum", kids, self._weights(len(kids)))))

    def node_product(self, key: frozenset, scope: list[int], budget: float, avoid: set[int]) -> int:
        """A product child of a sum: reused (not one the sum already has) or built."""
        reusable = [n for n in self.by_scope.get(key, []) if n not in avoid and self.nodes[n][0] == "product"]
        if reusable and self.rng.random() < self.share:
            return reusable[self.rng.integers(len(reusable))]
        return self._remember(key, self.product(scope, budget))

    def product(self, scope: list[int], budget: float) -> int:
        parts = self.split(scope)
        kids = [self.node(part, (budget - len(parts)) * len(part) / len(scope)) for part in parts]
        return self._add(("product", kids))

    def split(self, scope: list[int]) -> list[list[int]]:
        m = int(self.rng.integers(2, min(4, len(scope)) + 1))
        shuffled = self.rng.permutation(scope)
        cuts = np.sort(self.rng.choice(np.arange(1, len(scope)), m - 1, replace=False))
        return [sorted(part.tolist()) for part in np.split(shuffled, cuts)]


def random_spn(n_vars: int, n_arcs: int, seed: int = 0, share: float = 0.3,
               max_children: int = 4, tries: int = 4, alpha: float = 1.0) -> SPN:
    """A random valid SPN over ``n_vars`` variables with roughly ``n_arcs`` arcs.

    The arc budget is rescaled over a few tries (sharing makes the count hard to predict);
    the closest result is returned.
    """
    if n_vars < 1 or n_arcs < 2 * n_vars:
        raise SPNError(f"need n_vars >= 1 and n_arcs >= 2 * n_vars, got {n_vars} and {n_arcs}")
    if not 0 <= share < 1:
        raise SPNError(f"share must be in [0, 1), got {share}")
    if not alpha > 0 or max_children < 2:
        raise SPNError(f"need alpha > 0 and max_children >= 2, got {alpha} and {max_children}")
    best, budget = None, float(n_arcs)
    for attempt in range(tries):
        builder = _Builder(n_vars, np.random.default_rng([seed, attempt]), share, max_children, alpha)
        builder.node(list(range(n_vars)), budget)
        spn = build(n_vars, builder.nodes)  # the root is the last node appended
        if best is None or abs(spn.n_edges - n_arcs) < abs(best.n_edges - n_arcs):
            best = spn
        if abs(spn.n_edges - n_arcs) <= 0.1 * n_arcs:
            break
        budget *= n_arcs / max(spn.n_edges, 1)
    return best

