"""Reward-service parts that need no server: data_source mapping, options, queue, adapters."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from evaluators.compat.openrlhf import reward_func as openrlhf_reward, strip_prompt
from evaluators.compat.trl import reward_func
from evaluators.compat.verl import compute_score, compute_score_batch
from evaluators.registry import get_verifier, verifier_for_source
from evaluators.verifier import OptionError
from ring_serve.reward.dispatch import Job, grade_job, grade_jobs
from ring_serve.reward.queue import Admission, GradingRunner, Timeout


def clean_options(verifier: str, options: dict) -> dict:
    """What the reward service does with a client's options."""
    return get_verifier(verifier).check_options(options, trusted_ok=False)


@pytest.mark.parametrize("source, name", [
    ("aime_2024", "math"), ("AIME25", "math"), ("lighteval/MATH-500", "math"), ("math500", "math"),
    ("openai/gsm8k", "math"), ("gpqa_diamond", "gpqa"), ("Idavidrein/GPQA", "gpqa"),
    ("livecodebench/code_generation_lite", "code"), ("deepmind/code_contests", "code"),
    ("codeparrot/apps", "code"), ("newfacade/LeetCodeDataset", "code"), ("taco", "code"),
    ("code", "code"), ("imagenet", None), ("", None)])
def test_data_source_mapping(source, name):
    assert verifier_for_source(source) == name


def test_options_are_whitelisted_and_checked():
    assert clean_options("math", {"timeout_s": 2}) == {"timeout_s": 2.0}
    assert clean_options("code", {"memory_mb": 256.0, "strict_lcb": True}) == {"memory_mb": 256, "strict_lcb": True}
    for verifier, opts, word in [("math", {"in_process": True}, "unknown"), ("code", {"backend": "process"}, "unknown"),
                                 ("math", {"timeout_s": float("nan")}, "finite"), ("math", {"timeout_s": 0}, "in ["),
                                 ("code", {"memory_mb": 1.5}, "integer"), ("code", {"strict_lcb": 1}, "true or false"),
                                 ("math", {"timeout_s": "5"}, "number"), ("gpqa", {"x": 1}, "none")]:
        with pytest.raises(OptionError, match=word.replace("[", r"\[")):
            clean_options(verifier, opts)


def test_strip_prompt():
    assert strip_prompt("Q: 1+1?\nA: 2", "Q: 1+1?\n") == "A: 2"
    assert strip_prompt("<s> Q? 2", "Q?") == " 2"  # detokenised BOS in front
    assert strip_prompt("unrelated", "Q?") == "unrelated"
    assert strip_prompt("Q? 2", None) == "Q? 2"


def test_admission_refuses_past_its_size():
    a = Admission(3)
    assert a.try_acquire(2) and not a.try_acquire(2) and a.try_acquire(1) and a.depth == 3
    a.release(3)
    assert a.depth == 0 and a.try_acquire(3)
    with pytest.raises(ValueError):
        Admission(0)


def test_hung_call_times_out_and_frees_its_slot():
    """One worker slot; a call that never returns must not block the next one past its deadline."""
    runner = GradingRunner(workers=1, spare_threads=2)
    release = threading.Event()

    async def main():
        t0 = time.monotonic()
        with pytest.raises(Timeout):
            await runner.run(release.wait, deadline=time.monotonic() + 0.3)
        assert time.monotonic() - t0 < 5
        assert runner.abandoned == 1
        # the slot is free again: a quick call completes although the hung thread is still inside
        assert await runner.run(lambda x: x * 2, 21, deadline=time.monotonic() + 10) == 42
        release.set()
        for _ in range(100):
            if runner.abandoned == 0:
                break
            await asyncio.sleep(0.02)
        assert runner.abandoned == 0

    asyncio.run(main())
    runner.close()


