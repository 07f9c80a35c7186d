"""Exact MAX by depth-first branch and bound (Mei et al. 2018).

At each search node one upward pass gives the bound S'(assigned, rest marginalised) (marginal
checking) and one derivative pass gives d[i][v] = S'(assigned, X_i = v, rest marginalised) for
every free variable (forward checking): values with d <= best are pruned, variables left with
one value are fixed, until nothing changes. Branching takes the free variable and value with
the largest d first. Staging: once half of a stage's variables are assigned, the reduction is
re-run with them as evidence, so deeper passes run on a smaller S'. The first lower bound comes
from K-Best Tree (or Best Tree, or none: ``seed``), so a timed-out answer is never worse than it.
With a time limit, the best assignment so far comes back with optimal = False.
"""
from __future__ import annotations

import time

import numpy as np

from spn.network import SPN, SPNError
from spn.passes import derivatives
from spn.reduction import reduce
from spn.solvers import kbest, trees

SEEDS = ("kbt", "best_tree", "none")


class _Search:
    def __init__(self, spn: SPN, query: np.ndarray, deadline: float | None, stage_fraction: float, seed: str):
        self.deadline, self.stage_fraction = deadline, stage_fraction
        self.passes = self.nodes = self.stages = 0
        self.timed_out = False
        # Without a seed, the all-zero assignment is the incumbent (something to return).
        row = np.full(spn.n_vars, -1, np.int8)
        row[query] = 0
        self.best_row, self.best = row, -np.inf
        if seed != "none":
            row, value, _, _ = kbest.solve(spn, query) if seed == "kbt" else trees.best_tree(spn, query)
            self.offer(row, value)
        self.seed_value = self.best

    def offer(self, row: np.ndarray, value: float) -> None:
        if value > self.best:
            self.best, self.best_row = value, row.copy()

    def out_of_time(self) -> bool:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            self.timed_out = True
        return self.timed_out

    def expand(self, spn: SPN, row: np.ndarray, free: list[int]):
        """Tighten one search node; None if pruned, else (row, free, d of free (F, 2))."""
        while not self.out_of_time():
            self.passes += 1
            value, grad = derivatives(spn, row)
            if value[0] <= self.best:
                return None  # marginal checking
            if not free:
                self.offer(row, float(value[0]))
                return None
            d = grad[free, :, 0]
            allowed = d > self.best
            counts = allowed.sum(axis=1)
            if (counts == 0).any():
                return None  # forward checking: some variable has no value left
            forced = np.flatnonzero(counts == 1)
            if len(forced) == 0:
                return row, free, d
            for f in forced:
                row[free[f]] = int(np.argmax(allowed[f]))
            free = [v for j, v in enumerate(free) if counts[j] != 1]
        return None

    def stage(self, spn: SPN, row: np.ndarray, free: list[int], stage_size: int):
        """A smaller S' with the assigned variables as evidence, when enough are assigned."""
        if stage_size - len(free) < self.stage_fraction * stage_size or len(free) < 2:
            return spn, stage_size
        evidence = {int(v): int(row[v]) for v in np.flatnonzero(row >= 0)}
        reduced = reduce(spn, free, evidence)
        if reduced.spn is None:  # cannot happen while the bound is above best; stay put
            return spn, stage_size
        self.stages += 1
        return reduced.spn, len(free)

    def run(self, spn: SPN, query: np.ndarray) -> None:
        start_row = np.full(spn.n_vars, -1, np.int8)
        stack = [(spn, start_row, [int(v) for v in query], len(query))]
        while stack:
            if self.out_of_time():
                return
            current, row, free, stage_size = stack.pop()
            self.nodes += 1
            current, stage_size = self.stage(current, row, free, stage_size)
            tightened = self.expand(current, row, free)
            if tightened is None:
                continue
            row, free, d = tightened
            j = int(np.argmax(d.max(axis=1)))
            var, rest = free[j], free[:j] + free[j + 1:]
            order = np.argsort(d[j])  # smaller d pushed first, so the larger is tried first
            for value in order:
                if d[j, value] > self.best:
                    child = row.copy()
                    child[var] = value
                    stack.append((current, child, rest, stage_size))


def solve(spn: SPN, query: np.ndarray, time_limit: float | None = None, stage_fraction: float = 0.5,
          seed: str = "kbt"):
    if time_limit is not None and not time_limit > 0:
        raise SPNError(f"time limit must be > 0 seconds, got {time_limit!r}")
    if not 0 < stage_fraction <= 1:
        raise SPNError(f"stage fraction must be in (0, 1], got {stage_fraction!r}")
    if seed not in SEEDS:
        raise SPNError(f"seed must be one of {', '.join(SEEDS)}, got {seed!r}")
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    search = _Search(spn, query, deadline, stage_fraction, seed)
    search.run(spn, query)
    return search.best_row, search.best, not search.timed_out, {
        "search_nodes": search.nodes, "passes": search.passes, "stages": search.stages,
        "timed_out": search.timed_out, "seed_log_value": search.seed_value}
