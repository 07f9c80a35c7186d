"""The array form of an SPN: nodes in level order (leaves first, the root last), edges by parent.

A node is a leaf indicator ``lambda[var = value]`` (binary variables), a product, or a weighted
sum. Children may be shared (a DAG). Nodes are renumbered so that each level (1 + the highest
child level) is one contiguous block, products before sums, which lets every pass handle a whole
level with a few numpy calls.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

LEAF, PRODUCT, SUM = 0, 1, 2


class SPNError(ValueError):
    """An SPN, a file or a query that is not valid; the message says what and where."""


@dataclass(frozen=True)
class Block:
    """Nodes ``[start, stop)`` of one kind in one level, their edges ``[edge_start, edge_stop)``."""
    kind: int
    start: int
    stop: int
    edge_start: int
    edge_stop: int
    offsets: np.ndarray  # first edge of each node, relative to edge_start (for reduceat)
    owner: np.ndarray    # node of each edge, relative to start


@dataclass(eq=False)
class SPN:
    """An SPN in level order. Build one with :func:`build`; the fields are read-only by convention."""
    n_vars: int
    kind: np.ndarray       # (n_nodes,) LEAF / PRODUCT / SUM
    leaf_var: np.ndarray   # (n_nodes,) variable of a leaf, -1 elsewhere
    leaf_val: np.ndarray   # (n_nodes,) 0/1 for a leaf, -1 elsewhere
    parent: np.ndarray     # (n_edges,) sorted by parent
    child: np.ndarray      # (n_edges,)
    log_weight: np.ndarray  # (n_edges,) log of a sum's weight, 0 for product edges
    level: np.ndarray      # (n_nodes,)
    blocks: list[Block] = field(default_factory=list)

    @property
    def n_nodes(self) -> int:
        return len(self.kind)

    @property
    def n_edges(self) -> int:
        return len(self.child)

    @property
    def root(self) -> int:
        return self.n_nodes - 1

    @cached_property
    def n_leaves(self) -> int:
        return int(np.count_nonzero(self.kind == LEAF))

    @cached_property
    def children_start(self) -> np.ndarray:
        """CSR row pointer: the edges of node n are ``children_start[n]:children_start[n+1]``."""
        return np.concatenate([[0], np.cumsum(np.bincount(self.parent, minlength=self.n_nodes))])

    @cached_property
    def scope_vars(self) -> np.ndarray:
        """The sorted variables the root depends on."""
        return np.unique(self.leaf_var[self.kind == LEAF])

    @cached_property
    def child_order(self) -> np.ndarray:
        """Edges sorted by child (stable), for the downward pass."""
        return np.argsort(self.child, kind="stable")


def build(n_vars: int, nodes: list[tuple]) -> SPN:
    """An SPN from ``nodes`` in topological order (children first, the root last).

    Each node is ``("leaf", var, value)``, ``("product", children)`` or
    ``("sum", children, weights)``; children are indices into ``nodes``. The result is checked
    (see :mod:`spn.validate`) and renumbered into level order.
    """
    from spn.validate import check_scopes, check_structure  # validate imports this module

    kind, var, val, parents, children, logw = check_structure(n_vars, nodes)
    return _assemble(n_vars, kind, var, val, parents, children, logw, check=check_scopes)


def from_arrays(n_vars: int, kind, leaf_var, leaf_val, parent, child, log_weight,
                check: bool = False) -> SPN:
    """An SPN from arrays already in topological order (children before parents, root last).

    Used by the reduction and the generator, whose output is valid by construction; ``check``
    runs the scope checks anyway.
    """
    from spn.validate import check_scopes

    return _assemble(n_vars, np.asarray(kind, np.int8), np.asarray(leaf_var, np.int64),
                     np.asarray(leaf_val, np.int64), np.asarray(parent, np.int64),
                     np.asarray(child, np.int64), np.asarray(log_weight, float),
                     check=check_scopes if check else None)


def _levels(n_nodes: int, parent: np.ndarray, child: np.ndarray) -> np.ndarray:
    """Level of each node (leaves 0): relax level[p] >= level[c] + 1 over all edges until
    nothing changes; one numpy sweep per level of depth."""
    level = np.zeros(n_nodes, np.int64)
    for _ in range(n_nodes + 1):
        new = level.copy()
        np.maximum.at(new, parent, level[child] + 1)
        if np.array_equal(new, level):
            return level
        level = new
    raise SPNError("the SPN has a cycle")  # unreachable for children-first input


def _assemble(n_vars, kind, var, val, parent, child, logw, check) -> SPN:
    n = len(kind)
    level = _levels(n, parent, child)
    if check is not None:
        check(n_vars, kind, var, parent, child)
    # New numbering: by level, products before sums, old order within (stable).
    new_of_old = np.empty(n, np.int64)
    order = np.lexsort((np.arange(n), kind, level))
    new_of_old[order] = np.arange(n)
    parent, child = new_of_old[parent], new_of_old[child]
    kind, var, val, level = kind[order], var[order], val[order], level[order]
    edge_order = np.lexsort((np.arange(len(parent)), parent))
    parent, child, logw = parent[edge_order], child[edge_order], logw[edge_order]
    spn = SPN(n_vars, kind, var, val, parent, child, logw, level)
    spn.blocks = _blocks(spn)
    return spn


def _blocks(spn: SPN) -> list[Block]:
    blocks = []
    start = spn.children_start
    internal = np.flatnonzero(spn.kind != LEAF)
    if len(internal) == 0:
        return blocks
    key = spn.level[internal] * 3 + spn.kind[internal]
    cuts = np.flatnonzero(np.diff(key)) + 1
    for group in np.split(internal, cuts):
        a, b = int(group[0]), int(group[-1]) + 1
        ea, eb = int(start[a]), int(start[b])
        counts = np.diff(start[a:b + 1])
        blocks.append(Block(int(spn.kind[a]), a, b, ea, eb, (start[a:b] - ea).astype(np.int64),
                            np.repeat(np.arange(b - a), counts)))
    return blocks
