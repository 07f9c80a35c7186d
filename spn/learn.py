"""A small LearnSPN (Gens & Domingos 2013) for binary data, plus reading 0/1 CSV files.

Recursively: one variable becomes a smoothed two-indicator sum; too few rows become a fully
factorised product; otherwise variables that a pairwise G-test cannot tell apart from
independent are split into a product over the connected components of the dependency graph,
and failing that the rows are clustered in two (k-means on 0/1 rows) under a sum weighted by
cluster size. Indicator leaves are shared, so the result is a DAG over 2 * n_vars leaves.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spn.network import SPN, SPNError, build


@dataclass(frozen=True)
class LearnOptions:
    min_rows: int = 200        # fewer rows than this: factorise
    g_threshold: float = 10.83  # G statistic (1 dof) above which a pair is dependent (p ~ 0.001)
    smoothing: float = 1.0     # Laplace pseudo-count for leaf distributions
    max_depth: int = 30        # stop clustering below this depth (factorise)
    seed: int = 0

    def check(self) -> None:
        if self.min_rows < 1 or self.smoothing <= 0 or self.g_threshold < 0 or self.max_depth < 1:
            raise SPNError("min_rows >= 1, smoothing > 0, g_threshold >= 0 and max_depth >= 1 are required")


def read_data(path: str | Path) -> np.ndarray:
    """Rows of comma-separated 0/1 values (no header) as a uint8 array (rows, vars)."""
    try:
        lines = [ln for ln in Path(path).read_text().splitlines() if ln.strip()]
    except OSError as exc:
        raise SPNError(f"cannot read data file {path}: {exc.strerror}") from None
    if not lines:
        raise SPNError(f"{path}: no rows")
    try:
        rows = [[int(x) for x in ln.split(",")] for ln in lines]
    except ValueError:
        raise SPNError(f"{path}: rows must be comma-separated integers 0/1") from None
    if len({len(r) for r in rows}) != 1:
        raise SPNError(f"{path}: rows have different lengths")
    data = np.array(rows)
    if not np.isin(data, (0, 1)).all():
        raise SPNError(f"{path}: values must be 0 or 1")
    return data.astype(np.uint8)


def dependent_pairs(data: np.ndarray, threshold: float) -> np.ndarray:
    """(vars, vars) bool: G-test statistic of each 2x2 table above ``threshold``."""
    x = data.astype(float)
    n = len(x)
    n11 = x.T @ x
    ones = x.sum(axis=0)
    n10 = ones[:, None] - n11
    n01 = ones[None, :] - n11
    n00 = n - n11 - n10 - n01
    p1 = ones / n
    g = np.zeros_like(n11)
    for observed, pa, pb in ((n11, p1, p1), (n10, p1, 1 - p1), (n01, 1 - p1, p1), (n00, 1 - p1, 1 - p1)):
        expected = n * pa[:, None] * pb[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            g += np.where(observed > 0, observed * np.log(observed / expected), 0.0)
    g *= 2
    np.fill_diagonal(g, 0)
    return g > threshold


def components(adjacent: np.ndarray) -> list[np.ndarray]:
    """Connected components (index arrays) of an undirected graph given as a bool matrix."""
    left = np.ones(len(adjacent), bool)
    out = []
    while left.any():
        seen = np.zeros(len(adjacent), bool)
        frontier = np.zeros(len(adjacent), bool)
        frontier[np.flatnonzero(left)[0]] = True
        while frontier.any():
            seen |= frontier
            frontier = adjacent[frontier].any(axis=0) & ~seen
        out.append(np.flatnonzero(seen))
        left &= ~seen
    return out


def two_means(data: np.ndarray, rng: np.random.Generator, rounds: int = 10) -> np.ndarray:
    """Cluster labels 0/1 for the rows (k-means, two distinct rows as the starting centres)."""
    x = data.astype(float)
    distinct = np.unique(x, axis=0)
    if len(distinct) < 2:
        return np.zeros(len(x), int)
    centres = distinct[rng.choice(len(distinct), 2, replace=False)]
    labels = np.zeros(len(x), int)
    for _ in range(rounds):
        dist = ((x[:, None, :] - centres[None]) ** 2).sum(axis=2)
        new = dist.argmin(axis=1)
        if (new == labels).all() and _ > 0:
            break
        labels = new
        for c in (0, 1):
            if (labels == c).any():
                centres[c] = x[labels == c].mean(axis=0)
    return labels


class _Learner:
    def __init__(self, n_vars: int, options: LearnOptions):
        self.o = options
        self.rng = np.random.default_rng(options.seed)
        self.nodes: list[tuple] = []
        self.indicator = [[self._add(("leaf", v, 0)), self._add(("leaf", v, 1))] for v in range(n_vars)]

    def _add(self, node: tuple) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    def univariate(self, column: np.ndarray, var: int) -> int:
        ones = float(column.sum())
        a = self.o.smoothing
        w = [(len(column) - ones + a) / (len(column) + 2 * a), (ones + a) / (len(column) + 2 * a)]
        return self._add(("sum", self.indicator[var], w))

    def factorised(self, data: np.ndarray, scope: np.ndarray) -> int:
        kids = [self.univariate(data[:, j], int(v)) for j, v in enumerate(scope)]
        return kids[0] if len(kids) == 1 else self._add(("product", kids))

    def learn(self, data: np.ndarray, scope: np.ndarray, depth: int) -> int:
        if len(scope) == 1:
            return self.univariate(data[:, 0], int(scope[0]))
        if len(data) < self.o.min_rows or depth >= self.o.max_depth:
            return self.factorised(data, scope)
        groups = components(dependent_pairs(data, self.o.g_threshold))
        if len(groups) > 1:
            return self._add(("product", [self.learn(data[:, g], scope[g], depth + 1) for g in groups]))
        labels = two_means(data, self.rng)
        sizes = np.bincount(labels, minlength=2)
        if sizes.min() == 0:
            return self.factorised(data, scope)
        kids = [self.learn(data[labels == c], scope, depth + 1) for c in (0, 1)]
        return self._add(("sum", kids, (sizes / sizes.sum()).tolist()))


def learn_spn(data: np.ndarray, options: LearnOptions = LearnOptions()) -> SPN:
    """An SPN over ``data.shape[1]`` binary variables learned from 0/1 rows."""
    options.check()
    data = np.asarray(data)
    if data.ndim != 2 or len(data) == 0 or data.shape[1] == 0:
        raise SPNError(f"data must be a non-empty (rows, vars) array, got shape {data.shape}")
    if not np.isin(data, (0, 1)).all():
        raise SPNError("data values must be 0 or 1")
    learner = _Learner(data.shape[1], options)
    learner.learn(data, np.arange(data.shape[1]), 0)
    return build(data.shape[1], learner.nodes)


def mean_log_likelihood(spn: SPN, data: np.ndarray, batch: int = 2048) -> float:
    """Average log S(x) over the rows (S's weights are normalised, so this is a log-likelihood)."""
    from spn.passes import log_value

    return float(np.concatenate([log_value(spn, data[i:i + batch]) for i in range(0, len(data), batch)]).mean())
