"""Every synthetic task kind is graded by its own real verifier (code: the real sandbox).

The teacher trace of each kind must earn reward 1 and a wrong answer 0, or SFT would distil
wrong targets and RL would reward the wrong thing.
"""
from __future__ import annotations

import random

import pytest

from evaluators import get_verifier
from trainer.data import KINDS, VERIFIERS, make_tasks, response_tokens, split
from trainer.science_tasks import make_science


def wrong_answer(task) -> str:
    """The teacher trace with its final answer changed (still well-formed)."""
    if task.verifier == "math":
        return task.trace.replace(f"{{{task.answer}}}", f"{{{int(task.answer) + 1}}}")
    if task.verifier == "gpqa":
        other = "ABCD"[("ABCD".index(task.answer) + 1) % 4]
        return task.trace.rsplit("Answer: ", 1)[0] + f"Answer: {other}"
    return task.trace.replace("print(", "print(1 + ")  # every output off by one


@pytest.mark.parametrize("kind", KINDS)
def test_teacher_trace_is_correct_and_a_wrong_answer_is_not(kind):
    tasks = make_tasks(8, seed=5, kinds=(kind,), max_operand=9)
    assert {t.verifier for t in tasks} == {VERIFIERS[kind]}
    v = get_verifier(VERIFIERS[kind])
    right = v.grade_batch([(t.trace, t.reference) for t in tasks])
    wrong = v.grade_batch([(wrong_answer(t), t.reference) for t in tasks])
    assert all(r.correct for r in right), [r.reason for r in right if not r.correct]
    assert not any(w.correct for w in wrong), [w.reason for w in wrong if w.correct]


def test_code_tasks_have_stdin_tests_that_echoing_x_cannot_pass():
    tasks = make_tasks(24, seed=1, kinds=("code",), max_operand=9)
    for t in tasks:
        tests = t.reference["tests"]
        assert len(tests) == 3 and {c["testtype"] for c in tests} == {"stdin"}
        assert t.trace.startswith("<think>\n") and "\n</think>\n```python\n" in t.trace
        assert len({c["input"] for c in tests}) == 3
    echo = "```python\nprint(int(input()))\n```"  # min/max/% tests must catch the identity
    verdicts = get_verifier("code").grade_batch([(echo, t.reference) for t in tasks])
    assert not any(v.correct for v in verdicts)


def test_science_questions_list_four_choices_and_fixed_order():
    tasks = make_tasks(40, seed=2, kinds=("science",), max_operand=9)
    for t in tasks:
        lines = t.question.splitlines()
        assert [line[:3] for line in lines[1:5]] == ["A) ", "B) ", "C) ", "D) "]
        assert len(set(lines[1:5])) == 4 and t.reference in "ABCD"
        assert t.trace.endswith(f"\n</think>\nAnswer: {t.answer}")
    # the same problem always shows the same choices: dedup by question cannot leak a problem
    # into both suites under another shuffle
    stems = {}
    for seed in range(30):
        q, letter, _ = make_science(random.Random(seed), 9)
        assert stems.setdefault(q.splitlines()[0], (q, letter)) == (q, letter)


def test_split_stays_disjoint_with_new_kinds_and_limits_fit_traces():
    train, val = split(300, 48, seed=0, kinds=("code", "science"), max_operand=9)
    assert not {t.question for t in train} & {t.question for t in val}
    assert {t.kind for t in train} == {"code", "science"}
    assert response_tokens(("code", "science")) == 64 and response_tokens(("add", "chain")) == 40


def test_heldout_suite_file_is_a_ring_eval_suite_of_unseen_problems(tmp_path):
    """`ring train eval` writes the held-out problems as a JSONL math suite for the runner."""
    from evaluators.runner.datasets import load_suite
    from trainer.data import split
    from ring_serve.served_eval import model_name, write_suite
    from trainer.config import HeldoutConfig

    path = tmp_path / "heldout.jsonl"
    n = write_suite(path, HeldoutConfig(seed=0, kinds=("add", "chain"), max_operand=9, n_val=600))
    ds = load_suite(f"jsonl:{path}", overrides={"math": "{problem}"})
    assert n == len(ds.problems) == 378 and ds.verifier == "math"  # the README's 378 unseen problems
    train, _ = split(360, 48, 0, ("add", "chain"), 9)
    assert not {p.prompt for p in ds.problems} & {t.question for t in train}
    assert all(p.reference.lstrip("-").isdigit() for p in ds.problems)
    with pytest.raises(ValueError, match="math kinds only"):
        write_suite(tmp_path / "x.jsonl", HeldoutConfig(kinds=("science",), max_operand=9, n_val=8))
    assert model_name(tmp_path / "run" / "step_000100") == "run/step_000100"
