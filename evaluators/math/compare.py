"""Structural equivalence of two parsed answers; leaf expressions go to an engine.

``equal(gold, pred, engine)`` walks collections, equations and relations itself and asks the
engine only about leaf expressions. ``FAST`` decides exact rationals in-process and raises
``NeedSympy`` otherwise; the sympy engine (``evaluators.math.symbolic``) decides the rest and is
meant to run inside a timeout-pool worker.

``equal`` picks one handler per node kind: first by kinds that decide the comparison on either
side (``_EITHER_SIDE``, in order of precedence), then by the reference's kind (``_BY_GOLD_KIND``);
plain expressions fall through to ``_equal_leaf``.
"""
from __future__ import annotations

from evaluators.math.exact import rational
from evaluators.math.relations import is_label, solve
from evaluators.math.nodes import (ADD, BASED, CONST, DIV, EQ, IN, LIST, MATRIX, NEG, NUM, PCT,
                                   PM, RATIO, REL, SET, SYM, TEXT, TUPLE, UNION, Based, Collection,
                                   Matrix, Num, Sides, Text, TupleNode, Unary, kind)
from evaluators.math.parse import TooLarge

_STRUCTURES = (LIST, SET, TUPLE, UNION, MATRIX, REL, RATIO)


class NeedSympy(Exception):
    pass


class _Fast:
    name = "fast"

    def expr_equal(self, a, b) -> bool:
        if a == b:
            return True
        ra = rational(a)
        rb = rational(b)
        if ra is not None and rb is not None:
            return ra == rb
        raise NeedSympy()

    def proportional(self, a, b) -> bool:
        raise NeedSympy()


FAST = _Fast()


# -- \pm expansion ----------------------------------------------------------------------------

def expand_pm(node) -> tuple:
    """``a \\pm b`` -> unordered list (a+b, a-b); nested pm inside structures expands there."""
    k = kind(node)
    if k in (LIST, SET):
        out = []
        for item in Collection(*node).items:
            e = expand_pm(item)
            # an item that turned into a list of variants contributes each variant
            out.extend(Collection(*e).items if kind(e) == LIST and kind(item) != LIST else [e])
        return (k, tuple(out))
    if k == TUPLE:
        t = TupleNode(*node)
        return (TUPLE, t.open, t.close, tuple(expand_pm(x) for x in t.items))
    if k == EQ:
        eq = Sides(*node)
        rhs = expand_pm(eq.rhs)
        if kind(rhs) == LIST and kind(eq.rhs) != LIST:
            return (LIST, tuple((EQ, eq.lhs, r) for r in Collection(*rhs).items))
        return (EQ, eq.lhs, rhs)
    variants = _pm_variants(node, budget=[8])
    if len(variants) == 1:
        return variants[0]
    return (LIST, tuple(variants))


def _pm_variants(node, budget) -> list:
    if not isinstance(node, tuple) or not node or node[0] in (NUM, SYM, CONST, TEXT, BASED):
        return [node]
    if node[0] == PM:
        budget[0] -= 1
        if budget[0] < 0:
            raise TooLarge("too many \\pm signs")
        out = []
        for a in _pm_variants(node[1], budget):
            for b in _pm_variants(node[2], budget):
                out.append((ADD, a, b))
                out.append((ADD, a, (NEG, b)))
        return out
    results = [()]
    for part in node:  # the kind, then each field; only sub-expressions have variants
        if isinstance(part, tuple) and part and isinstance(part[0], str) and part[0] not in (LIST, SET):
            opts = _pm_variants(part, budget)
        else:
            opts = [part]
        results = [r + (o,) for r in results for o in opts]
    return results


# -- intervals --------------------------------------------------------------------------------

def _as_interval_set(node):
    """An interval, union of intervals or list of inequalities as a tuple of intervals."""
    k = kind(node)
    if k == TUPLE and len(TupleNode(*node).items) == 2:
        return (node,)
    if k == REL:
        solved = solve(node)
        return None if solved is None else solved[1]
    if k == UNION:
        parts = [_as_interval_set(p) for p in Collection(*node).items]
        if any(p is None for p in parts):
            return None
        return tuple(iv for p in parts for iv in p)
    if _is_inequality_list(node):
        parts = [_as_interval_set(x) for x in Collection(*node).items]
        return None if any(p is None for p in parts) else tuple(iv for p in parts for iv in p)
    return None


