"""Results store: migrations, URL handling, dedup of samples, run identity, training metrics."""
from __future__ import annotations

import math
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from ring_core.store import api, db
from ring_core.store.models import Base, Run, Sample, TrainingMetric

REPO = Path(__file__).resolve().parents[1]
TABLES = {"models", "benchmarks", "runs", "samples", "training_runs", "training_metrics"}


@pytest.fixture()
def url(tmp_path):
    u = f"sqlite:///{tmp_path / 'ring.db'}"
    db.upgrade(u)
    yield u
    db.dispose_engines()


def _seed_run(s, temperature=0.6, version="1", k=4, model="ring-lite"):
    m = api.get_or_create_model(s, model)
    b = api.get_or_create_benchmark(s, "aime_2024", version, f"hash-{version}")
    return api.get_or_create_run(s, m, b, {"temperature": temperature, "top_p": 0.95},
                                 "math-1", k)


def _rows(problems, samples, correct=lambda p, i: (p + i) % 2 == 0):
    return [{"problem_id": f"p{p}", "sample_index": i, "correct": correct(p, i),
             "score": float(correct(p, i)), "answer": f"\\boxed{{{p}}}", "tokens": 10 + i}
            for p in problems for i in samples]


def test_migrations_apply_to_empty_db_and_match_models(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    u = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert db.current_revision(u) is None
    assert db.upgrade(u) == u
    head = ScriptDirectory.from_config(db.alembic_config(u)).get_current_head()
    assert db.current_revision(u) == head
    engine = db.make_engine(u)
    assert TABLES <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        # The hand-written migration must produce exactly what the ORM models declare.
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.BUSY_TIMEOUT_MS
    db.upgrade(u)  # a second upgrade is a no-op
    assert db.current_revision(u) == head
    db.downgrade(u, "base")  # and the downgrade path works
    assert not TABLES & set(inspect(engine).get_table_names())
    db.dispose_engines()


def test_database_url_defaults_to_ring_home(tmp_path, monkeypatch):
    monkeypatch.delenv("RING_DB_URL", raising=False)
    home = tmp_path / "home" / "nested"
    monkeypatch.setenv("RING_HOME", str(home))
    assert db.database_url() == f"sqlite:///{home / 'ring.db'}"
    assert home.is_dir()
    monkeypatch.setenv("RING_DB_URL", "postgresql://ring:pw@127.0.0.1/ring")
    assert db.database_url() == "postgresql://ring:pw@127.0.0.1/ring"


def test_redacted_hides_password():
    shown = db.redacted("postgresql+psycopg://ring:s3cret%40x@db.local:5432/ring")
    assert "s3cret" not in shown and "***" in shown and "db.local:5432/ring" in shown
    assert db.redacted("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_make_engine_is_cached_per_url(url, tmp_path):
    assert db.make_engine(url) is db.make_engine(url)
    assert db.make_engine(url) is not db.make_engine(f"sqlite:///{tmp_path / 'other.db'}")


def test_duplicate_samples_are_ignored_not_duplicated(url):
    with db.session(url) as s:
        run = _seed_run(s)
        assert api.add_samples(s, run.id, _rows(range(3), range(4))) == 12
    with db.session(url) as s:
        # A resumed run re-sends everything plus two new samples of p0 (and a duplicate in-batch).
        again = _rows(range(3), range(4)) + _rows([0], [4, 5]) + _rows([0], [5])
        assert api.add_samples(s, run.id, again) == 2
        assert s.scalar(select(func.count()).select_from(Sample)) == 14
        keys = api.done_sample_keys(s, run.id)
    assert keys == {(f"p{p}", i) for p in range(3) for i in range(4)} | {("p0", 4), ("p0", 5)}


def test_first_write_wins_on_duplicate(url):
    with db.session(url) as s:
        run = _seed_run(s)
        api.add_samples(s, run.id, [{"problem_id": "p", "sample_index": 0, "correct": True,
                                     "score": 1.0}])
        api.add_samples(s, run.id, [{"problem_id": "p", "sample_index": 0, "correct": False,
                                     "score": 0.0}])
        stored = s.scalars(select(Sample)).one()
    assert stored.correct is True and stored.score == 1.0


def test_concurrent_writers_share_the_sqlite_file(url):
    # Two processes resume the same run at once; WAL + busy_timeout must serialise them.
    script = (
        "import sys; from ring_core.store import api, db\n"
        "url, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n"
        "for start in range(lo, hi, 10):\n"
        "    with db.session(url) as s:\n"
        "        rows = [{'problem_id': f'p{p}', 'sample_index': 0, 'correct': p % 3 == 0}\n"
        "                for p in range(start, start + 10)]\n"
        "        api.add_samples(s, 1, rows)\n"
    )
    with db.session(url) as s:
        assert _seed_run(s).id == 1
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", script, url, lo, hi], env=env,
                              stderr=subprocess.PIPE)
             for lo, hi in (("0", "200"), ("100", "300"))]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    with db.session(url) as s:
        assert s.scalar(select(func.count()).select_from(Sample)) == 300
        assert len(api.done_sample_keys(s, 1)) == 300


