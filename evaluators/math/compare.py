"""Structural equivalence of two parsed answers; leaf expressions go to an engine.

``equal(gold, pred, engine)`` walks collections, equations and relations itself and asks the
engine only about leaf expressions. ``FAST`` decides exact rationals in-process and raises
``NeedSympy`` otherwise; the sympy engine (``evaluators.math.symbolic``) decides the rest and is
meant to run inside a timeout-pool worker.
"""
from __future__ import annotations

import math
from fractions import Fraction

from evaluators.math.parse import TooLarge

MAX_BITS = 100_000  # larger exact numbers are treated as adversarial
MAX_FACTORIAL = 3000


class NeedSympy(Exception):
    pass


def rational(node) -> Fraction | None:
    """Exact value of a purely rational expression, or None; TooLarge on huge numbers."""
    kind = node[0]
    if kind == "num":
        return Fraction(node[1], node[2])
    if kind == "neg":
        v = rational(node[1])
        return None if v is None else -v
    if kind in ("add", "mul", "div"):
        a = rational(node[1])
        if a is None:
            return None
        b = rational(node[2])
        if b is None:
            return None
        if kind == "add":
            return a + b
        if kind == "mul":
            _check_bits(_bits(a) + _bits(b))
            return a * b
        return None if b == 0 else a / b
    if kind == "pow":
        base = rational(node[1])
        if base is None:
            _guard_pow_exponent(node[2])
            return None
        exp = rational(node[2])
        if exp is None or exp.denominator != 1:
            return None
        e = exp.numerator
        if base == 0 and e < 0:
            return None
        if base in (0, 1):
            return base
        if base == -1:
            return Fraction(-1 if e % 2 else 1)
        _check_bits(abs(e) * _bits(base))
        return base ** e
    if kind == "fact":
        n = rational(node[1])
        if n is None or n.denominator != 1 or n < 0:
            return None
        if n > MAX_FACTORIAL:
            raise TooLarge("factorial too large")
        return Fraction(math.factorial(n.numerator))
    if kind == "binom":
        n, k = rational(node[1]), rational(node[2])
        if n is None or k is None or n.denominator != 1 or k.denominator != 1 or n < 0:
            return None
        if n > MAX_FACTORIAL * 10:
            raise TooLarge("binomial too large")
        return Fraction(math.comb(n.numerator, k.numerator)) if k >= 0 else Fraction(0)
    if kind == "based":
        return None
    return None


def _bits(f: Fraction) -> int:
    return max(f.numerator.bit_length(), f.denominator.bit_length(), 1)


def _check_bits(bits: int) -> None:
    if bits > MAX_BITS:
        raise TooLarge("number too large")


def _guard_pow_exponent(exp_node) -> None:
    """Reject towers like x^{10^{10^{10}}} early: evaluating the exponent must be feasible."""
    rational(exp_node)


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


def _sym_name(node) -> str | None:
    return node[1] if node[0] == "sym" else None


def expand_pm(node) -> tuple:
    """``a \\pm b`` -> unordered list (a+b, a-b); nested pm inside structures expands there."""
    kind = node[0]
    if kind in ("list", "set"):
        out = []
        for item in node[1]:
            e = expand_pm(item)
            out.extend(e[1] if e[0] == "list" and item[0] != "list" else [e])
        return (kind, tuple(out))
    if kind == "tuple":
        return ("tuple", node[1], node[2], tuple(expand_pm(x) for x in node[3]))
    if kind == "eq":
        rhs = expand_pm(node[2])
        if rhs[0] == "list" and node[2][0] != "list":
            return ("list", tuple(("eq", node[1], r) for r in rhs[1]))
        return ("eq", node[1], rhs)
    variants = _pm_variants(node, budget=[8])
    if len(variants) == 1:
        return variants[0]
    return ("list", tuple(variants))


def _pm_variants(node, budget) -> list:
    if not isinstance(node, tuple) or not node or node[0] in ("num", "sym", "const", "text", "based"):
        return [node]
    if node[0] == "pm":
        budget[0] -= 1
        if budget[0] < 0:
            raise TooLarge("too many \\pm signs")
        out = []
        for a in _pm_variants(node[1], budget):
            for b in _pm_variants(node[2], budget):
                out.append(("add", a, b))
                out.append(("add", a, ("neg", b)))
        return out
    results = [()]
    for part in node:
        if isinstance(part, tuple) and part and isinstance(part[0], str) and part[0] not in ("list", "set"):
            opts = _pm_variants(part, budget)
        else:
            opts = [part]
        results = [r + (o,) for r in results for o in opts]
    return results


