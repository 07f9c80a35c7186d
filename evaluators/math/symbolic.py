"""Sympy side of the comparison: AST -> sympy, and equality tests for leaf expressions.

Runs inside timeout-pool workers (``equal_sympy`` is the entry point), so it may be slow on
hostile input; the pool's hard deadline and memory cap bound the damage.

Equality of expressions is decided numerically at several fixed points with 50 significant
digits, negative and non-integer ones included (so ``|x|`` vs ``x`` and ``floor(x)`` vs ``x``
are told apart). Two different closed forms agreeing to 1e-30 at every point is not something
a model answer can do by accident; pure rationals never get here (they are compared exactly).
"""
from __future__ import annotations

from functools import lru_cache

import sympy
from sympy import Rational

from evaluators.math.compare import FAST, NeedSympy, equal
from evaluators.math.exact import MAX_FACTORIAL, rational
from evaluators.math.parse import ParseError, TooLarge

_PREC = 50
_TRIALS = 4
_HIGH_PREC = 400
_HIGH_TOL = sympy.Float("1e-370", 410)
_TOL = sympy.Float("1e-30", 60)
_POINTS = [Rational(7, 5), Rational(-13, 6), Rational(23, 9), Rational(-2, 7), Rational(31, 11)]

_FUNCS = {"sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "cot": sympy.cot,
          "sec": sympy.sec, "csc": sympy.csc, "arcsin": sympy.asin, "arccos": sympy.acos,
          "arctan": sympy.atan, "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh,
          "exp": sympy.exp, "floor": sympy.floor, "ceil": sympy.ceiling}
_CONST = {"pi": sympy.pi, "E": sympy.E, "I": sympy.I, "oo": sympy.oo}


@lru_cache(maxsize=4096)
def to_sympy(node):
    kind = node[0]
    if kind in ("num", "add", "mul", "neg", "div", "pow", "fact", "binom"):
        r = rational(node)
        if r is not None:
            return Rational(r.numerator, r.denominator)
    if kind == "num":
        return Rational(node[1], node[2])
    if kind == "sym":
        return sympy.Symbol(node[1])
    if kind == "const":
        return _CONST[node[1]]
    if kind == "add":
        return sympy.Add(to_sympy(node[1]), to_sympy(node[2]))
    if kind == "mul":
        return sympy.Mul(to_sympy(node[1]), to_sympy(node[2]))
    if kind == "neg":
        return -to_sympy(node[1])
    if kind == "div":
        den = to_sympy(node[2])
        if den == 0:
            raise ParseError("division by zero")
        return to_sympy(node[1]) / den
    if kind == "pow":
        base, exp = to_sympy(node[1]), to_sympy(node[2])
        if exp.is_Number and abs(exp) > 10_000 and not base.free_symbols:
            raise TooLarge("power too large")
        return sympy.Pow(base, exp)
    if kind == "root":
        return sympy.root(to_sympy(node[1]), to_sympy(node[2]))
    if kind == "func":
        return _FUNCS[node[1]](to_sympy(node[2]))
    if kind == "log":
        arg = to_sympy(node[2])
        return sympy.log(arg) if node[1] is None else sympy.log(arg, to_sympy(node[1]))
    if kind == "abs":
        return sympy.Abs(to_sympy(node[1]))
    if kind == "fact":
        n = to_sympy(node[1])
        if n.is_Number and n > MAX_FACTORIAL:
            raise TooLarge("factorial too large")
        return sympy.factorial(n)
    if kind == "binom":
        return sympy.binomial(to_sympy(node[1]), to_sympy(node[2]))
    if kind == "pct":
        return to_sympy(node[1]) / 100
    if kind == "based":
        return sympy.Integer(int(node[1], node[2])) if 2 <= node[2] <= 36 else None
    raise ParseError(f"not an expression: {kind}")


def _at(expr, point, prec=_PREC):
    v = expr.subs(point).evalf(prec)
    if not v.is_number or v.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        return None
    return v


