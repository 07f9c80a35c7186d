"""`ring spn ...` end to end through the CLI runner, and the query spec parser."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from ring_serve.cli import app
from spn import textformat
from spn.network import SPNError
from spn.queries import parse_evidence, parse_vars
from spn.solvers import solve

runner = CliRunner()


def test_random_then_map_matches_the_library(tmp_path):
    path = tmp_path / "r.spn"
    made = runner.invoke(app, ["spn", "random", "--vars", "10", "--arcs", "400", "--seed", "3", "--out", str(path)])
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["vars"] == 10
    got = runner.invoke(app, ["spn", "map", str(path), "--query", "0-4", "--evidence", "5=1,6=0"])
    assert got.exit_code == 0, got.output
    answer = json.loads(got.output)
    expected = solve(textformat.read(path), [0, 1, 2, 3, 4], {5: 1, 6: 0}, "exact")
    assert answer["optimal"] and np.isclose(answer["log_value"], expected.log_value)
    assert sorted(answer["assignment"]) == ["0", "1", "2", "3", "4"]


def test_learn_and_bench(tmp_path):
    folder = tmp_path / "toy"
    folder.mkdir()
    rng = np.random.default_rng(0)
    coin = rng.integers(0, 2, 400)
    rows = np.stack([coin, coin ^ (rng.random(400) < 0.1), rng.integers(0, 2, 400)], axis=1)
    for split in ("train", "test"):
        (folder / f"toy.{split}.data").write_text("\n".join(",".join(map(str, r)) for r in rows) + "\n")
    out = tmp_path / "toy.spn"
    learned = runner.invoke(app, ["spn", "learn", str(folder), "--out", str(out), "--min-rows", "20"])
    assert learned.exit_code == 0, learned.output
    assert json.loads(learned.output)["test_log_likelihood"] > 3 * np.log(0.5)
    summary = tmp_path / "s.json"
    bench = runner.invoke(app, ["spn", "bench", str(out), "--step", "0.5", "--json", str(summary),
                                "--methods", "exact,best_tree,kbt"])
    assert bench.exit_code == 0, bench.output
    table = json.loads(summary.read_text())["summary"]
    assert table["exact"]["best_share"] == 1.0 and table["exact"]["proven_optimal"] == 1.0


@pytest.mark.parametrize("args, message", [
    (["map", "MISSING", "--query", "0"], "cannot read SPN file"),
    (["map", "FILE", "--query", "0", "--evidence", "0=1"], "both a query and an evidence"),
    (["map", "FILE", "--query", "0", "--method", "magic"], "unknown MAP method"),
    (["map", "FILE", "--query", "0", "--evidence", "1=7"], "bad evidence"),
    (["bench", "FILE", "--step", "0.3"], "grid step must divide 1"),
])
def test_errors_are_one_line_and_exit_2(tmp_path, args, message):
    path = tmp_path / "r.spn"
    runner.invoke(app, ["spn", "random", "--vars", "4", "--arcs", "60", "--out", str(path)])
    args = [str(tmp_path / "missing.spn") if a == "MISSING" else str(path) if a == "FILE" else a for a in args]
    result = runner.invoke(app, ["spn", *args])
    assert result.exit_code == 2 and message in result.output


def test_query_specs():
    assert parse_vars("0,3,5-7", 10) == [0, 3, 5, 6, 7]
    assert parse_vars("rest", 4, taken={1}) == [0, 2, 3]
    assert parse_evidence("2=1, 4=0", 5) == {2: 1, 4: 0}
    for bad, message in [("9", "not in 0..4"), ("3-1", "start after end"), ("a", "bad variable"), ("1,1", "twice")]:
        with pytest.raises(SPNError, match=message):
            parse_vars(bad, 5)
    for bad, message in [("2", "VAR=0 or VAR=1"), ("x=1", "not a variable"), ("1=1,1=0", "given twice"), ("7=1", "not in")]:
        with pytest.raises(SPNError, match=message):
            parse_evidence(bad, 5)


def test_bench_store_writes_one_run_per_solver(tmp_path, monkeypatch):
    pytest.importorskip("sqlalchemy")
    from ring_core.store import db
    from ring_core.store.models import Run, Sample
    from sqlalchemy import select

    url = f"sqlite:///{tmp_path / 'ring.db'}"
    monkeypatch.setenv("RING_DB_URL", url)
    path = tmp_path / "r.spn"
    runner.invoke(app, ["spn", "random", "--vars", "6", "--arcs", "150", "--out", str(path)])
    result = runner.invoke(app, ["spn", "bench", str(path), "--step", "0.5", "--methods", "exact,best_tree",
                                 "--store"])
    assert result.exit_code == 0, result.output
    with db.session(url) as s:
        runs = {r.sampling["method"]: r for r in s.scalars(select(Run))}
        assert set(runs) == {"exact", "best_tree"} and all(r.status == "done" for r in runs.values())
        assert runs["exact"].metrics["best_share"] == 1.0
        samples = s.scalars(select(Sample).where(Sample.run_id == runs["exact"].id)).all()
        assert len(samples) == 3 and all(x.correct for x in samples)
    db.dispose_engines()


def test_spn_needs_no_extra(tmp_path):
    from tests.test_packaging import lean

    path = tmp_path / "r.spn"
    runner.invoke(app, ["spn", "random", "--vars", "6", "--arcs", "120", "--out", str(path)])
    done = lean("""
        import sys
        from typer.testing import CliRunner
        from ring_serve.cli import app
        result = CliRunner().invoke(app, ["spn", "map", sys.argv[1], "--query", "0-3", "--method", "kbt"])
        assert result.exit_code == 0, result.output
        print(sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED))
    """, str(path))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
