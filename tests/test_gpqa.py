"""GPQA letter matcher, simple-evals style prompt, seeded shuffling and the CSV loader."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from evaluators import get_verifier
from evaluators.gpqa import (LETTERS, REQUIRED_COLUMNS, build_prompt, extract_choice, grade,
                             grade_batch, load_csv, permutation_for, prompts_for)

CASES = [json.loads(l) for l in (Path(__file__).parent / "data" / "gpqa_cases.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c['rule'].replace(' ', '_')}" for i, c in enumerate(CASES)])
def test_gpqa_case(case):
    v = grade(case["response"], case["reference"])
    assert v.correct is case["expected"], v.reason
    assert v.score == (1.0 if case["expected"] else 0.0)


def test_cases_cover_both_outcomes():
    assert sum(c["expected"] for c in CASES) >= 15
    assert sum(not c["expected"] for c in CASES) >= 10


def test_two_letters_reason():
    v = grade("Answer: A or B", "A")
    assert not v.correct and v.extracted is None and "two different" in v.reason


@pytest.mark.parametrize("response", ["It is either $\\boxed{B}$ or $\\boxed{D}$.", "**A** or **B**",
                                      "The answer is either A or C.", "Answer: A, B or C"])
def test_hedges_are_ambiguous(response):
    v = grade(response, "B")
    assert not v.correct and v.extracted is None and v.reason.startswith("ambiguous")


def test_negation_picks_the_letter_after_it():
    assert extract_choice("The answer is not C; it is D.") == ("D", "answer statement")
    letter, how = extract_choice("\\boxed{B}\nOn reflection the answer is not B.")
    assert letter is None and how == "negated answer (not B)"


GROUPS = ("markdown heading", "answer statements", "negation", "hedges")


@pytest.mark.parametrize("group", GROUPS)
def test_each_group_has_both_outcomes(group):
    cases = [c for c in CASES if c.get("group") == group]
    assert sum(c["expected"] for c in cases) >= 3 and sum(not c["expected"] for c in cases) >= 3


def test_extracted_letter_reported():
    v = grade("long text\nAnswer: c", "C")
    assert v.extracted == "C" and v.correct
    assert extract_choice("nothing") == (None, "no answer found")


@pytest.mark.parametrize("bad", ["E", "", "AB", None, 1])
def test_bad_reference_is_a_clear_error(bad):
    with pytest.raises((ValueError, TypeError)):
        grade("Answer: A", bad)


def test_bad_response_type():
    with pytest.raises(TypeError):
        grade(None, "A")


def test_prompt_places_correct_answer_by_seeded_permutation():
    prompt, letter, perm = build_prompt("What is 2+2?", "4", ["3", "5", "22"], seed=7)
    assert sorted(perm) == [0, 1, 2, 3]
    assert letter == LETTERS[perm.index(0)]
    assert f"{letter}) 4" in prompt
    assert "Answer: $LETTER" in prompt and prompt.rstrip().endswith(tuple(["3", "4", "5", "22"]))
    # the permutation reproduces the shown order (audit)
    pool = ["4", "3", "5", "22"]
    for i, src in enumerate(perm):
        assert f"{LETTERS[i]}) {pool[src]}" in prompt
    assert build_prompt("What is 2+2?", "4", ["3", "5", "22"], seed=7) == (prompt, letter, perm)


def test_seeds_spread_the_correct_letter():
    letters = {build_prompt("q", "right", ["w1", "w2", "w3"], seed=s)[1] for s in range(40)}
    assert letters == set(LETTERS)
    assert permutation_for(3) == permutation_for(3)


def test_build_prompt_validates():
    with pytest.raises(ValueError):
        build_prompt("q", "a", ["b", "c"], seed=0)
    with pytest.raises(ValueError):
        build_prompt("", "a", ["b", "c", "d"], seed=0)


def _write_csv(path: Path, rows: list[dict], columns=None) -> None:
    columns = columns or ["Record ID", *REQUIRED_COLUMNS, "High-level domain"]
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in columns})


def test_load_csv_and_prompts(tmp_path):
    rows = [{"Record ID": f"rec{i}", "Question": f"Which gas is number {i}?", "Correct Answer": f"right{i}",
             "Incorrect Answer 1": f"w{i}a", "Incorrect Answer 2": f"w{i}b",
             "Incorrect Answer 3": f"w{i}c", "High-level domain": "Chemistry"} for i in range(5)]
    path = tmp_path / "gpqa_fake.csv"
    _write_csv(path, rows)
    items = load_csv(path)
    assert [it.record_id for it in items] == [f"rec{i}" for i in range(5)]
    assert items[2].correct == "right2" and items[2].incorrect == ("w2a", "w2b", "w2c")
    assert items[0].extra["High-level domain"] == "Chemistry"
    out = prompts_for(items, seed=1)
    for it, row in zip(items, out):
        assert f"{row['answer']}) {it.correct}" in row["prompt"]
        assert row["permutation"] == permutation_for(f"1:{it.record_id}")
    # a model answering with the recorded letter is graded correct
    assert grade(f"Answer: {out[0]['answer']}", out[0]["answer"]).correct
    # filtering items does not change the others' shuffles
    assert prompts_for(items[2:], seed=1) == out[2:]


def test_load_csv_missing_columns(tmp_path):
    path = tmp_path / "bad.csv"
    _write_csv(path, [{"Question": "q"}], columns=["Question", "Correct Answer"])
    with pytest.raises(ValueError, match="missing GPQA columns"):
        load_csv(path)


def test_registry_and_batch():
    v = get_verifier("gpqa")
    assert v.name == "gpqa"
    out = v.grade_batch([("Answer: A", "A"), ("Answer: B", "A")])
    assert [x.correct for x in out] == [True, False]
    assert [x.correct for x in grade_batch([("\\boxed{C}", "C")])] == [True]
