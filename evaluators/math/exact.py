"""Exact rational value of an answer expression, with guards against adversarially huge numbers."""
from __future__ import annotations

import math
import operator
from fractions import Fraction

from evaluators.math.nodes import ADD, BINOM, DIV, FACT, MUL, NEG, NUM, POW, kind
from evaluators.math.parse import TooLarge

MAX_BITS = 100_000  # larger exact numbers are treated as adversarial
MAX_FACTORIAL = 3000


def rational(node) -> Fraction | None:
    """Exact value of a purely rational expression, or None; TooLarge on huge numbers."""
    # the recursion stays in this one function (one stack frame per nesting level), so long
    # sums and products from a 1500-character answer stay clear of the recursion limit
    k = kind(node)
    if k == NUM:
        _, p, q = node
        return Fraction(p, q)
    if k in _RATIONAL_UNARY:
        _, arg = node
        value = rational(arg)
        return None if value is None else _RATIONAL_UNARY[k](value)
    combine = _RATIONAL_BINARY.get(k)
    if combine is None:
        return None
    _, left_node, right_node = node
    left = rational(left_node)
    if left is None:
        if k in _RIGHT_ALWAYS_EVALUATED:
            rational(right_node)  # raises TooLarge on x^{10^{10^{10}}} although x is symbolic
        return None
    right = rational(right_node)
    return None if right is None else combine(left, right)


def _factorial(n: Fraction) -> Fraction | None:
    if n.denominator != 1 or n < 0:
        return None
    if n > MAX_FACTORIAL:
        raise TooLarge("factorial too large")
    return Fraction(math.factorial(n.numerator))


def _times(a: Fraction, b: Fraction) -> Fraction:
    _check_bits(_bits(a) + _bits(b))
    return a * b


def _over(a: Fraction, b: Fraction) -> Fraction | None:
    return None if b == 0 else a / b


def _power(base: Fraction, exp: Fraction) -> Fraction | None:
    if exp.denominator != 1:
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


def _binomial(n: Fraction, k: Fraction) -> Fraction | None:
    if n.denominator != 1 or k.denominator != 1 or n < 0:
        return None
    if n > MAX_FACTORIAL * 10:
        raise TooLarge("binomial too large")
    return Fraction(math.comb(n.numerator, k.numerator)) if k >= 0 else Fraction(0)


_RATIONAL_UNARY = {NEG: operator.neg, FACT: _factorial}
_RATIONAL_BINARY = {ADD: operator.add, MUL: _times, DIV: _over, POW: _power, BINOM: _binomial}
# kinds whose right operand is evaluated even when the left one is not rational
_RIGHT_ALWAYS_EVALUATED = (POW, BINOM)


def _bits(f: Fraction) -> int:
    return max(f.numerator.bit_length(), f.denominator.bit_length(), 1)


def _check_bits(bits: int) -> None:
    if bits > MAX_BITS:
        raise TooLarge("number too large")
