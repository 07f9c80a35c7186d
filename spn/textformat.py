"""A plain-text SPN file, one node a line, children before parents, the root last::

    # comments and blank lines are ignored
    spn 3                      # header: the number of (binary) variables
    leaf 0 0 1                 # leaf ID VAR VALUE       the indicator [X_VAR = VALUE]
    leaf 1 0 0
    sum 2 0:0.3 1:0.7          # sum ID CHILD:WEIGHT ... weights finite and > 0
    prod 3 2 5                 # prod ID CHILD ...
    ...

IDs are distinct non-negative integers; a child must appear on an earlier line. Reading checks
everything :func:`spn.network.build` checks and reports the line of the first problem.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from spn.network import LEAF, PRODUCT, SPN, SPNError, build


def parse(text: str) -> SPN:
    """The SPN in ``text`` (the format above)."""
    n_vars = None
    nodes: list[tuple] = []
    index: dict[int, int] = {}
    line_of: list[int] = []
    for number, raw in enumerate(text.splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        try:
            if n_vars is None:
                if words[0] != "spn" or len(words) != 2:
                    raise SPNError("the first line must be 'spn N_VARS'")
                n_vars = _integer(words[1], "N_VARS")
                continue
            node, ident = _node(words, index)
        except SPNError as exc:
            raise SPNError(f"line {number}: {exc}") from None
        if ident in index:
            raise SPNError(f"line {number}: id {ident} is used twice")
        index[ident] = len(nodes)
        nodes.append(node)
        line_of.append(number)
    if n_vars is None:
        raise SPNError("empty SPN file (no 'spn N_VARS' header)")
    try:
        return build(n_vars, nodes)
    except SPNError as exc:
        message = str(exc)
        if message.startswith("node "):  # point at the line rather than the internal index
            i = int(message.split()[1].rstrip(":"))
            raise SPNError(f"line {line_of[i]}: {message.split(' ', 2)[2]}") from None
        raise


def _integer(word: str, what: str) -> int:
    try:
        value = int(word)
    except ValueError:
        raise SPNError(f"{what} {word!r} is not an integer") from None
    if value < 0:
        raise SPNError(f"{what} {word!r} is negative")
    return value


def _child(word: str, index: dict[int, int]) -> int:
    ident = _integer(word, "child id")
    if ident not in index:
        raise SPNError(f"child {ident} is not defined on an earlier line")
    return index[ident]


def _node(words: list[str], index: dict[int, int]) -> tuple[tuple, int]:
    kind = words[0]
    if len(words) < 2:
        raise SPNError(f"'{kind}' needs an id")
    ident = _integer(words[1], "id")
    if kind == "leaf":
        if len(words) != 4:
            raise SPNError("a leaf is 'leaf ID VAR VALUE'")
        return ("leaf", _integer(words[2], "VAR"), _integer(words[3], "VALUE")), ident
    if kind == "prod":
        return ("product", [_child(w, index) for w in words[2:]]), ident
    if kind == "sum":
        children, weights = [], []
        for word in words[2:]:
            if word.count(":") != 1:
                raise SPNError(f"sum edge {word!r} is not CHILD:WEIGHT")
            c, w = word.split(":")
            children.append(_child(c, index))
            try:
                weights.append(float(w))
            except ValueError:
                raise SPNError(f"weight {w!r} is not a number") from None
        return ("sum", children, weights), ident
    raise SPNError(f"unknown line kind {kind!r} (leaf, prod or sum)")


def format_spn(spn: SPN) -> str:
    """The text of ``spn``; node ids are its level-order indices."""
    lines = [f"spn {spn.n_vars}"]
    start = spn.children_start
    for n in range(spn.n_nodes):
        if spn.kind[n] == LEAF:
            lines.append(f"leaf {n} {spn.leaf_var[n]} {spn.leaf_val[n]}")
            continue
        kids = spn.child[start[n]:start[n + 1]]
        if spn.kind[n] == PRODUCT:
            lines.append(f"prod {n} " + " ".join(map(str, kids)))
        else:
            w = np.exp(spn.log_weight[start[n]:start[n + 1]])
            lines.append(f"sum {n} " + " ".join(f"{c}:{x!r}" for c, x in zip(kids, w.tolist())))
    return "\n".join(lines) + "\n"


def read(path: str | Path) -> SPN:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SPNError(f"cannot read SPN file {path}: {exc.strerror}") from None
    try:
        return parse(text)
    except SPNError as exc:
        raise SPNError(f"{path}: {exc}") from None


def write(spn: SPN, path: str | Path) -> None:
    Path(path).write_text(format_spn(spn), encoding="utf-8")