def to_interval(node):
    """``x < 3`` / ``-2 \\le x < 5`` -> ("tuple", open, close, (lo, hi)); None if not an interval."""
    if node[0] != "rel":
        return None
    exprs, ops = list(node[1]), list(node[2])
    if any(o == "!=" for o in ops):
        return None
    if all(o in (">", ">=") for o in ops):  # flip to "<" form
        exprs.reverse()
        ops = ["<" if o == ">" else "<=" for o in reversed(ops)]
    if not all(o in ("<", "<=") for o in ops):
        return None
    neg_inf, inf = ("neg", ("const", "oo")), ("const", "oo")
    if len(exprs) == 2:
        if exprs[0][0] == "sym":
            return ("tuple", "(", ")" if ops[0] == "<" else "]", (neg_inf, exprs[1]))
        if exprs[1][0] == "sym":
            return ("tuple", "(" if ops[0] == "<" else "[", ")", (exprs[0], inf))
        return None
    if len(exprs) == 3 and exprs[1][0] == "sym":
        return ("tuple", "(" if ops[0] == "<" else "[", ")" if ops[1] == "<" else "]",
                (exprs[0], exprs[2]))
    return None


def _as_interval_set(node):
    """An interval, union of intervals or list of inequalities as a tuple of intervals."""
    if node[0] == "tuple" and len(node[3]) == 2:
        return (node,)
    if node[0] == "rel":
        iv = to_interval(node)
        return (iv,) if iv else None
    if node[0] == "union":
        parts = [_as_interval_set(p) for p in node[1]]
        if any(p is None for p in parts):
            return None
        return tuple(iv for p in parts for iv in p)
    if node[0] == "list" and all(x[0] == "rel" for x in node[1]):
        ivs = [to_interval(x) for x in node[1]]
        return None if any(v is None for v in ivs) else tuple(ivs)
    return None


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
    return node[1] if node[0] in ("list", "set") else None


def equal(gold, pred, engine) -> tuple[bool, str]:
    """(same?, reason). Raises NeedSympy (FAST engine) or TooLarge."""
    if gold == pred:
        return True, "identical"
    gk, pk = gold[0], pred[0]
    if gk == "in":
        return equal(gold[2], pred[2] if pk == "in" else pred, engine)
    if pk == "in":
        return equal(gold, pred[2], engine)
    if "'pm'" in repr(gold) or "'pm'" in repr(pred):
        g2, p2 = expand_pm(gold), expand_pm(pred)
        if (g2, p2) != (gold, pred):
            return equal(g2, p2, engine)
    # textual answers
    if gk == "text" or pk == "text":
        if gk == pk:
            return (gold[1] == pred[1]), "same text" if gold[1] == pred[1] else "different text"
        return False, "text vs math"
    if gk == "based" or pk == "based":
        return _based_equal(gold, pred)
    # percentages: 40% may be written as 40 or 0.4
    if pk == "pct" and gk != "pct":
        inner = pred[1]
        if equal(gold, inner, engine)[0] or equal(gold, ("div", inner, ("num", 100, 1)), engine)[0]:
            return True, "equal (percent)"
        return False, "different value"
    if gk == "pct":
        inner = gold[1]
        p = pred[1] if pk == "pct" else pred
        if equal(inner, p, engine)[0] or (pk != "pct" and equal(("div", inner, ("num", 100, 1)), p, engine)[0]):
            return True, "equal (percent)"
        return False, "different value"
    # an equation on one side only: "x = 5" vs "5", "(x, y) = (2, 3)" vs "(2, 3)"
    if pk == "eq" and gk != "eq":
        if (_is_label(pred[1]) or not _has_symbols(pred[1])) and gk != "rel" \
                and pred[2][0] not in ("eq", "rel"):
            ok = equal(gold, pred[2], engine)[0]
            return ok, "equal (value after =)" if ok else "different value"
        return False, "equation vs value"
    if gk == "eq":
        return _eq_equal(gold, pred, engine)
    # collections
    g_el, p_el = _elements(gold), _elements(pred)
    if g_el is not None:
        if p_el is not None:
            ok = _unordered(g_el, p_el, engine)
            return ok, "same elements" if ok else _count_reason(g_el, p_el)
        if pk == "tuple" and pred[1] == "(" and pred[2] == ")" and gk == "list":
            ok = _unordered(g_el, pred[3], engine)
            return ok, "same elements" if ok else "different elements"
        inequalities = gk == "list" and all(x[0] == "rel" for x in g_el)
        if not inequalities:  # "x<2 or x>3" may still match a union below
            return False, "partial answer" if len(g_el) > 1 else "different structure"
    if gk in ("tuple", "union") or (gk in ("rel", "list") and pk in ("tuple", "union")):
        gi, pi = _as_interval_set(gold), _as_interval_set(pred)
        if gk == "tuple" and pk == "tuple":
            if (gold[1], gold[2]) != (pred[1], pred[2]):
                return False, "different brackets"
            ok = _ordered(gold[3], pred[3], engine)
            return ok, "same components" if ok else "different components"
        if gk == "tuple" and pk == "list" and gold[1] == "(":
            ok = _ordered(gold[3], pred[1], engine)
            return ok, "same components" if ok else "different components"
        if gk == "tuple" and pk == "matrix" and _is_vector(pred):
            ok = _ordered(gold[3], _flat(pred), engine)
            return ok, "same components" if ok else "different components"
        if gi is not None and pi is not None:
            if len(gi) != len(pi):
                return False, "different number of intervals"
            ok = _unordered(gi, pi, engine)
            return ok, "same intervals" if ok else "different intervals"
        return False, "different structure"
    if gk == "matrix":
        if pk == "matrix":
            if len(gold[1]) != len(pred[1]) or len(gold[1][0]) != len(pred[1][0]):
                return False, "different shape"
            ok = _ordered(_flat(gold), _flat(pred), engine)
            return ok, "same entries" if ok else "different entries"
        if pk == "tuple" and pred[1] == "(" and _is_vector(gold):
            ok = _ordered(_flat(gold), pred[3], engine)
            return ok, "same entries" if ok else "different entries"
        return False, "different structure"
    if gk == "rel":
        if pk != "rel":
            return False, "relation vs value"
        gi, pi = to_interval(gold), to_interval(pred)
        if gi and pi:
            ok = equal(gi, pi, engine)[0] and _same_var(gold, pred)
            return ok, "same inequality" if ok else "different inequality"
        return False, "different inequality"
    if pk in ("list", "set", "tuple", "union", "matrix", "rel"):
        return False, "different structure"
    ok = engine.expr_equal(gold, pred)
    return ok, "equal" if ok else "different value"