# -- structural comparison --------------------------------------------------------------------

def equal(gold, pred, engine) -> tuple[bool, str]:
    """(same?, reason). Raises NeedSympy (FAST engine) or TooLarge."""
    if gold == pred:
        return True, "identical"
    kinds = (kind(gold), kind(pred))
    if IN in kinds:
        return _equal_membership(gold, pred, engine)
    expanded = _expand_pm_pair(gold, pred)
    if expanded is not None:
        return equal(*expanded, engine)
    for either_kind, handler in _EITHER_SIDE:
        if either_kind in kinds:
            return handler(gold, pred, engine)
    return _BY_GOLD_KIND.get(kinds[0], _equal_leaf)(gold, pred, engine)


def _expand_pm_pair(gold, pred):
    """Both sides with ``\\pm`` expanded, or None when that changes nothing."""
    if "'pm'" not in repr(gold) and "'pm'" not in repr(pred):
        return None
    expanded = expand_pm(gold), expand_pm(pred)
    return None if expanded == (gold, pred) else expanded


def _equal_membership(gold, pred, engine) -> tuple[bool, str]:
    """``x \\in [0, 1]`` is judged by the set it names."""
    return equal(_member_set(gold), _member_set(pred), engine)


def _member_set(node):
    return Sides(*node).rhs if kind(node) == IN else node


def _equal_text(gold, pred, engine) -> tuple[bool, str]:
    if kind(gold) != kind(pred):
        return False, "text vs math"
    return _reason(Text(*gold).words == Text(*pred).words, "same text", "different text")


def _equal_based(gold, pred, engine) -> tuple[bool, str]:
    """Numerals such as 204_5 compare by digits; bases must agree where both sides give one."""
    g, p = _numeral(gold), _numeral(pred)
    if g is None or p is None:
        return False, "different value"
    (g_digits, g_base), (p_digits, p_base) = g, p
    ok = g_digits == p_digits and (g_base is None or p_base is None or g_base == p_base)
    return _reason(ok, "same numeral", "different numeral")


def _numeral(node) -> tuple[str, int | None] | None:
    """(digits, base) of a numeral; a non-negative integer literal has base None."""
    if kind(node) == BASED:
        numeral = Based(*node)
        return numeral.digits.lstrip("0") or "0", numeral.base
    if kind(node) == NUM:
        num = Num(*node)
        if num.q == 1 and num.p >= 0:
            return str(num.p), None
    return None


def _equal_percent(gold, pred, engine) -> tuple[bool, str]:
    """40% may be written as 40, as 0.4 or as 40%."""
    if kind(gold) == PCT and kind(pred) == PCT:
        readings = ((Unary(*gold).arg, Unary(*pred).arg),)
    elif kind(pred) == PCT:
        value = Unary(*pred).arg
        readings = ((gold, value), (gold, _hundredth(value)))
    else:
        value = Unary(*gold).arg
        readings = ((value, pred), (_hundredth(value), pred))
    for g, p in readings:  # a loop, not any(): one stack frame less per nested percent
        if equal(g, p, engine)[0]:
            return True, "equal (percent)"
    return False, "different value"


def _hundredth(node) -> tuple:
    return (DIV, node, (NUM, 100, 1))


def _equal_equation(gold, pred, engine) -> tuple[bool, str]:
    """Two equations, or an equation on one side only: "x = 5" vs "5", "(x, y) = (2, 3)"."""
    if kind(gold) != EQ:
        return _value_vs_equation(gold, pred, engine)
    if kind(pred) != EQ:
        return _equation_vs_value(gold, pred, engine)
    return _same_equation(gold, pred, engine)


def _value_vs_equation(gold, pred, engine) -> tuple[bool, str]:
    """Reference "5", answer "x = 5" or "2 + 3 = 5": the value after = is the answer."""
    eq = Sides(*pred)
    if (is_label(eq.lhs) or not _has_symbols(eq.lhs)) and kind(gold) != REL \
            and _is_plain_value(eq.rhs):
        return _reason(equal(gold, eq.rhs, engine)[0], "equal (value after =)", "different value")
    return False, "equation vs value"


