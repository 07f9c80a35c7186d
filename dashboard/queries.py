"""Every SQL query the dashboard runs. Aggregation happens in the database; pandas only reshapes.

Plain functions take the DB URL (engines are cached per URL by the store). ``cached`` holds
the same functions wrapped in ``st.cache_data`` with a short TTL so a live run shows up.
"""
from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import pandas as pd
from sqlalchemy import Float, and_, case, cast, func, literal, or_, select, true

from evaluators.runner.scoring import ci95_halfwidth
from ring_core.store.db import make_engine
from ring_core.store.models import Benchmark, Model, Run, Sample, TrainingMetric, TrainingRun
from trainer.metric_names import DASHBOARD_ORDER

CACHE_TTL_S = 3
SAMPLE_LIMIT = 500  # rows per sample table; long texts stay out of it (see sample_detail)

TRAINING_METRIC_ORDER = list(DASHBOARD_ORDER)  # the names the trainer logs (trainer.metric_names)


def _df(url: str, stmt) -> pd.DataFrame:
    with make_engine(url).connect() as conn:
        result = conn.execute(stmt)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _correct_as_float():
    return case((Sample.correct, 1.0), else_=0.0)


def _tag_filter(column, tags: list[str]):
    # Tags are stored as "a,b,c"; pad with commas so "a" does not match "ab".
    padded = literal(",") + column + literal(",")
    return or_(*[padded.like(f"%,{t},%") for t in tags])


def filter_options(url: str) -> dict:
    """Suites, tags, statuses and the date range present in the DB (for sidebar filters)."""
    with make_engine(url).connect() as conn:
        suites = sorted(s or "(none)" for s in conn.scalars(select(Benchmark.suite).distinct()))
        tag_strings = list(conn.scalars(select(Run.tags).distinct())) + \
            list(conn.scalars(select(Model.tags).distinct()))
        statuses = sorted(conn.scalars(select(Run.status).distinct()))
        lo, hi = conn.execute(select(func.min(Run.created_at), func.max(Run.created_at))).one()
    tags = sorted({t for s in tag_strings if s for t in s.split(",") if t})
    return {"suites": suites, "tags": tags, "statuses": statuses, "first": lo, "last": hi}


def _filtered_runs(suites=None, tags=None, since: datetime | None = None,
                   until: datetime | None = None, statuses=None):
    conds = []
    if suites:
        conds.append(Benchmark.suite.in_(["" if s == "(none)" else s for s in suites]))
    if tags:
        conds.append(or_(_tag_filter(Run.tags, tags), _tag_filter(Model.tags, tags)))
    if since is not None:
        conds.append(Run.created_at >= since)
    if until is not None:
        conds.append(Run.created_at <= until)
    if statuses:
        conds.append(Run.status.in_(list(statuses)))
    return (select(Run.id.label("run_id"), Run.model_id, Benchmark.name.label("benchmark"))
            .join(Model, Model.id == Run.model_id)
            .join(Benchmark, Benchmark.id == Run.benchmark_id)
            .where(and_(*conds) if conds else true()))


def run_scores(url: str, run_ids: list[int] | None = None, *, suites=None, tags=None, since=None,
               until=None, statuses=None, latest_only: bool = True) -> pd.DataFrame:
    """One row per run: avg@k (percent), 95% CI half-width, k, problem and sample counts.

    avg@k is the mean over problems of each problem's fraction of correct samples; the CI is
    the normal interval over problems. With ``latest_only`` only the newest run per
    (model, benchmark name) is kept, which is what the leaderboard shows.
    """
    runs = _filtered_runs(suites, tags, since, until, statuses)
    if run_ids is not None:
        runs = runs.where(Run.id.in_(list(run_ids)))
    runs = runs.subquery()
    if latest_only:
        chosen = (select(func.max(runs.c.run_id).label("run_id"))
                  .group_by(runs.c.model_id, runs.c.benchmark).subquery())
    else:
        chosen = select(runs.c.run_id).subquery()
    per_problem = (select(Sample.run_id, Sample.problem_id,
                          func.avg(_correct_as_float()).label("p"),
                          func.count().label("n"))
                   .where(Sample.run_id.in_(select(chosen.c.run_id)))
                   .group_by(Sample.run_id, Sample.problem_id).subquery())
    per_run = (select(per_problem.c.run_id,
                      func.avg(per_problem.c.p).label("mean"),
                      func.avg(per_problem.c.p * per_problem.c.p).label("mean_sq"),
                      func.count().label("n_problems"),
                      func.sum(per_problem.c.n).label("n_samples"),
                      cast(func.sum(per_problem.c.p * per_problem.c.n), Float).label("n_correct"))
               .group_by(per_problem.c.run_id).subquery())
    stmt = (select(Run.id.label("run_id"), Model.name.label("model"),
                   Benchmark.name.label("benchmark"), Benchmark.version, Benchmark.suite,
                   Run.status, Run.k, Run.tags, Run.created_at, per_run.c.mean, per_run.c.mean_sq,
                   per_run.c.n_problems, per_run.c.n_samples)
            .join(Model, Model.id == Run.model_id)
            .join(Benchmark, Benchmark.id == Run.benchmark_id)
            .join(per_run, per_run.c.run_id == Run.id, isouter=True)
            .where(Run.id.in_(select(chosen.c.run_id)))
            .order_by(Model.name, Benchmark.name))
    df = _df(url, stmt)
    df["avg_at_k"] = df["mean"].astype(float) * 100
    df["ci95"] = [_ci95(m, m2, n) for m, m2, n in zip(df["mean"], df["mean_sq"], df["n_problems"])]
    df["n_problems"] = df["n_problems"].fillna(0).astype(int)
    df["n_samples"] = df["n_samples"].fillna(0).astype(int)
    return df.drop(columns=["mean", "mean_sq"])[
        ["run_id", "model", "benchmark", "version", "suite", "avg_at_k", "ci95", "k",
         "n_problems", "n_samples", "status", "tags", "created_at"]]