def _is_label(node) -> bool:
    """A name standing for the answer: x, AB, a_1, f(x), (x, y)."""
    if node[0] == "sym":
        return True
    if node[0] == "tuple":
        return all(_is_label(x) for x in node[3])
    return node[0] == "mul" and _is_label(node[1]) and _is_label(node[2])


def _has_symbols(node) -> bool:
    return "'sym'" in repr(node)


def _count_reason(g, p) -> str:
    if len(p) < len(g):
        return "partial answer"
    if len(p) > len(g):
        return "extra elements"
    return "different elements"


def _same_var(a, b) -> bool:
    sa = {x[1] for x in a[1] if x[0] == "sym"}
    sb = {x[1] for x in b[1] if x[0] == "sym"}
    return sa == sb


def _is_vector(m) -> bool:
    rows = m[1]
    return len(rows) == 1 or all(len(r) == 1 for r in rows)


def _flat(m) -> tuple:
    return tuple(x for r in m[1] for x in r)


def _based_equal(gold, pred) -> tuple[bool, str]:
    def digits(n):
        if n[0] == "based":
            return n[1].lstrip("0") or "0", n[2]
        if n[0] == "num" and n[2] == 1 and n[1] >= 0:
            return str(n[1]), None
        return None
    g, p = digits(gold), digits(pred)
    if g is None or p is None:
        return False, "different value"
    ok = g[0] == p[0] and (g[1] is None or p[1] is None or g[1] == p[1])
    return ok, "same numeral" if ok else "different numeral"


def _eq_equal(gold, pred, engine) -> tuple[bool, str]:
    g_lhs = _sym_name(gold[1])
    if pred[0] != "eq":
        if _is_label(gold[1]) and pred[0] != "rel" and gold[2][0] not in ("eq", "rel"):
            ok = equal(gold[2], pred, engine)[0]
            return ok, "equal (value after =)" if ok else "different value"
        return False, "equation vs value"
    p_lhs = _sym_name(pred[1])
    if g_lhs and g_lhs == p_lhs and engine.expr_equal(gold[2], pred[2]):
        return True, "same equation"
    g_rhs, p_rhs = _sym_name(gold[2]), _sym_name(pred[2])
    if g_lhs and g_lhs == p_rhs and engine.expr_equal(gold[2], pred[1]):
        return True, "same equation"
    if g_rhs and g_rhs == p_lhs and engine.expr_equal(gold[1], pred[2]):
        return True, "same equation"
    g_diff = ("add", gold[1], ("neg", gold[2]))
    p_diff = ("add", pred[1], ("neg", pred[2]))
    ok = engine.proportional(g_diff, p_diff)
    return ok, "equivalent equation" if ok else "different equation"