def _equation_vs_value(gold, pred, engine) -> tuple[bool, str]:
    """Reference "x = 5", answer "5"; a reference like "2 + 3 = 5" asks for the equation."""
    eq = Sides(*gold)
    if is_label(eq.lhs) and kind(pred) != REL and _is_plain_value(eq.rhs):
        return _reason(equal(eq.rhs, pred, engine)[0], "equal (value after =)", "different value")
    return False, "equation vs value"


def _is_plain_value(node) -> bool:
    return kind(node) not in (EQ, REL)


def _same_equation(gold, pred, engine) -> tuple[bool, str]:
    """"x = 5" matches "x = 5" and "5 = x"; otherwise both must be proportional (2x=4 ~ x=2)."""
    g, p = Sides(*gold), Sides(*pred)
    # (reference variable, its value, answer variable, its value)
    pairings = ((g.lhs, g.rhs, p.lhs, p.rhs), (g.lhs, g.rhs, p.rhs, p.lhs),
                (g.rhs, g.lhs, p.lhs, p.rhs))
    for g_var, g_value, p_var, p_value in pairings:
        name = _sym_name(g_var)
        if name and name == _sym_name(p_var) and engine.expr_equal(g_value, p_value):
            return True, "same equation"
    ok = engine.proportional(_difference(g), _difference(p))
    return _reason(ok, "equivalent equation", "different equation")


def _difference(eq: Sides) -> tuple:
    """lhs - rhs, which is zero exactly where the equation holds."""
    return (ADD, eq.lhs, (NEG, eq.rhs))


def _equal_collection(gold, pred, engine) -> tuple[bool, str]:
    """Bare lists and sets match as unordered collections."""
    g_items = Collection(*gold).items
    p_items = _elements(pred)
    if p_items is not None:
        ok = _unordered(g_items, p_items, engine)
        return ok, "same elements" if ok else _count_reason(g_items, p_items)
    if kind(gold) == LIST and _is_paren_tuple(pred):
        ok = _unordered(g_items, TupleNode(*pred).items, engine)
        return _reason(ok, "same elements", "different elements")
    if _is_inequality_list(gold):
        # "x<2 or x>3" may still match a union of intervals
        handler = _equal_intervals if kind(pred) in (TUPLE, UNION) else _equal_leaf
        return handler(gold, pred, engine)
    return False, "partial answer" if len(g_items) > 1 else "different structure"


def _equal_tuple(gold, pred, engine) -> tuple[bool, str]:
    """Points and vectors compare in order; a 2-tuple may also be an interval."""
    g = TupleNode(*gold)
    if kind(pred) == TUPLE:
        p = TupleNode(*pred)
        if (g.open, g.close) != (p.open, p.close):
            return False, "different brackets"
        return _components(g.items, p.items, engine)
    if kind(pred) == LIST and g.open == "(":
        return _components(g.items, Collection(*pred).items, engine)
    if kind(pred) == MATRIX and _is_vector(pred):
        return _components(g.items, _flat(pred), engine)
    return _equal_intervals(gold, pred, engine)


def _components(gs, ps, engine) -> tuple[bool, str]:
    return _reason(_ordered(gs, ps, engine), "same components", "different components")


def _equal_intervals(gold, pred, engine) -> tuple[bool, str]:
    """Intervals, unions and inequalities compare as unordered sets of intervals."""
    gi, pi = _as_interval_set(gold), _as_interval_set(pred)
    if gi is None or pi is None:
        return False, "different structure"
    if len(gi) != len(pi):
        return False, "different number of intervals"
    return _reason(_unordered(gi, pi, engine), "same intervals", "different intervals")


def _equal_relation(gold, pred, engine) -> tuple[bool, str]:
    """An inequality matches the interval or union it describes, or an inequality in the same
    variable that describes the same intervals (``-x > -1`` is ``x < 1``)."""
    if kind(pred) in (TUPLE, UNION):
        return _equal_intervals(gold, pred, engine)
    if kind(pred) != REL:
        return False, "relation vs value"
    g, p = solve(gold), solve(pred)
    if g and p and g[0] == p[0] and len(g[1]) == len(p[1]):
        return _reason(_unordered(g[1], p[1], engine), "same inequality", "different inequality")
    return False, "different inequality"