def _ci95(mean, mean_sq, n) -> float:
    """Half-width in percentage points of the one 95% CI (``evaluators.runner.scoring``)."""
    if mean is None or n is None or pd.isna(mean) or pd.isna(n):
        return float("nan")
    return ci95_halfwidth(float(mean), float(mean_sq), int(n)) * 100


def run_list(url: str) -> pd.DataFrame:
    """All runs, newest first, with names for pickers."""
    stmt = (select(Run.id.label("run_id"), Model.name.label("model"),
                   Benchmark.name.label("benchmark"), Benchmark.version, Run.status, Run.k,
                   Run.created_at)
            .join(Model, Model.id == Run.model_id).join(Benchmark, Benchmark.id == Run.benchmark_id)
            .order_by(Run.id.desc()))
    return _df(url, stmt)


def run_info(url: str, run_id: int) -> dict | None:
    """Everything about one run except its samples (sampling params, dataset hash, verifier)."""
    stmt = (select(Run.id.label("run_id"), Model.name.label("model"),
                   Model.path.label("model_path"),
                   Benchmark.name.label("benchmark"), Benchmark.version,
                   Benchmark.dataset_hash, Benchmark.suite, Run.sampling, Run.verifier_version,
                   Run.k, Run.status, Run.tags, Run.metrics, Run.config_hash, Run.created_at,
                   Run.started_at, Run.finished_at)
            .join(Model, Model.id == Run.model_id).join(Benchmark, Benchmark.id == Run.benchmark_id)
            .where(Run.id == run_id))
    with make_engine(url).connect() as conn:
        row = conn.execute(stmt).mappings().first()
    return dict(row) if row is not None else None


def per_problem(url: str, run_id: int) -> pd.DataFrame:
    """Per-problem sample count, correct count and accuracy (percent) for one run."""
    stmt = (select(Sample.problem_id, func.count().label("samples"),
                   cast(func.sum(_correct_as_float()), Float).label("correct"),
                   (func.avg(_correct_as_float()) * 100).label("accuracy"))
            .where(Sample.run_id == run_id).group_by(Sample.problem_id)
            .order_by(Sample.problem_id))
    df = _df(url, stmt)
    df["correct"] = df["correct"].fillna(0).astype(int)
    return df


def samples(url: str, run_id: int, *, failures_only: bool = False, problem_id: str | None = None,
            limit: int = SAMPLE_LIMIT, preview_chars: int = 160) -> pd.DataFrame:
    """Sample rows of a run with short previews of the long texts (full text: ``sample_detail``)."""
    stmt = (select(Sample.id.label("sample_id"), Sample.problem_id, Sample.sample_index,
                   Sample.correct, Sample.score, Sample.extracted, Sample.reason, Sample.tokens,
                   Sample.latency_s, func.substr(Sample.answer, 1, preview_chars).label("answer"))
            .where(Sample.run_id == run_id)
            .order_by(Sample.problem_id, Sample.sample_index).limit(limit))
    if failures_only:
        stmt = stmt.where(Sample.correct == False)  # noqa: E712 (SQL expression)
    if problem_id:
        stmt = stmt.where(Sample.problem_id == problem_id)
    df = _df(url, stmt)
    df["correct"] = df["correct"].astype(bool)
    return df


