"""Find the final answer in a model response (boxed, "Final Answer:", bold, inline math)."""
from __future__ import annotations

import re
from functools import lru_cache

from evaluators.answer import final_answer

_BOX_RE = re.compile(r"\\(?:boxed|fbox|framebox)(?![a-zA-Z])")
# bounded gaps: unbounded \s* next to optional parts backtracks badly on long blank runs
_PHRASE_RE = re.compile(
    r"(?:final[ \t]{1,3}answer[ \t*]{0,4}(?:is|:)?|the[ \t]{1,3}(?:correct[ \t]{1,3})?answer[ \t]{1,3}is"
    r"|answer[ \t*]{0,4}:)[ \t*]{0,4}:?[ \t*]{0,4}(?=\S)",
    re.IGNORECASE)
# a sentence end: ". " before a capital letter ("... is 19. I hope it is correct.")
_SENTENCE_END_RE = re.compile(r"\.[ \t]+(?=[A-Z])")
_BOLD_RE = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_MATH_RE = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
SHORT_RESPONSE = 40
# three English words in a row: a reference written as prose (a worked solution)
_PROSE_WORDS_RE = re.compile(r"(?<![A-Za-z\\])(?:[A-Za-z]{3,20}[ \t,.]{1,3}){2}[A-Za-z]{3,20}(?![A-Za-z])")
# whitespace before an English word of 3+ letters: where a plain-prose answer ends
_PROSE_TAIL_RE = re.compile(r"[ \t]+(?=(?!(?:and|or)\b)[a-zA-Z]{3,}\b)")


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """Content of the ``{...}`` group opening at ``start`` (escaped braces do not count)."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
        i += 1
    return None


def boxed_all(text: str) -> list[str]:
    """Contents of every ``\\boxed{}`` / ``\\fbox{}`` in order (nested braces allowed)."""
    out = []
    pos = 0
    while True:
        m = _BOX_RE.search(text, pos)
        if not m:
            return out
        i = m.end()
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == "{":
            got = _braced(text, i)
            if got is None:  # unclosed box: nothing usable after it
                return out
            out.append(got[0].strip())
            pos = got[1]
        else:  # \boxed 5
            m2 = re.match(r"[^\s$]+", text[i:])
            if m2 and i > m.end():
                out.append(m2.group(0))
                pos = i + m2.end()
            else:
                pos = i


def _inner_math(s: str) -> str:
    """The last math segment of a phrase, or the phrase itself."""
    boxed = boxed_all(s)
    if boxed:
        return boxed[-1]
    segs = [next(g for g in m.groups() if g is not None) for m in _MATH_RE.finditer(s)]
    if segs:
        return segs[-1].strip()
    return s.replace("**", " ").strip().rstrip(".,;").strip()


def _first_sentence(line: str) -> str:
    """``12. I hope it is correct.`` -> ``12.``; a period inside ``$...$`` or ``\\(...\\)`` is kept."""
    for m in _SENTENCE_END_RE.finditer(line):
        before = line[:m.start()]
        dollars = len(re.findall(r"(?<!\\)\$", before))
        if dollars % 2 == 0 and before.count("\\(") == before.count("\\)"):
            return before + "."
    return line


def candidates(response: str) -> list[tuple[str, str]]:
    """Answer candidates as ``(text, how)``, best first; empty when there is no answer.

    Several boxed answers also yield a combined candidate ("1331, 1728"), used only when the
    reference itself has several parts.
    """
    text = final_answer(response)
    if text is None:
        return []
    text = text.strip()
    if not text:
        return []
    boxed = boxed_all(text)
    if boxed:
        out = [(boxed[-1], "boxed")]
        distinct = list(dict.fromkeys(b for b in boxed if b))
        if len(distinct) > 1:
            out.append((", ".join(distinct), "all boxed"))
        return out
    phrases = [m.end() for m in _PHRASE_RE.finditer(text)]
    if phrases:
        line = _first_sentence(text[phrases[-1]:].split("\n")[0].strip())
        ans = _inner_math(line)
        if ans and "$" not in line and "\\(" not in line:
            # plain prose: "5 because ..." -> "5" (the answer ends where English words start)
            head = _PROSE_TAIL_RE.split(ans, maxsplit=1)[0].strip().rstrip(".,;")
            if head and not re.search(r"\\[a-zA-Z]+$", head):  # not "\sin x"-like
                ans = head
        if ans:
            return [(ans, "answer phrase")]
    bolds = _BOLD_RE.findall(text)
    if bolds:
        return [(_inner_math(bolds[-1]), "bold")]
    last_par = [p for p in re.split(r"\n[ \t]*\n", text) if p.strip()][-1][-2000:]
    segs = [next(g for g in m.groups() if g is not None) for m in _MATH_RE.finditer(last_par)]
    if segs:
        return [(segs[-1].strip(), "last math")]
    if len(text) <= SHORT_RESPONSE:
        return [(text, "whole response")]
    return []


@lru_cache(maxsize=8192)
def reference_answer(reference: str) -> tuple[str, str]:
    """``(answer, how)`` of a reference: a bare answer as it is, or a worked solution's own final
    answer, found as in a response (its boxes all together, else an answer phrase, ...)."""
    text = reference.strip()
    worked = _BOX_RE.search(text) or _PHRASE_RE.search(text) or (
        len(text) > SHORT_RESPONSE and _PROSE_WORDS_RE.search(text))
    if not worked:
        return reference, "bare"
    found = candidates(text)
    if not found:
        return reference, "bare"
    return found[-1]  # several boxes in a solution are all part of its answer
