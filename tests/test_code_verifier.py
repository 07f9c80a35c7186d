"""The "code" verifier: program extraction, grading through the real sandbox, registry."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evaluators import code as code_verifier
from evaluators.code import extract_program
from evaluators.registry import get_verifier
from evaluators.verdict import Verdict

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "benchmarks"
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None,
                                 reason="bubblewrap not installed: run scripts/install_sandbox_deps.sh")

STDIN_REF = {"tests": [{"input": "2 3\n", "output": "5\n", "testtype": "stdin"},
                       {"input": "10 -4\n", "output": "6\n", "testtype": "stdin"}]}
GOOD = "a, b = map(int, input().split())\nprint(a + b)"


def fenced(body: str, tag: str = "python") -> str:
    return f"```{tag}\n{body}\n```"


@pytest.mark.parametrize("response, expected", [
    (f"Sure.\n{fenced('print(1)')}\nthen\n{fenced('print(2)')}\nDone.", "print(2)"),  # last block
    (f"{fenced('print(1)')}\n{fenced('echo hi', 'bash')}", "print(1)"),  # last *python* block
    (f"{fenced('x = 1', '')}", "x = 1"),  # bare fence when no python block
    ("print(3)\n", "print(3)"),  # no fence: the whole text
    (f"<think>try {fenced('print(0)')}</think>\n{fenced('print(4)')}", "print(4)"),
    (f"<think>only {fenced('print(0)')} thinking</think>\nno code here", "no code here"),
    (f"<think>still thinking {fenced('print(0)')}", None),  # never finished: no answer
    ("", None),
    # CommonMark fences: indented up to three spaces, tildes, longer runs, info-string variants
    ("Here:\n ```python\n print(5)\n ```\n", "print(5)"),
    ("   ```python\n   if 1:\n       print(6)\n   ```", "if 1:\n    print(6)"),
    ("~~~python\nprint(7)\n~~~", "print(7)"),
    ("````python\nprint('```')\n````", "print('```')"),  # a shorter run inside is content
    ("```Python3 title=sol.py\nprint(8)\n```", "print(8)"),
    ("```{.python}\nprint(9)\n```", "print(9)"),
    ("```py\nprint(10)\n```\n```text\noutput\n```", "print(10)"),
    ("The code is: ```python\nprint(11)\n```", "print(11)"),  # opened after text on its line
    ("```python\nprint(12)\n", "print(12)"),  # unclosed: runs to the end, as CommonMark says
    ("    ```python\n    print(13)\n    ```", "    ```python\n    print(13)\n    ```"),  # 4 spaces: no fence
    ("```python\nprint(14)\n```  \nthen ```bash\nls\n```", "print(14)"),
])
def test_extract_program(response, expected):
    assert extract_program(response) == expected


def test_extract_program_rejects_non_text():
    with pytest.raises(TypeError):
        extract_program(None)


def test_registered_under_code():
    verifier = get_verifier("code")
    assert verifier.name == "code" and verifier is code_verifier.VERIFIER


@needs_bwrap
def test_grade_correct_and_wrong():
    v = code_verifier.grade(f"<think>hmm</think>\n{fenced(GOOD)}", STDIN_REF)
    assert isinstance(v, Verdict) and v.correct and v.score == 1.0
    assert v.extracted == GOOD and v.details["lcb_results"] == [True, True]
    assert v.details["backend"] == "bwrap" and len(v.details["tests"]) == 2
    bad = code_verifier.grade(fenced("print(5)"), STDIN_REF)
    assert not bad.correct and bad.score == 0.0
    assert bad.details["lcb_results"] == [True, -2] and "test 2/2" in bad.reason


@needs_bwrap
def test_grade_accepts_json_reference_and_functional_tests():
    ref = json.dumps({"tests": [{"input": "[1, 2, 3]", "output": "6", "testtype": "functional"}],
                      "func_name": "total"})
    resp = fenced("class Solution:\n    def total(self, xs: List[int]) -> int:\n        return sum(xs)")
    assert code_verifier.grade(resp, ref).correct


@needs_bwrap
def test_grade_without_program():
    v = code_verifier.grade("<think>no idea", STDIN_REF)
    assert not v.correct and v.extracted is None and "no program" in v.reason


def test_grade_bad_reference_is_a_clear_error():
    with pytest.raises(ValueError, match="no tests"):
        code_verifier.grade(fenced(GOOD), {"tests": []})


@needs_bwrap
def test_grade_timeout_is_a_verdict_not_an_exception():
    v = code_verifier.grade(fenced("while True: pass"), STDIN_REF, per_test_timeout_s=0.5)
    assert not v.correct and v.details["lcb_results"] == [-3] and "timeout" in v.reason


@needs_bwrap
def test_grade_batch_on_raw_lcb_rows():
    path = SHARED / "livecodebench_v5_2408_2501_publictests.jsonl"
    if not path.exists():
        pytest.skip(f"shared benchmark data not found at {path}")
    rows = {r["question_id"]: r for r in map(json.loads, path.read_text().splitlines())}
    leap = "y = int(input())\nprint(366 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 365)"
    items = [(fenced(leap), rows["abc365_a"]), (fenced("print(365)"), rows["abc365_a"]),
             (fenced(GOOD), STDIN_REF)]
    verdicts = code_verifier.grade_batch(items)
    assert [v.correct for v in verdicts] == [True, False, True]
    assert all(v.details["backend"] == "bwrap" for v in verdicts)


def test_grade_batch_rejects_a_bad_reference_up_front():
    with pytest.raises(ValueError, match="no tests"):
        code_verifier.grade_batch([(fenced(GOOD), STDIN_REF), (fenced(GOOD), {"tests": []})])