def test_chunked_grading_keeps_order_and_matches_one_by_one():
    """Math/GPQA items of a request are graded in chunks on the threads, code items one per call:
    the results must be exactly the per-item grades, in request order, bad items isolated."""
    code_ref = {"tests": [{"input": "2\n", "output": "4\n", "testtype": "stdin"}]}
    jobs = []
    for i in range(100):  # several chunks at 2 workers
        jobs.append(Job("math", f"\\boxed{{{i}}}", str(i if i % 3 else i + 1), {}, f"m{i}"))
        if i % 10 == 0:
            jobs.append(Job("gpqa", "Answer: C", "C" if i % 20 else "not a letter", {}, f"g{i}"))
            jobs.append(Job("code", "```python\nprint(int(input())*2)\n```", code_ref, {}, f"c{i}"))
    runner = GradingRunner(workers=2)
    deadline = time.monotonic() + 60
    results = asyncio.run(grade_jobs(runner, jobs, deadline))
    runner.close()
    assert [r.id for r in results] == [j.id for j in jobs]
    expected = [grade_job(j, deadline) for j in jobs]
    assert [(r.correct, r.reason, r.error) for r in results] == [(e.correct, e.reason, e.error) for e in expected]
    assert sum(r.correct for r in results) == 66 + 5 + 10 and sum(r.error is not None for r in results) == 5


def test_items_past_the_deadline_time_out_without_grading():
    runner = GradingRunner(workers=2)
    jobs = [Job("math", "\\boxed{1}", "1", {}), Job("code", "print(1)", {"tests": []}, {})]
    results = asyncio.run(grade_jobs(runner, jobs, time.monotonic() - 1))
    runner.close()
    assert [r.reason for r in results] == ["timeout", "timeout"] and not any(r.correct for r in results)


def test_in_process_adapters_agree_with_each_other():
    sols = ["so \\boxed{\\frac{1}{2}}", "so \\boxed{3}", "Answer: B", "```python\nprint(int(input())*2)\n```"]
    truths = ["0.5", "4", "B", {"tests": [{"input": "2\n", "output": "4\n", "testtype": "stdin"}]}]
    sources = ["math500", "aime_2025", "gpqa_diamond", "livecodebench"]
    assert compute_score_batch(sources, sols, truths) == [1.0, 0.0, 1.0, 1.0]
    assert [compute_score(d, s, g) for d, s, g in zip(sources, sols, truths)] == [1.0, 0.0, 1.0, 1.0]
    # an unusable reference costs that sample only
    mixed = compute_score_batch(["gpqa", "gpqa"], ["Answer: A", "Answer: A"], ["A", "not a letter"], return_dict=True)
    assert [m["score"] for m in mixed] == [1.0, 0.0] and "letters" in mixed[1]["reason"]
    trl = reward_func(reference_key="truth")
    assert trl(prompts=[""] * 4, completions=sols, truth=truths, data_source=sources) == [1.0, 0.0, 1.0, 1.0]
    with pytest.raises(KeyError, match="solution"):  # neither default column is there
        reward_func("math")(prompts=["p"], completions=["x"], truth=["1"])


def test_trl_reference_column_is_answer_then_solution_unless_named():
    f = reward_func("math")
    assert f(prompts=["p", "q"], completions=["\\boxed{3}", "\\boxed{5}"], solution=["3", "4"]) == [1.0, 0.0]
    # both columns: the bare answer, not the worked solution, is the reference
    both = {"answer": ["7"], "solution": ["so it is 8"]}
    assert f(prompts=["p"], completions=["\\boxed{7}"], **both) == [1.0]
    assert reward_func("math", reference_key="solution")(prompts=["p"], completions=["\\boxed{7}"], **both) == [0.0]
    with pytest.raises(KeyError, match="'truth'"):  # an explicit column that is absent is named
        reward_func("math", reference_key="truth")(prompts=["p"], completions=["x"], answer=["1"])
    out = openrlhf_reward(["Q: 6*7? \\boxed{42}", "Q: 1? \\boxed{2}"], ["Q: 6*7?", "Q: 1?"], ["42", "1"])
    assert [float(x) for x in out["rewards"]] == [1.0, 0.0]
    with pytest.raises(ValueError, match="same length"):
        compute_score_batch(["math"], ["a", "b"], ["1"])
