"""LiveCodeBench-compatible comparison, test parsing and pass@k (no sandbox needed)."""
from __future__ import annotations

import base64
import json
import pickle
import zlib
from itertools import combinations
from math import comb

import pytest

from evaluators.runner.scoring import pass_at_k
from evaluators.code import outputs, reference


@pytest.mark.parametrize("got, want, ok", [
    ("3\n", "3", True),
    ("  1 2 3  \n\n", "1 2 3\n", True),  # surrounding whitespace and blank tail lines
    ("1  2\t3", "1 2 3", True),  # token-wise compare
    ("1 2", "1 2 3", False),
    ("1\n2\n", "1 2\n", False),  # line structure matters
    ("Yes", "yes", False),
    ("1.0", "1", True),  # equal as numbers (LCB's Decimal compare)
    ("0.3333333", "0.3333333333", True),  # within 1e-6: LCB issues 129/133 fixed
    ("0.33", "0.3333333333", False),
    ("1000000000001", "1000000000000", False),  # integers stay exact
    ("1e3", "1000", True),  # a float token equal in value
    ("nan", "nan", True),  # identical text
    ("inf", "1e308", False),
])
def test_compare_stdout(got, want, ok):
    assert outputs.compare_stdout(got, want)[0] is ok


def test_strict_mode_reproduces_lcb_exact_float_defect():
    assert outputs.compare_stdout("0.3333333", "0.3333333333")[0]
    assert not outputs.compare_stdout("0.3333333", "0.3333333333", strict=True)[0]
    assert outputs.compare_stdout("1.50", "1.5", strict=True)[0]  # Decimal equality


def test_mixed_text_line_needs_exact_match_as_in_lcb():
    # LCB converts whole lines to Decimals; a word in the line makes it an exact comparison.
    assert not outputs.compare_stdout("Yes 1.0", "Yes 1")[0]
    assert outputs.compare_stdout("Yes 1", "Yes 1")[0]


def test_wrong_answer_reason_names_the_line():
    ok, reason = outputs.compare_stdout("1\n5\n", "1\n2\n")
    assert not ok and "line 2" in reason


@pytest.mark.parametrize("got, want, ok", [
    ([1, 2], "[1, 2]", True),
    ([1, 2], "[1, 2, 3]", False),
    (True, "true", True),
    (1, "true", True),  # Python's 1 == True, as in LCB's in-process ==
    ("a", '"a"', True),
    (0.1 + 0.2, "0.3", True),  # tolerance
    (0.31, "0.3", False),
    ({"__sandbox_type__": "tuple", "items": [1, 2]}, "[1, 2]", False),  # nested tuple != list
    ({"__sandbox_type__": "set", "repr": "{1}"}, "[1]", False),
])
def test_compare_functional(got, want, ok):
    assert outputs.compare_functional(got, want)[0] is ok


def test_functional_strict_is_plain_equality():
    assert not outputs.compare_functional(0.1 + 0.2, "0.3", strict=True)[0]


def test_pass_at_k_matches_brute_force():
    for n in range(1, 7):
        for c in range(n + 1):
            for k in range(1, n + 1):
                samples = [True] * c + [False] * (n - c)
                subsets = list(combinations(samples, k))
                brute = sum(any(s) for s in subsets) / comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(brute)


@pytest.mark.parametrize("n, c, k", [(0, 0, 1), (3, 4, 1), (3, 1, 0), (3, 1, 4)])
def test_pass_at_k_rejects_bad_input(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_parse_reference_shapes():
    tests = [{"input": "1\n", "output": "1\n", "testtype": "stdin"}]
    for ref in ({"tests": tests}, json.dumps({"tests": tests}),
                {"public_test_cases": json.dumps(tests), "private_test_cases": "", "metadata": "{}"},
                {"inputs": ["1\n"], "outputs": ["1\n"]}):
        cases, mode, func = reference.parse_reference(ref)
        assert (cases, mode, func) == ([reference.Case("1\n", "1\n")], "stdin", None)


def test_parse_reference_functional_and_compressed_private_tests():
    private = [{"input": "[1]\n2", "output": "3", "testtype": "functional"}]
    blob = base64.b64encode(zlib.compress(pickle.dumps(json.dumps(private)))).decode()
    row = {"public_test_cases": [], "private_test_cases": blob,
           "metadata": json.dumps({"func_name": "add"})}
    cases, mode, func = reference.parse_reference(row)
    assert cases == [reference.Case("[1]\n2", "3")] and mode == "functional" and func == "add"


def test_compressed_tests_refuse_pickled_objects():
    evil = base64.b64encode(zlib.compress(pickle.dumps(reference.Case("a", "b")))).decode()
    with pytest.raises(ValueError):
        reference.parse_reference({"public_test_cases": evil})


@pytest.mark.parametrize("ref, message", [
    ({}, "no tests"),
    ("not json", "not valid JSON"),
    (42, "must be a dict"),
    ({"tests": [{"input": "1"}]}, "needs 'input' and 'output'"),
    ({"tests": [{"input": "1", "output": "1", "testtype": "functional"}]}, "func_name"),
    ({"tests": [{"input": "1", "output": "1", "testtype": "stdin"},
                {"input": "1", "output": "1", "testtype": "functional"}], "func_name": "f"}, "mix"),
])
def test_parse_reference_errors_are_clear(ref, message):
    with pytest.raises(ValueError, match=message):
        reference.parse_reference(ref)