def _points(symbols, k):
    """Trial k: every variable gets its own value; signs vary so that each pair of
    variables is tried with both signs together (catches ln(xy) vs ln x + ln y)."""
    n = len(_POINTS)
    out = {}
    for j, s in enumerate(symbols):
        v = abs(_POINTS[(k + 2 * j) % n]) + j
        out[s] = -v if (k >> (j % 2)) & 1 else v
    return out


def _has_extreme_numbers(node) -> bool:
    """True when a literal or an exponent is large enough to hide a difference < 10^-300."""
    kind = node[0]
    if kind == "num":
        return max(abs(node[1]), node[2]) > 10 ** 60
    if kind == "pow":
        e = rational(node[2]) if node[2][0] != "sym" else None
        if e is not None and abs(e) > 200:
            return True
    return any(isinstance(part, tuple) and part and isinstance(part[0], str) and _has_extreme_numbers(part)
               for part in node[1:])


class _Sympy:
    name = "sympy"

    def expr_equal(self, a, b) -> bool:
        try:
            return FAST.expr_equal(a, b)
        except NeedSympy:
            pass
        if _has_extreme_numbers(a) or _has_extreme_numbers(b):
            # numbers this big or small can plant a difference below any working precision:
            # only a symbolic proof counts
            x, y = to_sympy(a), to_sympy(b)
            return x == y or sympy.simplify(x - y) == 0
        x, y = to_sympy(a), to_sympy(b)
        if x == y:
            return True
        if x.has(sympy.oo) or y.has(sympy.oo):
            return False  # equal infinities were caught by x == y
        d = x - y
        if d == 0:
            return True
        symbols = sorted(x.free_symbols | y.free_symbols, key=str)
        valid = 0
        trials = _TRIALS if symbols else 1
        for k in range(trials):
            pt = _points(symbols, k)
            dv, xv = _at(d, pt), _at(x, pt)
            if dv is None or xv is None:
                continue
            if abs(dv) > _TOL * max(1, abs(xv)):
                return False
            valid += 1
        if valid == trials:
            # agreement to 30 digits; confirm at far higher precision so that a planted
            # difference like sqrt(2) + 10^-40 is still caught
            for k in range(trials):
                pt = _points(symbols, k)
                dv, xv = _at(d, pt, _HIGH_PREC), _at(x, pt, _HIGH_PREC)
                if dv is None or xv is None or abs(dv) > _HIGH_TOL * max(1, abs(xv)):
                    return sympy.simplify(d) == 0
            return True
        return sympy.simplify(d) == 0

    def proportional(self, a, b) -> bool:
        x, y = to_sympy(a), to_sympy(b)
        if y == 0 or x == 0:
            return x == y
        if x.free_symbols != y.free_symbols:
            return False
        symbols = sorted(x.free_symbols, key=str)
        ratio = None
        for k in range(_TRIALS):
            pt = _points(symbols, k)
            xv, yv = _at(x, pt), _at(y, pt)
            if xv is None or yv is None or abs(yv) < _TOL:
                continue
            r = xv / yv
            if ratio is None:
                ratio = r
            elif abs(r - ratio) > _TOL * max(1, abs(ratio)):
                return False
        if ratio is None or abs(ratio) < _TOL:
            return False
        return True


SYMPY = _Sympy()


def equal_sympy(gold, pred) -> tuple[bool, str]:
    """Pool entry point: full structural comparison with the sympy engine."""
    return equal(gold, pred, SYMPY)


def _warm_up() -> None:
    """Touch the lazily imported parts of sympy (evalf, trig, simplify) once at import, so the
    fork server hands every worker a process that is ready to answer in milliseconds."""
    x = sympy.Symbol("x")
    SYMPY.expr_equal(("func", "cot", ("sym", "x")), ("div", ("func", "cos", ("sym", "x")),
                                                      ("func", "sin", ("sym", "x"))))
    SYMPY.expr_equal(("root", ("num", 3, 1), ("num", 2, 1)), ("num", 2, 1))
    sympy.simplify(sympy.sqrt(x ** 2) - sympy.log(x))


_warm_up()
