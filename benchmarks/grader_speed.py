"""Math grader speed and agreement vs HuggingFace Math-Verify 0.9.0, measured in one run.

Default mode: builds >= 2,000 (response, reference) pairs from the MATH-500 and AIME answers in
the forms models write (boxed, "The answer is", \\dfrac, decimals, wrong answers ...), grades
them with ours (batch, all cores) and with math-verify (its normal single-process use), and
prints grades/s, the ratio, agreement, and our worst latency on an adversarial set.

``--corpus``: grades our labelled corpora (tests/data/math_cases.jsonl, gpqa_cases.jsonl) with
both and prints, per group, the cases and how many each grader gets right, the false positives
on the whole corpus, and grades/s of both on the same math corpus. Math-Verify grades GPQA with
its letter extraction (``StringExtractionConfig``).

    python benchmarks/grader_speed.py [--limit N] [--timeout 5] [--corpus]
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / ".." / "shared" / "data" / "benchmarks"

ADVERSARIAL = [
    r"\boxed{2^{2^{2^{2^{100}}}}}", r"\boxed{10^{10^{10}}}", r"\boxed{9^{9^{9^{9}}}}",
    r"\boxed{(10^{8})!}", r"\boxed{100000!}", r"\boxed{" + "x^{" * 60 + "2" + "}" * 60 + "}",
    r"\boxed{" + "\\frac{1}{" * 300 + "2" + "}" * 300 + "}",
    r"\boxed{" + "{" * 5000 + "}", r"\boxed{" + "\\sqrt{" * 500 + "2" + "}" * 500 + "}",
    r"\boxed{" + "+".join(f"x^{{{i}}}" for i in range(700)) + "}",
    r"\boxed{(x+1)^{5000}-(x-1)^{5000}}", r"\boxed{\sin(10^{100}) + e^{e^{e^{e^{10}}}}}",
    "garbage " * 1300, "\\boxed{" + "\\left(" * 2000 + "}", r"\boxed{" + "1" * 5000 + "}",
    r"\boxed{\frac{(x+1)^{200}}{(x+1)^{199}} - x}", r"\boxed{x^{x^{x^{x^{x^{100}}}}}}",
]


def _decimal(ans: str) -> str | None:
    m = re.fullmatch(r"\\frac\{(\d+)\}\{(\d+)\}", ans)
    if not m:
        return None
    f = Fraction(int(m.group(1)), int(m.group(2)))
    d = f.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    return None if d != 1 else str(float(f))


def build_pairs() -> list[tuple[str, str]]:
    golds = [json.loads(l)["answer"] for l in open(DATA / "math500.jsonl")]
    for name in ("aime_2024.jsonl", "aime_2025.jsonl"):
        golds += [json.loads(l)["answer"] for l in open(DATA / name)]
    pairs = []
    for i, g in enumerate(golds):
        other = golds[(i * 7 + 3) % len(golds)]
        pairs.append((f"Working through the cases gives the result.\n\n\\boxed{{{g}}}", g))
        pairs.append((f"<think>Let me try small cases first.</think>\nThe answer is ${g}$.", g))
        alt = g.replace("\\frac", "\\dfrac")
        if "\\left" not in alt and "\\text" not in alt:
            alt = alt.replace("(", "\\left(").replace(")", "\\right)")
        pairs.append((f"**Final Answer**\n$$\\boxed{{{alt}}}$$", g))
        pairs.append((f"So we obtain $\\boxed{{{other}}}$.", g))
        dec = _decimal(g)
        if dec:
            pairs.append((f"Final Answer: The final answer is ${dec}$. I hope it is correct.", g))
    return pairs


def run_ours(pairs, timeout_s):
    from evaluators.math import grade_batch
    from evaluators.math.sympy_pool import warm

    warm()
    t = time.perf_counter()
    verdicts = grade_batch(pairs, timeout_s=timeout_s, progress=True)
    return [v.correct for v in verdicts], time.perf_counter() - t


def run_ours_sequential(pairs, timeout_s):
    """One thread, parse caches emptied first: the per-call cost a single caller sees."""
    from evaluators.math import grade
    from evaluators.math.extract import reference_answer
    from evaluators.math.parse import parse_answer

    parse_answer.cache_clear()
    reference_answer.cache_clear()
    t = time.perf_counter()
    out = [grade(r, g, timeout_s=timeout_s).correct for r, g in tqdm(pairs, desc="ours, 1 thread", unit="item")]
    return out, time.perf_counter() - t


def run_math_verify(pairs):
    from math_verify import parse, verify

    out = []
    t = time.perf_counter()
    for response, ref in tqdm(pairs, desc="math-verify", unit="item"):
        try:
            gold = parse(_mv_reference(ref))
            pred = parse(response)
            out.append(bool(verify(gold, pred)))
        except Exception:
            out.append(False)
    return out, time.perf_counter() - t


def _mv_reference(ref: str) -> str:
    """A bare answer in math mode for math-verify; a worked solution as it is (it extracts)."""
    from evaluators.math.extract import reference_answer

    return ref if reference_answer(ref)[1] != "bare" else "$" + ref + "$"


# -- --corpus: the labelled corpora, per group ----------------------------------------------------

CORPORA = ROOT / "tests" / "data"
EARLIER = "(earlier cases, no group)"


def _load(name: str) -> list[dict]:
    return [json.loads(line) for line in (CORPORA / name).read_text().splitlines()]


def _mv_gpqa(cases: list[dict]) -> list[bool]:
    from math_verify import StringExtractionConfig, parse, verify

    cfg = [StringExtractionConfig(strings=("A", "B", "C", "D"))]
    out = []
    for c in cases:
        try:
            out.append(bool(verify(parse(c["reference"], cfg), parse(c["response"], cfg))))
        except Exception:
            out.append(False)
    return out


def _group_table(title: str, cases: list[dict], ours: list[bool], mv: list[bool]) -> None:
    rows: dict[str, list[int]] = {}
    for c, o, m in zip(cases, ours, mv):
        r = rows.setdefault(c.get("group", EARLIER), [0, 0, 0, 0, 0])
        r[0] += 1
        r[1] += o == c["expected"]
        r[2] += m == c["expected"]
        r[3] += o and not c["expected"]
        r[4] += m and not c["expected"]
    print(f"\n{title}")
    print(f"  {'group':34} {'cases':>5} {'ours':>5} {'MV':>5} {'FP ours':>7} {'FP MV':>5}")
    for name, (n, o, m, fo, fm) in sorted(rows.items(), key=lambda kv: kv[0] == EARLIER):
        print(f"  {name:34} {n:5d} {o:5d} {m:5d} {fo:7d} {fm:5d}")
    fo = sum(o and not c["expected"] for c, o in zip(cases, ours))
    fm = sum(m and not c["expected"] for c, m in zip(cases, mv))
    print(f"  false positives on all {len(cases)} cases: ours {fo}, math-verify {fm}")


def corpus_mode(timeout_s: float, limit: int) -> None:
    import math_verify
    from importlib.metadata import version

    from evaluators.gpqa import grade as grade_gpqa

    print(f"math-verify {version('math-verify')} ({math_verify.__name__})")
    cases = _load("math_cases.jsonl")
    cases = cases[:limit] if limit else cases
    pairs = [(c["response"], c["reference"]) for c in cases]
    ours, t_ours = run_ours(pairs, timeout_s)
    mv, t_mv = run_math_verify(pairs)
    _group_table("math corpus", cases, ours, mv)
    print(f"  grades/s on these {len(pairs)} cases: ours {len(pairs) / t_ours:.1f} (batch, all cores), "
          f"math-verify {len(pairs) / t_mv:.1f} (one process); ratio {t_mv / t_ours:.2f}x")
    gcases = _load("gpqa_cases.jsonl")
    gours = [grade_gpqa(c["response"], c["reference"]).correct for c in gcases]
    _group_table("GPQA corpus", gcases, gours, _mv_gpqa(gcases))


def adversarial_latency(timeout_s):
    from evaluators.math import grade

    lat = []
    for resp in tqdm(ADVERSARIAL, desc="adversarial", unit="item"):
        t = time.perf_counter()
        v = grade(resp, "4", timeout_s=timeout_s)
        lat.append((time.perf_counter() - t, v.reason, v.correct))
    return lat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, help="grade only the first N pairs")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--no-math-verify", action="store_true")
    ap.add_argument("--corpus", action="store_true", help="per-group figures on the labelled corpora")
    args = ap.parse_args()
    if args.corpus:
        corpus_mode(args.timeout, args.limit)
        return
    pairs = build_pairs()
    if args.limit:
        pairs = pairs[: args.limit]
    print(f"pairs: {len(pairs)}")
    ours, t_ours = run_ours(pairs, args.timeout)
    print(f"ours:        {len(pairs) / t_ours:9.1f} grades/s  ({t_ours:.2f} s, {sum(ours)} correct)")
    seq, t_seq = run_ours_sequential(pairs, args.timeout)
    print(f"ours, 1 thread, cold parse cache: {len(pairs) / t_seq:9.1f} grades/s  ({t_seq:.2f} s)")
    assert seq == ours, "batch and sequential grading disagree"
    if not args.no_math_verify:
        mv, t_mv = run_math_verify(pairs)
        agree = sum(a == b for a, b in zip(ours, mv))
        print(f"math-verify: {len(pairs) / t_mv:9.1f} grades/s  ({t_mv:.2f} s, {sum(mv)} correct)")
        print(f"speed ratio (ours / math-verify): {t_mv / t_ours:.2f}x batch, "
              f"{t_mv / t_seq:.2f}x one thread with a cold cache")
        print(f"agreement: {agree}/{len(pairs)} = {agree / len(pairs):.1%}")
        only_ours = sum(a and not b for a, b in zip(ours, mv))
        only_mv = sum(b and not a for a, b in zip(ours, mv))
        print(f"accepted only by ours: {only_ours}; only by math-verify: {only_mv}")
    lat = adversarial_latency(args.timeout)
    worst = max(lat, key=lambda x: x[0])
    print(f"adversarial: {len(lat)} inputs, worst latency {worst[0]:.3f} s ({worst[1]}), "
          f"median {statistics.median(x[0] for x in lat):.3f} s, any accepted: {any(x[2] for x in lat)}")


if __name__ == "__main__":
    main()
