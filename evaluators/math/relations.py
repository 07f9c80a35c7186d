"""An inequality as the set of intervals it describes, and what counts as an answer's name.

``solve(node)`` reads ``x < 3``, ``3 > x``, ``-x > -1`` and ``2x + 1 \\le 7`` (linear in one name,
exact rational coefficients), chains ``-2 \\le x \\le 7``, names such as ``f(x)`` (``0 < f(x) < 1``
is the range (0, 1)) and absolute values (``1 \\le |z| \\le 2`` is [-2, -1] U [1, 2]). Intervals are
``("tuple", open, close, (lo, hi))`` nodes, as the parser builds them for ``[a, b)``.
"""
from __future__ import annotations

from fractions import Fraction

from evaluators.math.exact import rational
from evaluators.math.nodes import (ABS, ADD, CONST, DIV, MUL, NEG, NUM, RATIO, REL, SYM, TUPLE,
                                   Rel, TupleNode, Unary, kind)

INFINITY = (CONST, "oo")
NEG_INFINITY = (NEG, INFINITY)
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


def is_label(node) -> bool:
    """A name standing for the answer: x, AB, a_1, f(x), (x, y), V_1 : V_2, |AB|."""
    k = kind(node)
    if k == SYM:
        return True
    if k == TUPLE:
        return all(is_label(x) for x in TupleNode(*node).items)
    if k == RATIO:
        return all(is_label(x) for x in node[1])
    if k == ABS:
        return _is_segment(Unary(*node).arg)
    if k != MUL:
        return False
    _, left, right = node
    return is_label(left) and is_label(right)


def _is_segment(node) -> bool:
    """AB, PQR: capital points naming a length."""
    if kind(node) == SYM:
        return len(node[1]) == 1 and node[1].isupper()
    return kind(node) == MUL and _is_segment(node[1]) and _is_segment(node[2])


def solve(node):
    """``(variable, intervals)`` that the inequality ``node`` describes, or None."""
    if kind(node) != REL:
        return None
    rel = Rel(*node)
    exprs, ops = list(rel.exprs), list(rel.ops)
    if all(o in (">", ">=") for o in ops):  # write it with "<"
        exprs.reverse()
        ops = [_FLIP[o] for o in reversed(ops)]
    if not all(o in ("<", "<=") for o in ops):
        return None
    if len(exprs) == 2:
        for i in (0, 1):  # the name on the left (x < 3), else on the right (3 < x)
            term = _linear(exprs[i])
            if term is None:
                continue
            bound = (exprs[1 - i], ops[0] == "<=")
            solved = _bounds_to_intervals(term, None if i == 0 else bound, bound if i == 0 else None)
            if solved is not None:
                return solved
        return None
    if len(exprs) == 3:
        term = _linear(exprs[1])
        if term is None:
            return None
        return _bounds_to_intervals(term, (exprs[0], ops[0] == "<="), (exprs[2], ops[1] == "<="))
    return None


def _linear(node):
    """``(name, a, b)`` when ``node`` is a*name + b with exact a != 0 and b, else None."""
    k = kind(node)
    if (is_label(node) and k != ABS) or (k == ABS and is_label(Unary(*node).arg)):
        return node, Fraction(1), Fraction(0)
    if k == NEG:
        inner = _linear(Unary(*node).arg)
        return None if inner is None else (inner[0], -inner[1], -inner[2])
    if k in (MUL, DIV, ADD):
        _, left, right = node
        lin_left, lin_right = _linear(left), _linear(right)
        if (lin_left is None) == (lin_right is None):
            return None  # no name, or a name on both sides
        lin, other = (lin_left, right) if lin_left is not None else (lin_right, left)
        value = rational(other)
        if value is None:
            return None
        name, a, b = lin
        if k == ADD:
            return name, a, b + value
        if k == MUL:
            return (name, a * value, b * value) if value != 0 else None
        if lin_left is None or value == 0:  # 6 / x is not linear
            return None
        return name, a / value, b / value
    return None


def _bounds_to_intervals(term, lower, upper):
    """Solve lower < a*name + b < upper for name; each bound is (expr, closed) or None."""
    name, a, b = term
    if (a, b) != (1, 0):  # bounds must be exact to move them across
        lower, upper = (_shifted(bound, a, b) for bound in (lower, upper))
        if lower is False or upper is False:
            return None
        if a < 0:
            lower, upper = upper, lower
    if kind(name) == ABS:
        return _abs_intervals(Unary(*name).arg, lower, upper)
    return name, (_interval(lower, upper),)


def _shifted(bound, a: Fraction, b: Fraction):
    """(bound - b) / a as an exact bound; False when the bound is not exact."""
    if bound is None:
        return None
    value = rational(bound[0])
    if value is None:
        return False
    return _number((value - b) / a), bound[1]


def _interval(lower, upper) -> tuple:
    lo, lo_closed = lower if lower else (NEG_INFINITY, False)
    hi, hi_closed = upper if upper else (INFINITY, False)
    return (TUPLE, "[" if lo_closed else "(", "]" if hi_closed else ")", (lo, hi))


def _abs_intervals(name, lower, upper):
    """lower < |name| < upper with exact bounds: one interval, or two mirrored ones."""
    lo = None if lower is None else rational(lower[0])
    hi = None if upper is None else rational(upper[0])
    if (lower is not None and lo is None) or (upper is not None and hi is None):
        return None
    if hi is not None and (hi < 0 or hi == 0 and not upper[1]):
        return None  # nothing satisfies it: not an answer form we read
    if lo is None or lo < 0 or (lo == 0 and lower[1]):
        if hi is None:
            return None  # every number
        mirrored = (_number(-hi), upper[1])
        return name, (_interval(mirrored, upper),)
    mirrored_lower = None if upper is None else (_number(-hi), upper[1])
    negative = _interval(mirrored_lower, (_number(-lo), lower[1]))
    positive = _interval(lower, upper)
    return name, (negative, positive)


def _number(value: Fraction) -> tuple:
    if value < 0:
        return (NEG, (NUM, -value.numerator, value.denominator))
    return (NUM, value.numerator, value.denominator)
