"""Verifiers declare themselves once: options, deadline hook, data sources, suite; one front-end."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field

import evaluators.code
import evaluators.gpqa
import evaluators.math
from evaluators.grading import GradeResult, grade_items, grade_one
from evaluators.registry import available, get_verifier, register, suite_for, unregister, verifier_for_source
from evaluators.verdict import Verdict
from evaluators.verifier import OptionError, Verifier
from ring_core.jsonsafe import jsonable
from ring_serve.reward.app import RewardSettings, create_app

CODE_REF = {"tests": [{"input": "2\n", "output": "4\n", "testtype": "stdin"}]}


# -- options --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, response, reference", [
    ("math", "\\boxed{1}", "1"), ("gpqa", "Answer: A", "A"), ("code", "print(1)", CODE_REF)])
def test_misspelled_option_raises_in_process(name, response, reference):
    verifier = get_verifier(name)
    with pytest.raises(OptionError, match="unknown option 'timout_s'"):
        verifier.grade(response, reference, timout_s=1)
    with pytest.raises(OptionError, match="unknown"):
        verifier.grade_batch([(response, reference)], timout_s=1)
    module = {"math": evaluators.math, "gpqa": evaluators.gpqa, "code": evaluators.code}[name]
    with pytest.raises(OptionError, match="unknown"):
        module.grade(response, reference, timout_s=1)
    with pytest.raises(OptionError, match="unknown"):
        module.grade_batch([(response, reference)], timout_s=1)
    # grade_items is the batch front-end the reward service mirrors: one bad item costs that item
    bad, good = grade_items([{"verifier": name, "response": response, "reference": reference,
                              "options": {"timout_s": 1}},
                             {"verifier": name, "response": response, "reference": reference}])
    assert bad.score == 0.0 and bad.reason == "invalid item" and "unknown option 'timout_s'" in bad.error
    assert good.error is None


def test_out_of_range_option_raises_in_process():
    with pytest.raises(OptionError, match=r"in \[0.01, 60.0\]"):
        evaluators.math.grade("\\boxed{1}", "1", timeout_s=1e9)
    with pytest.raises(OptionError, match="integer"):
        evaluators.code.grade("print(1)", CODE_REF, memory_mb=1.5)


def test_trusted_switches_only_in_process():
    math_v, code_v = get_verifier("math"), get_verifier("code")
    assert math_v.grade("\\boxed{2}", "2", in_process=True).correct
    assert math_v.check_options({"in_process": True}, trusted_ok=True) == {"in_process": True}
    for verifier, opts in ((math_v, {"in_process": True}), (code_v, {"backend": "process"})):
        with pytest.raises(OptionError, match="unknown"):
            verifier.check_options(opts, trusted_ok=False)
    with pytest.raises(OptionError, match="unknown"):  # progress is a batch switch only
        math_v.grade("\\boxed{2}", "2", progress=True)


def test_describe_lists_type_help_bounds_and_default():
    assert get_verifier("math").describe()["timeout_s"] == {
        "type": "float", "help": "hard limit for the sympy comparison (seconds)", "min": 0.01, "max": 60.0,
        "default": evaluators.math.DEFAULT_TIMEOUT_S}
    assert get_verifier("gpqa").describe() == {}
    assert get_verifier("code").describe()["strict_lcb"]["type"] == "bool"


def test_deadline_hook_clips_math_only():
    assert get_verifier("math").options_within({}, 0.5) == {"timeout_s": 0.5}
    assert get_verifier("math").options_within({"timeout_s": 0.2}, 3.0) == {"timeout_s": 0.2}
    assert get_verifier("math").options_within({}, -1.0) == {"timeout_s": 0.01}
    assert get_verifier("code").options_within({"memory_mb": 64}, 0.5) == {"memory_mb": 64}
    assert [get_verifier(n).bounds_own_time for n in ("math", "gpqa", "code")] == [True, True, False]


# -- data sources and suites -----------------------------------------------------------------------

@pytest.mark.parametrize("source, name", [
    ("gpqa_math", "gpqa"), ("codeforces_math", "code"), ("MATH", "math"), ("  gpqa ", "gpqa")])
def test_data_source_precedence_gpqa_code_math(source, name):
    assert verifier_for_source(source) == name


@pytest.mark.parametrize("benchmark, suite", [
    ("aime_2024", "math"), ("math500", "math"), ("lm-eval:gsm8k", "math"), ("gpqa_diamond", "science"),
    ("livecodebench_v5", "code"), ("imagenet", "")])
def test_suite_comes_from_the_verifier(benchmark, suite):
    assert suite_for(benchmark) == suite


# -- the one front-end -----------------------------------------------------------------------------

def test_grade_one_never_raises_for_a_bad_item():
    bad = grade_one("gpqa", "Answer: A", "Z", item_id="x")
    assert (bad.reason, bad.score, bad.id) == ("invalid item", 0.0, "x") and "letters" in bad.error
    late = grade_one("math", "\\boxed{1}", "1", deadline=time.monotonic() - 1)
    assert late.reason == "timeout" and not late.correct and late.error is None
    good = grade_one("math", "\\boxed{1}", "1", deadline=time.monotonic() + 30)
    assert good.correct and good.details == {"how": "boxed"} and isinstance(good, GradeResult)


def test_grade_items_isolates_a_bad_item_and_keeps_order():
    items = [{"verifier": "gpqa", "response": "Answer: A", "reference": "A", "id": "a"},
             {"verifier": "gpqa", "response": "Answer: A", "reference": "Z", "id": "b"},
             {"verifier": "math", "response": "\\boxed{3}", "reference": "3"}]
    results = grade_items(items)
    assert [r.id for r in results] == ["a", "b", None]
    assert [r.score for r in results] == [1.0, 0.0, 1.0]
    assert results[1].reason == "invalid item" and results[1].error and results[0].error is None


def test_jsonable_keeps_json_types_only():
    value = {1: (1.5, math.nan, -math.inf), "n": np.float32(0.5), "a": np.arange(2), "o": object, "b": True}
    out = jsonable(value)
    assert out["1"] == [1.5, None, None] and out["n"] == 0.5 and out["a"] == [0, 1]
    assert out["b"] is True and isinstance(out["o"], str)


# -- a new verifier is one class and one register call ----------------------------------------------

class ToyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bonus: float = Field(0.0, ge=0.0, le=1.0, description="added to a correct answer's score")


class ToyVerifier(Verifier):
    """Correct when the response ends with the reference."""

    name = "toy"
    version = "0.1"
    suite = "science"
    data_sources = (r"toyset",)
    bounds_own_time = True
    Options = ToyOptions

    def judge(self, response, reference, *, bonus):
        if not isinstance(reference, str):
            raise ValueError("toy reference must be a string")
        ok = response.strip().endswith(reference)
        return Verdict(ok, (1.0 + bonus) / 2 if ok else 0.0, response[-len(reference):], "match" if ok else "no")


@pytest.fixture
def toy():
    verifier = register(ToyVerifier())
    yield verifier
    unregister("toy")


def test_toy_verifier_is_available_everywhere(toy):
    assert "toy" in available() and get_verifier("toy") is toy
    assert verifier_for_source("org/ToySet-v2") == "toy" and suite_for("toyset") == "science"
    assert verifier_for_source("aime_2024") == "math"  # the built-ins keep their precedence
    results = grade_items([{"verifier": "toy", "response": "it is 7", "reference": "7"},
                           {"verifier": "toy", "response": "it is 7", "reference": 7},
                           {"verifier": "toy", "response": "so 8", "reference": "8", "options": {"bonus": 1}}])
    assert [(r.score, r.reason) for r in results] == [(0.5, "match"), (0.0, "invalid item"), (1.0, "match")]
    with pytest.raises(OptionError, match=r"in \[0.0, 1.0\]"):
        toy.grade("7", "7", bonus=2)


def test_toy_verifier_served_by_the_reward_routes(toy):
    with TestClient(create_app(RewardSettings(warm=False, workers=2))) as http:
        info = {v["name"]: v for v in http.get("/v1/verifiers").json()["verifiers"]}
        assert info["toy"]["version"] == "0.1" and info["toy"]["options"]["bonus"]["max"] == 1.0
        r = http.post("/v1/reward/toy", json={"response": "x 5", "reference": "5", "options": {"bonus": 2}})
        assert r.status_code == 422 and "in [0.0, 1.0]" in r.json()["detail"]
        r = http.post("/v1/reward/toy", json={"response": "x 5", "reference": "5", "options": {"bonnus": 1}})
        assert r.status_code == 422 and "unknown option 'bonnus'" in r.json()["detail"]
        items = [{"data_source": "toyset", "response": "x 5", "reference": "5", "id": "t"},
                 {"data_source": "toyset", "response": "x 5", "reference": 5}]
        served = http.post("/v1/reward", json={"items": items}).json()["results"]
    local = grade_items([{"verifier": "toy", **{k: v for k, v in it.items() if k != "data_source"}} for it in items])
    assert [GradeResult.model_validate(r).model_dump(exclude={"elapsed_s"}) for r in served] == \
           [r.model_dump(exclude={"elapsed_s"}) for r in local]