def sample_detail(url: str, sample_id: int) -> dict | None:
    """One sample with its full prompt, reasoning and answer."""
    stmt = select(*[c for c in Sample.__table__.c]).where(Sample.id == sample_id)
    with make_engine(url).connect() as conn:
        row = conn.execute(stmt).mappings().first()
    return dict(row) if row is not None else None


def compare_runs(url: str, run_a: int, run_b: int) -> pd.DataFrame:
    """Problem-by-problem accuracy of two runs; ``flip`` says who solves what (majority vote)."""
    a, b = per_problem(url, run_a), per_problem(url, run_b)
    merged = a[["problem_id", "accuracy"]].merge(b[["problem_id", "accuracy"]], on="problem_id",
                                                 how="outer", suffixes=("_a", "_b"))
    merged["delta"] = merged["accuracy_b"] - merged["accuracy_a"]
    solved_a = merged["accuracy_a"] >= 50
    solved_b = merged["accuracy_b"] >= 50
    merged["flip"] = "same"
    merged.loc[solved_a & ~solved_b, "flip"] = "A only"
    merged.loc[~solved_a & solved_b, "flip"] = "B only"
    merged.loc[merged["accuracy_a"].isna() | merged["accuracy_b"].isna(), "flip"] = "missing"
    return merged.sort_values("problem_id").reset_index(drop=True)


def model_names(url: str) -> list[str]:
    with make_engine(url).connect() as conn:
        return list(conn.scalars(select(Model.name).order_by(Model.name)))


def latest_run_id(url: str, model: str, benchmark: str) -> int | None:
    """Newest run of ``model`` on the benchmark called ``benchmark`` (any version)."""
    stmt = (select(func.max(Run.id)).join(Model, Model.id == Run.model_id)
            .join(Benchmark, Benchmark.id == Run.benchmark_id)
            .where(Model.name == model, Benchmark.name == benchmark))
    with make_engine(url).connect() as conn:
        return conn.scalar(stmt)


def common_benchmarks(url: str, model_a: str, model_b: str) -> list[str]:
    """Benchmark names both models have runs on."""
    def names(model):
        return (select(Benchmark.name).join(Run, Run.benchmark_id == Benchmark.id)
                .join(Model, Model.id == Run.model_id).where(Model.name == model))
    with make_engine(url).connect() as conn:
        a = set(conn.scalars(names(model_a)))
        b = set(conn.scalars(names(model_b)))
    return sorted(a & b)


def training_runs(url: str) -> pd.DataFrame:
    stmt = (select(TrainingRun.id.label("training_run_id"), TrainingRun.name, TrainingRun.algo,
                   TrainingRun.status, TrainingRun.tags, TrainingRun.created_at,
                   func.max(TrainingMetric.step).label("last_step"))
            .join(TrainingMetric, TrainingMetric.training_run_id == TrainingRun.id, isouter=True)
            .group_by(TrainingRun.id).order_by(TrainingRun.id))
    return _df(url, stmt)


def training_metrics(url: str, training_run_ids: list[int]) -> pd.DataFrame:
    """Long table (run, algo, step, metric, value) for the chosen training runs."""
    stmt = (select(TrainingRun.id.label("training_run_id"), TrainingRun.name.label("run"),
                   TrainingRun.algo, TrainingMetric.step, TrainingMetric.name.label("metric"),
                   TrainingMetric.value)
            .join(TrainingRun, TrainingRun.id == TrainingMetric.training_run_id)
            .where(TrainingMetric.training_run_id.in_(list(training_run_ids)))
            .order_by(TrainingRun.id, TrainingMetric.name, TrainingMetric.step))
    return _df(url, stmt)


def last_write(url: str) -> tuple[int, datetime | None]:
    """(sample count, newest run update): cheap signal that a live run is writing."""
    with make_engine(url).connect() as conn:
        n = conn.scalar(select(func.max(Sample.id))) or 0
        updated = conn.scalar(select(func.max(Run.updated_at)))
    return int(n), updated


def _cached_namespace() -> SimpleNamespace:
    import streamlit as st

    wrap = st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
    names = ["filter_options", "run_scores", "run_list", "run_info", "per_problem", "samples",
             "sample_detail", "compare_runs", "model_names", "latest_run_id", "common_benchmarks",
             "training_runs", "training_metrics", "last_write"]
    return SimpleNamespace(**{n: wrap(globals()[n]) for n in names})


cached = _cached_namespace()