def test_run_identity_follows_settings(url):
    with db.session(url) as s:
        base = _seed_run(s)
        same = _seed_run(s)
        assert same.id == base.id
        # Key order of the sampling dict must not matter.
        m, b = base.model, base.benchmark
        reordered = api.get_or_create_run(s, m, b, {"top_p": 0.95, "temperature": 0.6},
                                          "math-1", 4)
        assert reordered.id == base.id
        ids = {base.id,
               _seed_run(s, temperature=0.7).id,  # changed sampling parameter
               _seed_run(s, version="2").id,  # new dataset version
               _seed_run(s, k=8).id,
               api.get_or_create_run(s, m, b, {"temperature": 0.6, "top_p": 0.95},
                                     "math-2", 4).id}
        assert len(ids) == 5
        assert s.scalar(select(func.count()).select_from(Run)) == 5
        assert base.status == "pending" and base.sampling == {"temperature": 0.6, "top_p": 0.95}


def test_run_tags_merge_and_bad_k_rejected(url):
    with db.session(url) as s:
        m = api.get_or_create_model(s, "m", tags=["b", "a", "a"])
        assert m.tags == "a,b"
        b = api.get_or_create_benchmark(s, "livecodebench_v5", "v5", "h", suite="code")
        assert b.suite == "code"
        # the store knows no benchmarks: without a suite from the caller's verifier it stores ""
        assert api.get_or_create_benchmark(s, "livecodebench_v6", "v6", "h").suite == ""
        run = api.get_or_create_run(s, m, b, {}, "code-1", 1, tags="nightly")
        again = api.get_or_create_run(s, m, b, {}, "code-1", 1, tags=["release", "nightly"])
        assert again.id == run.id and again.tags == "nightly,release"
        for bad in (0, -1, 1.5, True):
            with pytest.raises(ValueError):
                api.get_or_create_run(s, m, b, {}, "code-1", bad)
        with pytest.raises(ValueError):
            api.get_or_create_benchmark(s, "x", "", "h")
        with pytest.raises(ValueError):
            api.get_or_create_model(s, "  ")


def test_bad_sample_rows_are_rejected_and_rolled_back(url):
    with db.session(url) as s:
        run_id = _seed_run(s).id
    with pytest.raises(ValueError, match="unknown sample fields"):
        with db.session(url) as s:
            api.add_samples(s, run_id, _rows([0], [0]))
            api.add_samples(s, run_id, [{"problem_id": "p", "sample_index": 1, "verdict": 1}])
    with pytest.raises(ValueError, match="problem_id and sample_index"):
        with db.session(url) as s:
            api.add_samples(s, run_id, [{"problem_id": "p"}])
    with db.session(url) as s:  # the good row of the failed session was rolled back too
        assert api.done_sample_keys(s, run_id) == set()


def test_run_status_and_metrics(url):
    with db.session(url) as s:
        run_id = _seed_run(s).id
        run = api.set_run_status(s, run_id, "running")
        assert run.started_at is not None and run.finished_at is None
        api.save_run_metrics(s, run_id, {"avg@k": 0.5, "ci95": [0.4, 0.6]})
        api.save_run_metrics(s, run_id, {"pass@4": 0.75, "nan_metric": float("nan")})
        run = api.set_run_status(s, run_id, "done")
        assert run.finished_at >= run.started_at
        with pytest.raises(ValueError):
            api.set_run_status(s, run_id, "exploded")
        with pytest.raises(LookupError):
            api.set_run_status(s, 999, "done")
    with db.session(url) as s:
        stored = s.get(Run, run_id)
        assert stored.metrics == {"avg@k": 0.5, "ci95": [0.4, 0.6], "pass@4": 0.75,
                                  "nan_metric": None}
        assert stored.status == "done"


def test_training_metrics_upsert(url):
    with db.session(url) as s:
        tr = api.create_training_run(s, "c3po-small", "c3po", {"lr": 1e-6, "beta": 0.0})
        assert api.log_training_metrics(s, tr.id, 1, {"reward": 0.25, "entropy": 1.5}) == 2
        assert api.log_training_metrics(s, tr.id, 2, {"reward": 0.5, "loss": math.nan}) == 1
        # Re-logging step 1 (trainer resumed from a checkpoint) overwrites, never duplicates.
        api.log_training_metrics(s, tr.id, 1, {"reward": 0.3})
        with pytest.raises(LookupError):
            api.log_training_metrics(s, 999, 1, {"reward": 1.0})
    with db.session(url) as s:
        rows = s.execute(select(TrainingMetric.step, TrainingMetric.name, TrainingMetric.value)
                         .order_by(TrainingMetric.step, TrainingMetric.name)).all()
        done = api.finish_training_run(s, tr.id)
    assert rows == [(1, "entropy", 1.5), (1, "reward", 0.3), (2, "reward", 0.5)]
    assert done.status == "done" and done.finished_at is not None


