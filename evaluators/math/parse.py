"""LaTeX answer -> small immutable AST (nested tuples), by recursive descent.

The AST is plain tuples so it pickles cheaply to worker processes and can be cached. Nodes:
``("num", p, q)`` exact rational, ``("sym", name)``, ``("const", "pi"|"E"|"I"|"oo")``,
``("add", a, b)``, ``("mul", a, b)``, ``("div", a, b)``, ``("neg", a)``, ``("pow", a, b)``,
``("func", name, a)``, ``("log", base|None, a)``, ``("root", a, n)``, ``("fact", a)``,
``("abs", a)``, ``("binom", a, b)``, ``("pm", a, b)``, ``("pct", a)``,
``("based", digits, base)``, ``("text", words)``, ``("ratio", terms)``, structures ``("list", items)`` (unordered,
bare commas), ``("tuple", open, close, items)``, ``("set", items)``, ``("union", parts)``,
``("matrix", rows)``, ``("eq", lhs, rhs)``, ``("rel", exprs, ops)``, ``("in", lhs, rhs)``.
Named kinds and read-only views over the fields: ``evaluators.math.nodes``.
"""
from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

from evaluators.math.normalize import MAX_ANSWER_CHARS, clean


class ParseError(ValueError):
    pass


class TooLarge(ValueError):
    pass


_TOKEN_RE = re.compile(r"""
    (?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+(?![a-zA-Z\d]))?)
  | (?P<cmd>\\[a-zA-Z]+|\\[{}|])
  | (?P<id>[a-zA-Z])
  | (?P<rowsep>\\\\)
  | (?P<op><=|>=|!=|\*\*|[-+*/^_!=<>(),\[\]{}|&%:;'])
  | (?P<ws>\s+)
""", re.VERBOSE)

_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
          "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau",
          "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta",
          "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega"}
_FUNCS = {"sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh",
          "cosh", "tanh", "exp", "floor", "ceil"}
_RELS = {"=": "=", "<": "<", ">": ">", "<=": "<=", ">=": ">=", "!=": "!=", r"\le": "<=",
         r"\ge": ">=", r"\lt": "<", r"\gt": ">", r"\ne": "!="}
_MUL_OPS = {"*", r"\cdot", r"\times", "/", r"\div", r"\ast"}
_MATRIX_ENVS = ("pmatrix", "bmatrix", "matrix", "Bmatrix", "vmatrix", "smallmatrix", "array")