def _equal_ratio(gold, pred, engine) -> tuple[bool, str]:
    """``11 : 21`` matches ``11:21`` term by term, and a two-term ratio matches its quotient."""
    if kind(gold) == RATIO and kind(pred) == RATIO:
        return _reason(_ordered(gold[1], pred[1], engine), "same ratio", "different ratio")
    ratio, value = (gold, pred) if kind(gold) == RATIO else (pred, gold)
    if len(ratio[1]) != 2 or kind(value) in _STRUCTURES or kind(value) == EQ:
        return False, "different structure"
    quotient = (DIV, ratio[1][0], ratio[1][1])
    return _reason(engine.expr_equal(quotient, value), "equal (ratio as a quotient)", "different value")


def _equal_matrix(gold, pred, engine) -> tuple[bool, str]:
    """Matrices compare entry by entry; a row or column vector also matches a tuple."""
    if kind(pred) == MATRIX:
        g_rows, p_rows = Matrix(*gold).rows, Matrix(*pred).rows
        if len(g_rows) != len(p_rows) or len(g_rows[0]) != len(p_rows[0]):
            return False, "different shape"
        return _entries(_flat(gold), _flat(pred), engine)
    if kind(pred) == TUPLE and TupleNode(*pred).open == "(" and _is_vector(gold):
        return _entries(_flat(gold), TupleNode(*pred).items, engine)
    return False, "different structure"


def _entries(gs, ps, engine) -> tuple[bool, str]:
    return _reason(_ordered(gs, ps, engine), "same entries", "different entries")


def _equal_leaf(gold, pred, engine) -> tuple[bool, str]:
    """Plain expressions are for the engine; a structure never equals one."""
    if kind(pred) in _STRUCTURES:
        return False, "different structure"
    return _reason(engine.expr_equal(gold, pred), "equal", "different value")


# kinds that decide the comparison on whichever side they appear, in order of precedence
_EITHER_SIDE = (
    (TEXT, _equal_text),
    (BASED, _equal_based),
    (PCT, _equal_percent),
    (EQ, _equal_equation),
    (RATIO, _equal_ratio),
)
# the rest by the reference's kind; any other kind is a plain expression (_equal_leaf)
_BY_GOLD_KIND = {
    LIST: _equal_collection,
    SET: _equal_collection,
    TUPLE: _equal_tuple,
    UNION: _equal_intervals,
    REL: _equal_relation,
    MATRIX: _equal_matrix,
}


# -- helpers ----------------------------------------------------------------------------------

def _reason(ok: bool, same: str, different: str) -> tuple[bool, str]:
    return ok, same if ok else different


def _unordered(gs, ps, engine) -> bool:
    if len(gs) != len(ps):
        return False
    left = list(ps)
    for g in gs:
        for j, p in enumerate(left):
            if equal(g, p, engine)[0]:
                del left[j]
                break
        else:
            return False
    return True


def _ordered(gs, ps, engine) -> bool:
    return len(gs) == len(ps) and all(equal(g, p, engine)[0] for g, p in zip(gs, ps))


def _elements(node):
    return Collection(*node).items if kind(node) in (LIST, SET) else None


def _is_inequality_list(node) -> bool:
    return kind(node) == LIST and all(kind(x) == REL for x in Collection(*node).items)


def _is_paren_tuple(node) -> bool:
    if kind(node) != TUPLE:
        return False
    t = TupleNode(*node)
    return t.open == "(" and t.close == ")"


def _sym_name(node) -> str | None:
    return node[1] if kind(node) == SYM else None


def _has_symbols(node) -> bool:
    return "'sym'" in repr(node)


def _count_reason(g, p) -> str:
    if len(p) < len(g):
        return "partial answer"
    if len(p) > len(g):
        return "extra elements"
    return "different elements"


def _is_vector(m) -> bool:
    rows = Matrix(*m).rows
    return len(rows) == 1 or all(len(r) == 1 for r in rows)


def _flat(m) -> tuple:
    return tuple(x for r in Matrix(*m).rows for x in r)