def test_deleting_a_run_cascades_to_samples(url):
    with db.session(url) as s:
        run_id = _seed_run(s).id
        api.add_samples(s, run_id, _rows(range(2), range(2)))
    with db.session(url) as s:
        s.execute(text("DELETE FROM runs WHERE id = :i"), {"i": run_id})
    with db.session(url) as s:
        assert s.scalar(select(func.count()).select_from(Sample)) == 0


def test_sample_row_from_verdict(url):
    from evaluators.verdict import Verdict

    v = Verdict(correct=True, score=1.0, extracted="42", reason="equal as rationals",
                elapsed_s=0.01, details={"parser": "sympy"})
    row = api.sample_row("p7", 3, v, prompt="Q", reasoning="R", answer="\\boxed{42}",
                                  tokens=1234, latency_s=2.5)
    with db.session(url) as s:
        run_id = _seed_run(s).id
        assert api.add_samples(s, run_id, [row]) == 1
        stored = s.scalars(select(Sample)).one()
    assert (stored.extracted, stored.reason, stored.tokens, stored.details) == \
        ("42", "equal as rationals", 1234, {"parser": "sympy"})


def test_cli_db_upgrade_uses_ring_home(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from ring_serve.cli import app

    monkeypatch.delenv("RING_DB_URL", raising=False)
    monkeypatch.setenv("RING_HOME", str(tmp_path / "rh"))
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "rh" / "ring.db") in result.output
    assert TABLES <= set(inspect(db.make_engine()).get_table_names())
    db.dispose_engines()


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


@pytest.fixture(scope="module")
def pg_url():
    """RING_TEST_POSTGRES_URL, else a throwaway local cluster on a Unix socket (no TCP)."""
    if os.environ.get("RING_TEST_POSTGRES_URL"):
        yield os.environ["RING_TEST_POSTGRES_URL"]
        return
    pytest.importorskip("psycopg", reason="PostgreSQL tests need the psycopg driver")
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user for initdb")
        as_user = ["runuser", "-u", "postgres", "--"]
    # Not under pytest's tmp dir: its 0700 parents would lock the postgres user out.
    root = Path(tempfile.mkdtemp(prefix="ring-pg-"))
    if as_user:
        shutil.chown(root, "postgres")
    data, log = root / "data", root / "server.log"
    subprocess.run(as_user + [str(bindir / "initdb"), "-D", str(data), "-U", "ring",
                              "--auth=trust", "-E", "UTF8", "--no-sync"],
                   check=True, capture_output=True)
    subprocess.run(as_user + [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                              "-o", f"-k {root} -c listen_addresses='' -F", "start"],
                   check=True, capture_output=True, timeout=120)
    try:
        yield f"postgresql+psycopg://ring@/postgres?host={root}"
    finally:
        db.dispose_engines()
        subprocess.run(as_user + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                  "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def test_postgres_store_and_dashboard_queries(pg_url):
    """The same API and the dashboard's SQL on PostgreSQL (teams point RING_DB_URL there)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from dashboard import queries as q

    db.upgrade(pg_url)
    try:
        with db.make_engine(pg_url).connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        with db.session(pg_url) as s:
            run = _seed_run(s)
            run.tags = "nightly"
            first = api.add_samples(s, run.id, _rows(range(3), range(2)))
            second = api.add_samples(s, run.id, _rows(range(4), range(2)) + _rows([3], [1]))
            other = _seed_run(s, model="baseline")
            api.add_samples(s, other.id, _rows(range(4), range(2), lambda p, i: p == 1))
            tr = api.create_training_run(s, "grpo-pg", "grpo", {})
            api.log_training_metrics(s, tr.id, 0, {"reward": 0.1})
            api.log_training_metrics(s, tr.id, 0, {"reward": 0.2})
            run_id, other_id = run.id, other.id
        assert (first, second) == (6, 2)

        board = q.run_scores(pg_url).set_index("model")
        per_problem = [sum((p + i) % 2 == 0 for i in range(2)) / 2 for p in range(4)]
        assert board.loc["ring-lite", "avg_at_k"] == pytest.approx(100 * sum(per_problem) / 4)
        assert board.loc["baseline", "avg_at_k"] == pytest.approx(25.0)
        assert board.loc["ring-lite", "n_samples"] == 8
        assert set(q.run_scores(pg_url, tags=["nightly"])["model"]) == {"ring-lite"}
        assert list(q.per_problem(pg_url, run_id)["correct"]) == [1, 1, 1, 1]
        flips = q.compare_runs(pg_url, run_id, other_id)
        assert dict(zip(flips["problem_id"], flips["flip"])) == \
            {"p0": "A only", "p1": "same", "p2": "A only", "p3": "A only"}
        assert len(q.samples(pg_url, run_id, failures_only=True)) == 4
        metrics = q.training_metrics(pg_url, [tr.id])
        assert list(metrics["value"]) == [0.2]
    finally:
        db.downgrade(pg_url, "base")
