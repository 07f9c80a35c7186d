"""String clean-up of an extracted answer before parsing (spacing macros, units, symbols)."""
from __future__ import annotations

import re

MAX_ANSWER_CHARS = 1500

_UNICODE = {
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u00d7": r"\times ", "\u22c5": r"\cdot ",
    "\u00b7": r"\cdot ", "\u00f7": r"\div ", "\u221a": r"\sqrt ", "\u03c0": r"\pi ",
    "\u221e": r"\infty ", "\u2264": r"\le ", "\u2265": r"\ge ", "\u2260": r"\ne ",
    "\u00b0": "", "\u222a": r"\cup ", "\u00b1": r"\pm ", "\u2208": r"\in ", "\u2009": " ",
    "\u00a0": " ", "\uff0c": ",", "\u3002": ".", "\uff1a": ":",
}
_UNICODE_RE = re.compile("|".join(map(re.escape, _UNICODE)))

# spacing and sizing macros that carry no meaning
_DROP_RE = re.compile(
    r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg|displaystyle|textstyle"
    r"|quad|qquad|limits|mathstrut|nonumber|notag)(?![a-zA-Z])|(?<!\\)\\[!,;: ]|~")
_FRAC_RE = re.compile(r"\\[dtc]frac(?![a-zA-Z])")
_DEGREE_RE = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree(?![a-zA-Z])")
_TEXT_CMD = r"\\(?:text|textbf|textit|textrm|mbox|mathrm|mathbf|mathit|operatorname|textnormal)"
_TEXT_RE = re.compile(_TEXT_CMD + r"\s*\{([^{}]*)\}")
_UNIT_WORDS = (
    "cm|mm|km|m|meters?|metres?|centimeters?|kilometers?|inch|inches|in|feet|foot|ft|yards?|yd|miles?|mi"
    "|units?|sq|square|cubic|degrees?|deg|radians?|rad|dollars?|cents?|hours?|hrs?|minutes?|mins?"
    "|seconds?|secs?|s|days?|weeks?|months?|years?|mph|kg|g|grams?|pounds?|lbs?|liters?|litres?|ml|l"
    "|people|students|ways|points|marbles|pages|books|coins|cookies|apples|eggs|times|percent"
)
_UNIT_TAIL_RE = re.compile(r"(?<=[\d}).\s])\s*(?:(?:" + _UNIT_WORDS + r")\b\.?\s*(?:\^\s*\{?\d\}?)?\s*)+$")
_THOUSANDS_RE = re.compile(r"^[-+]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$")
# "28 pct", "28 \text{ percentage points}" -> "28%"
_PERCENT_WORD_RE = re.compile(
    r"(?<=[\d}.])\s*(?:\\text\s*\{\s*)?(?:percent(?:age)?(?:\s+points?)?|pct)\.?\s*\}?(?![a-zA-Z])")
# "x \approx 11", "\approx 11": the name or nothing before the sign, the value after it
_APPROX_LABEL_RE = re.compile(r"^\s*(?:[a-zA-Z](?:_\{?\w{1,3}\}?)?|[A-Z]{2,3}|\|[A-Z]{2,3}\|)?\s*"
                              r"\\approx(?![a-zA-Z])(?P<value>.*)$")
_CHOICE_RE = re.compile(r"^\(?\s*([A-Ja-j])\s*\)?$")


def unicode_to_latex(s: str) -> str:
    return _UNICODE_RE.sub(lambda m: _UNICODE[m.group(0)], s)


def clean(s: str) -> str:
    """Return a canonical LaTeX-ish string for parsing; may be empty."""
    s = unicode_to_latex(s)
    s = s.replace("\\$", "").replace("$", "").replace("\\%", "%")
    s = s.replace("{,}", ",")
    s = re.sub(r",\s*\\!\s*(?=\d{3})", ",", s)  # 10,\!080 thousands separator
    s = _DROP_RE.sub(" ", s)
    s = _FRAC_RE.sub(r"\\frac", s)
    s = s.replace(r"\dbinom", r"\binom").replace(r"\tbinom", r"\binom")
    s = _DEGREE_RE.sub(" ", s)
    s = re.sub(r"\\(?:neq)(?![a-zA-Z])", r"\\ne ", s)
    s = re.sub(r"\\(?:leq|leqslant)(?![a-zA-Z])", r"\\le ", s)
    s = re.sub(r"\\(?:geq|geqslant)(?![a-zA-Z])", r"\\ge ", s)
    s = s.strip()
    s = _drop_approx(s)
    s = _PERCENT_WORD_RE.sub("%", s)
    s = strip_units(s)
    s = s.strip().rstrip(".,;:?").strip()
    s = re.sub(r"\s+", " ", s)
    if _THOUSANDS_RE.match(s.replace(" ", "")) or re.fullmatch(r"[-+]?\d{1,3}(?: \d{3})+(?:\.\d+)?", s):
        s = s.replace(",", "").replace(" ", "")
    return s


def _drop_approx(s: str) -> str:
    """``3\\sqrt2 \\approx 4.24`` keeps the exact part; ``x \\approx 11`` keeps ``11``, which must
    then match exactly (an approximation is never compared with a tolerance)."""
    m = _APPROX_LABEL_RE.match(s)
    if m:
        s = m.group("value")
    return re.split(r"\\approx(?![a-zA-Z])", s)[0].strip()


def strip_units(s: str) -> str:
    """Drop ``\\text{...}`` unit words after math content; keep a purely textual answer."""
    bare = _TEXT_RE.sub("", s).strip()
    if _TEXT_RE.search(s) and bare and re.search(r"[\d\\a-zA-Z]", bare):
        # math plus words: the words are units or filler ("5 \text{ cm}^2")
        s = _TEXT_RE.sub(lambda m: _keep_text_connector(m.group(1)), s)
        s = re.sub(r"\s*\^\s*\{?\s*[23]\s*\}?\s*$", "", s) if re.search(r"\s\^\s*\{?[23]\}?\s*$", s) else s
    elif _TEXT_RE.search(s):
        s = _TEXT_RE.sub(lambda m: m.group(1), s)
    s = s.strip()
    # "5 cm", "12 inches^2", "30 degrees" -> drop the trailing unit words
    m = _UNIT_TAIL_RE.search(s)
    if m and m.start() > 0:
        s = s[: m.start()]
    return s.strip()


def _keep_text_connector(word: str) -> str:
    """``\\text{ and }`` between answers separates them; unit words vanish."""
    return "," if word.strip().lower() in ("and", "or", ",") else " "


def choice_letter(s: str) -> str | None:
    """``(B)``, ``B``, ``\\text{(B)}`` -> ``B``; None if it is not a bare choice."""
    t = _TEXT_RE.sub(lambda m: m.group(1), s).strip().strip("$").strip()
    t = t.rstrip(".").strip()
    m = _CHOICE_RE.match(t)
    return m.group(1).upper() if m else None