def tokenize(s: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(s):
        m = _TOKEN_RE.match(s, pos)
        if not m:
            raise ParseError(f"unexpected character {s[pos]!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws":
            continue
        out.append((kind, m.group(0)))
    return out


def _num(text: str) -> tuple:
    if len(text) > 400:
        raise TooLarge("number literal too long")
    try:
        if "e" in text or "E" in text:
            mant, exp = re.split("[eE]", text)
            if abs(int(exp)) > 400:
                raise TooLarge("exponent too large")
            f = Fraction(mant) * Fraction(10) ** int(exp)
        else:
            f = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ParseError(f"bad number {text!r}") from None
    return ("num", f.numerator, f.denominator)


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.t = tokens
        self.i = 0
        self.abs_depth = 0

    # -- token helpers
    def peek(self, k: int = 0) -> tuple[str, str] | None:
        j = self.i + k
        return self.t[j] if j < len(self.t) else None

    def val(self, k: int = 0) -> str | None:
        tok = self.peek(k)
        return tok[1] if tok else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ParseError("unexpected end")
        self.i += 1
        return tok

    def expect(self, v: str) -> None:
        tok = self.take()
        if tok[1] != v:
            raise ParseError(f"expected {v!r}, got {tok[1]!r}")

    # -- grammar
    def answer(self) -> tuple:
        items = self.items(end=None)
        if self.peek() is not None:
            raise ParseError(f"trailing {self.val()!r}")
        return items[0] if len(items) == 1 else ("list", tuple(items))

    def items(self, end) -> list:
        items = [self.relation()]
        while self.val() in (",", ";"):
            self.take()
            if self.peek() is None or self.val() in _closers(end):
                break
            items.append(self.relation())
        return items

    def relation(self) -> tuple:
        left = self.ratio()
        if self.val() == r"\in":
            self.take()
            return ("in", left, self.union())
        exprs, ops = [left], []
        while self.val() in _RELS:
            ops.append(_RELS[self.take()[1]])
            exprs.append(self.ratio())
        if not ops:
            return left
        if all(o == "=" for o in ops):
            # a chain x = 6/2 = 3 asserts all sides equal: keep the first and the last
            return ("eq", exprs[0], exprs[-1])
        return ("rel", tuple(exprs), tuple(ops))

    def ratio(self) -> tuple:
        """``11 : 21``, ``V_1 : V_2``, ``1 : 2 : 3``."""
        left = self.union()
        if self.val() != ":":
            return left
        parts = [left]
        while self.val() == ":":
            self.take()
            parts.append(self.union())
        return ("ratio", tuple(parts))

    def union(self) -> tuple:
        left = self.expr()
        if self.val() != r"\cup":
            return left
        parts = [left]
        while self.val() == r"\cup":
            self.take()
            parts.append(self.expr())
        return ("union", tuple(parts))

    def expr(self) -> tuple:
        if self.val() in ("+", "-", r"\pm", r"\mp"):
            op = self.take()[1]
            left = self.term()
            left = ("neg", left) if op == "-" else ("pm", ("num", 0, 1), left) if op in (r"\pm", r"\mp") else left
        else:
            left = self.term()
        while self.val() in ("+", "-", r"\pm", r"\mp"):
            op = self.take()[1]
            right = self.term()
            if op == "+":
                left = ("add", left, right)
            elif op == "-":
                left = ("add", left, ("neg", right))
            else:
                left = ("pm", left, right)
        return left

    def term(self) -> tuple:
        left = self.unary()
        first = left
        while True:
            v = self.val()
            if v in _MUL_OPS:
                self.take()
                right = self.unary()
                left = ("div", left, right) if v in ("/", r"\div") else ("mul", left, right)
            elif self.starts_primary():
                if left[0] == "num" and self.peek()[0] == "num":
                    raise ParseError("two numbers side by side")
                right = self.unary()
                if left is first and _is_int_literal(left) and _is_simple_frac(right):
                    left = ("add", left, right)  # mixed number 1\frac{4}{5}
                else:
                    left = ("mul", left, right)
            else:
                return left

    def starts_primary(self) -> bool:
        tok = self.peek()
        if tok is None:
            return False
        kind, v = tok
        if kind in ("num", "id"):
            return True
        if kind == "cmd":
            return v not in _RELS and v not in _MUL_OPS and v not in (
                r"\pm", r"\mp", r"\cup", r"\in", r"\}", r"\matend", r"\rfloor", r"\rceil", r"\to")
        if v in ("(", "{"):
            return True
        if v == "[":
            return False
        if v == "|":
            return self.abs_depth == 0
        return False

    def unary(self) -> tuple:
        v = self.val()
        if v == "-":
            self.take()
            return ("neg", self.unary())
        if v == "+":
            self.take()
            return self.unary()
        return self.postfix()

    def postfix(self) -> tuple:
        node = self.primary()
        while True:
            v = self.val()
            if v in ("^", "**"):
                self.take()
                node = ("pow", node, self.exponent())
            elif v == "!":
                self.take()
                node = ("fact", node)
            elif v == "%":
                self.take()
                node = ("pct", node)
            elif v == "'":
                raise ParseError("primes are not supported")
            else:
                return node

    def exponent(self) -> tuple:
        v = self.val()
        if v == "{":
            return self.group()
        if v in ("-", "+"):
            self.take()
            inner = self.exponent()
            return ("neg", inner) if v == "-" else inner
        return self.primary()

    def group(self) -> tuple:
        self.expect("{")
        items = self.items(end="}")
        self.expect("}")
        return items[0] if len(items) == 1 else ("list", tuple(items))

    def arg(self) -> tuple:
        """Argument of \\frac/\\sqrt: a braced group or a single token (\\frac12)."""
        tok = self.peek()
        if tok is None:
            raise ParseError("missing argument")
        if tok[1] == "{":
            return self.group()
        if tok[0] == "num":
            self.take()
            digits = tok[1]
            if len(digits) > 1 and digits.isdigit():
                self.t.insert(self.i, ("num", digits[1:]))
                digits = digits[0]
            return _num(digits)
        return self.primary()

    def primary(self) -> tuple:
        kind, v = self.take()
        if kind == "num":
            node = _num(v)
            if self.val() == "_":  # 204_5: a numeral in another base
                self.take()
                base = self.arg()
                if base[0] != "num" or base[2] != 1:
                    raise ParseError("bad base")
                return ("based", v, base[1])
            return node
        if kind == "id":
            if self.val() == "_":
                self.take()
                sub = self.sub_text()
                return ("sym", f"{v}_{sub}")
            if v == "i":
                return ("const", "I")
            if v == "e":
                return ("const", "E")
            return ("sym", v)
        if v == "(" or v == "[":
            return self.bracket(v)
        if v == "{":
            self.i -= 1
            return self.group()
        if v == "|":
            self.abs_depth += 1
            inner = self.expr()
            self.abs_depth -= 1
            self.expect("|")
            return ("abs", inner)
        if kind == "cmd":
            return self.command(v)
        raise ParseError(f"unexpected {v!r}")

    def sub_text(self) -> str:
        if self.val() == "{":
            self.take()
            parts = []
            while self.val() not in ("}", None):
                parts.append(self.take()[1])
            self.expect("}")
            return "".join(parts)
        return self.take()[1]

    def bracket(self, opener: str) -> tuple:
        items = self.items(end=")]")
        close = self.take()[1]
        if close not in (")", "]"):
            raise ParseError(f"unbalanced {opener}")
        if len(items) == 1 and close == {"(": ")", "[": "]"}[opener]:
            return items[0]
        if len(items) == 1:
            raise ParseError("mismatched brackets")
        return ("tuple", opener, close, tuple(items))

    def command(self, v: str) -> tuple:
        name = v[1:]
        if name == "frac":
            num = self.arg()
            den = self.arg()
            return ("div", num, den)
        if name == "sqrt":
            index = ("num", 2, 1)
            if self.val() == "[":
                self.take()
                index = self.expr()
                self.expect("]")
            return ("root", self.arg(), index)
        if name == "binom":
            return ("binom", self.arg(), self.arg())
        if name == "pi":
            return ("const", "pi")
        if name == "infty" or name == "infin":
            return ("const", "oo")
        if name in _GREEK:
            return ("sym", name)
        if name in ("ln", "log", "lg"):
            base = None
            if self.val() == "_":
                self.take()
                base = self.arg()
            elif name == "lg":
                base = ("num", 10, 1)
            power = self.func_power()
            node = ("log", base, self.func_arg())
            return ("pow", node, power) if power else node
        if name in _FUNCS:
            power = self.func_power()
            node = ("func", name, self.func_arg())
            return ("pow", node, power) if power else node
        if name == "lfloor" or name == "lceil":
            inner = self.expr()
            self.expect(r"\rfloor" if name == "lfloor" else r"\rceil")
            return ("func", "floor" if name == "lfloor" else "ceil", inner)
        if name == "{":
            if self.val() == r"\}":
                self.take()
                return ("set", ())
            items = self.items(end=r"\}")
            self.expect(r"\}")
            return ("set", tuple(items))
        if name == "emptyset" or name == "varnothing":
            return ("set", ())
        if name == "matbegin":
            return self.matrix()
        if name == "text":
            raise ParseError("text inside math")
        raise ParseError(f"unknown command \\{name}")

    def func_power(self):
        if self.val() == "^":
            self.take()
            return self.exponent()
        return None

    def func_arg(self) -> tuple:
        if self.val() == "(":
            self.take()
            inner = self.expr()
            self.expect(")")
            return inner
        if self.val() == "{":
            return self.group()
        node = self.postfix()
        while self.peek() and self.peek()[0] in ("num", "id"):
            node = ("mul", node, self.postfix())
        return node

    def matrix(self) -> tuple:
        rows, row = [], [self.expr()]
        while True:
            v = self.val()
            if v == "&":
                self.take()
                row.append(self.expr())
            elif v == r"\\":
                self.take()
                rows.append(tuple(row))
                if self.val() == r"\matend":
                    row = None
                    break
                row = [self.expr()]
            elif v == r"\matend":
                break
            else:
                raise ParseError("bad matrix")
        self.expect(r"\matend")
        if row:
            rows.append(tuple(row))
        if len({len(r) for r in rows}) != 1:
            raise ParseError("ragged matrix")
        return ("matrix", tuple(rows))


def _closers(end) -> tuple:
    if end is None:
        return ()
    if end == r"\}":
        return (r"\}",)
    return tuple(end)


def _is_int_literal(node) -> bool:
    return node[0] == "num" and node[2] == 1


def _is_simple_frac(node) -> bool:
    return node[0] == "div" and _is_int_literal(node[1]) and _is_int_literal(node[2])


_ENV_RE = re.compile(r"\\begin\{(" + "|".join(_MATRIX_ENVS) + r")\}(\{[^{}]*\})?|\\end\{(?:"
                     + "|".join(_MATRIX_ENVS) + r")\}")
_TEXT_WORD_RE = re.compile(r"^[A-Za-z][A-Za-z ]{2,}$")


def _prepare(s: str) -> str:
    s = _ENV_RE.sub(lambda m: r" \matbegin " if m.group(0).startswith(r"\begin") else r" \matend ", s)
    s = re.sub(r"\\(?:mathrm|mathbf|mathit|operatorname)\s*\{\s*([a-zA-Z]+)\s*\}", r" \\\1 ", s)
    s = s.replace(r"\lbrace", r"\{").replace(r"\rbrace", r"\}")
    s = re.sub(r"\\mathbb\s*\{?\s*R\s*\}?", r"(-\\infty,\\infty)", s)
    s = re.sub(r"\\(?:lvert|rvert|vert|mid)(?![a-zA-Z])", "|", s)
    s = re.sub(r"(?<![a-zA-Z\\])(and|or)(?![a-zA-Z])", ",", s)
    return s


@lru_cache(maxsize=8192)
def parse_answer(text: str) -> tuple:
    """Clean and parse one answer string; raises ParseError / TooLarge."""
    if len(text) > MAX_ANSWER_CHARS:
        raise TooLarge(f"answer longer than {MAX_ANSWER_CHARS} characters")
    s = clean(text)
    if not s:
        raise ParseError("empty answer")
    if _TEXT_WORD_RE.match(s) and s.strip().lower() not in ("and", "or") and len(s.replace(" ", "")) > 2:
        return ("text", s.replace(" ", "").lower())
    try:
        return _Parser(tokenize(_prepare(s))).answer()
    except RecursionError:
        raise TooLarge("nesting too deep") from None
