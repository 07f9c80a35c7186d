"""Names for the answer AST built by ``evaluators.math.parse``.

Nodes stay plain tuples ``(kind, *fields)``: they are cached, compared with ``==``, searched
through ``repr`` and pickled to sympy worker processes, so this module only names the kinds and
offers read-only NamedTuple views (``TupleNode(*node).items``) over the fields. Never return a
view in place of a node: its ``repr`` and pickle differ from the plain tuple's.
"""
from __future__ import annotations

from operator import itemgetter
from typing import Any, NamedTuple

# expressions
NUM, SYM, CONST = "num", "sym", "const"
ADD, MUL, DIV, NEG, POW = "add", "mul", "div", "neg", "pow"
FUNC, LOG, ROOT, FACT, ABS, BINOM = "func", "log", "root", "fact", "abs", "binom"
PM, PCT, BASED, TEXT, RATIO = "pm", "pct", "based", "text", "ratio"
# structures
LIST, TUPLE, SET, UNION, MATRIX = "list", "tuple", "set", "union", "matrix"
EQ, REL, IN = "eq", "rel", "in"

# a C-level getter: costs no Python frame, which matters on deep sums near the recursion limit
kind = itemgetter(0)


class Num(NamedTuple):
    kind: str
    p: int
    q: int


class Unary(NamedTuple):
    """``neg``, ``pct``, ``fact`` and ``abs`` nodes."""
    kind: str
    arg: Any


class Based(NamedTuple):
    kind: str
    digits: str
    base: int


class Text(NamedTuple):
    kind: str
    words: str


class Collection(NamedTuple):
    """``list``, ``set`` and ``union`` nodes."""
    kind: str
    items: tuple


class TupleNode(NamedTuple):
    kind: str
    open: str
    close: str
    items: tuple


class Matrix(NamedTuple):
    kind: str
    rows: tuple


class Sides(NamedTuple):
    """``eq`` (lhs = rhs) and ``in`` (lhs \\in rhs) nodes."""
    kind: str
    lhs: Any
    rhs: Any


class Rel(NamedTuple):
    kind: str
    exprs: tuple
    ops: tuple
