"""Write/read helpers every component uses to record models, runs, samples and training metrics."""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ring_core.jsonsafe import jsonable

from .models import RUN_STATUSES, Benchmark, Model, Run, Sample, TrainingMetric, TrainingRun, utcnow

SAMPLE_FIELDS = frozenset({
    "problem_id", "sample_index", "prompt", "reasoning", "answer", "extracted", "correct",
    "score", "reason", "tokens", "latency_s", "details",
})
_SAMPLE_DEFAULTS = {
    "prompt": None, "reasoning": None, "answer": None, "extracted": None, "correct": False,
    "score": 0.0, "reason": None, "tokens": None, "latency_s": None, "details": None,
}
# Keeps each INSERT below SQLite's bound-parameter limit and memory modest on huge batches.
_CHUNK = 2000


def normalize_tags(tags: str | Iterable[str] | None) -> str:
    """Tags as one sorted, de-duplicated, comma-separated string (``"a,b"``)."""
    if tags is None:
        return ""
    items = tags.split(",") if isinstance(tags, str) else list(tags)
    return ",".join(sorted({t.strip() for t in items if t and t.strip()}))


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _savepoint_create(s: Session, obj, lookup):
    """Insert ``obj`` unless a concurrent writer got there first; return the stored row."""
    try:
        with s.begin_nested():
            s.add(obj)
        return obj
    except IntegrityError:
        existing = s.scalars(lookup).first()
        if existing is None:
            raise
        return existing


def get_or_create_model(s: Session, name: str, *, path: str | None = None,
                        tags: str | Iterable[str] | None = None, **meta: Any) -> Model:
    """The model called ``name``; created with ``path``, ``tags`` and extra ``meta`` if new."""
    if not name or not name.strip():
        raise ValueError("model name must be a non-empty string")
    lookup = select(Model).where(Model.name == name)
    found = s.scalars(lookup).first()
    if found is not None:
        return found
    return _savepoint_create(s, Model(name=name, path=path, tags=normalize_tags(tags), meta=meta),
                             lookup)


def get_or_create_benchmark(s: Session, name: str, version: str, dataset_hash: str, *,
                            suite: str | None = None, num_problems: int | None = None,
                            source: str | None = None, revision: str | None = None) -> Benchmark:
    """The benchmark row for this exact (name, version, dataset hash).

    ``suite`` is the leaderboard label ("math", "code", "science") the caller's verifier declares
    (``evaluators.suite_for``); the store does not know benchmarks, so it stores "" when none.
    ``source`` and ``revision`` (the dataset's hub commit) are recorded when the row is created.
    """
    for label, value in (("name", name), ("version", version), ("dataset_hash", dataset_hash)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"benchmark {label} must be a non-empty string, got {value!r}")
    lookup = select(Benchmark).where(Benchmark.name == name, Benchmark.version == version,
                                     Benchmark.dataset_hash == dataset_hash)
    found = s.scalars(lookup).first()
    if found is not None:
        return found
    bench = Benchmark(name=name, version=version, dataset_hash=dataset_hash,
                      suite=suite or "",
                      num_problems=num_problems, source=source or None, revision=revision or None)
    return _savepoint_create(s, bench, lookup)


def run_config_hash(model: Model, benchmark: Benchmark, sampling: Mapping[str, Any],
                    verifier_version: str, k: int) -> str:
    """Hash of everything that makes two runs comparable; any change gives a new run."""
    key = {
        "model": model.name,
        "benchmark": [benchmark.name, benchmark.version, benchmark.dataset_hash],
        "sampling": dict(sampling),
        "verifier_version": verifier_version,
        "k": int(k),
    }
    return hashlib.sha256(_canonical(key).encode()).hexdigest()


def get_or_create_run(s: Session, model: Model, benchmark: Benchmark, sampling: Mapping[str, Any],
                      verifier_version: str, k: int,
                      tags: str | Iterable[str] | None = None) -> Run:
    """The run for these settings; the same settings always map to the same run (resume)."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if not isinstance(sampling, Mapping):
        raise TypeError(f"sampling must be a dict, got {type(sampling).__name__}")
    s.flush()  # model/benchmark need ids
    digest = run_config_hash(model, benchmark, sampling, verifier_version, k)
    lookup = select(Run).where(Run.config_hash == digest)
    found = s.scalars(lookup).first()
    if found is not None:
        extra = normalize_tags(tags)
        if extra:
            found.tags = normalize_tags(found.tags.split(",") + extra.split(","))
        return found
    run = Run(model_id=model.id, benchmark_id=benchmark.id, config_hash=digest,
              sampling=json.loads(_canonical(dict(sampling))), verifier_version=verifier_version,
              k=k, status="pending", tags=normalize_tags(tags))
    return _savepoint_create(s, run, lookup)


def _sample_row(run_id: int, row: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(row) - SAMPLE_FIELDS
    if unknown:
        raise ValueError(f"unknown sample fields: {sorted(unknown)}")
    if "problem_id" not in row or "sample_index" not in row:
        raise ValueError("each sample needs problem_id and sample_index")
    out = dict(_SAMPLE_DEFAULTS)
    out.update(row)
    out["run_id"] = run_id
    out["problem_id"] = str(out["problem_id"])
    out["sample_index"] = int(out["sample_index"])
    out["correct"] = bool(out["correct"])
    out["score"] = float(out["score"])
    out["created_at"] = utcnow()
    return out


def sample_row(problem_id: str, sample_index: int, verdict=None, **fields: Any) -> dict[str, Any]:
    """The one builder of a row for :func:`add_samples`.

    ``verdict`` (an ``evaluators.verdict.Verdict`` or anything with its fields) fills extracted,
    correct, score, reason and details; ``fields`` (prompt, reasoning, answer, tokens, latency_s,
    or an explicit reason/details) are checked against the sample columns.
    """
    row: dict[str, Any] = {"problem_id": problem_id, "sample_index": sample_index}
    if verdict is not None:
        row.update(extracted=verdict.extracted, correct=verdict.correct, score=verdict.score,
                   reason=verdict.reason, details=verdict.details or None)
    row.update(fields)
    unknown = set(row) - SAMPLE_FIELDS
    if unknown:
        raise ValueError(f"unknown sample fields: {sorted(unknown)}")
    return row


def _insert_ignore(s: Session, table, rows: list[dict[str, Any]], keys: list[str]) -> int:
    dialect = s.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        dialect_insert = None
    inserted = 0
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start:start + _CHUNK]
        if dialect_insert is not None:
            stmt = dialect_insert(table).on_conflict_do_nothing(index_elements=keys)
            if dialect == "postgresql":
                # psycopg batches executemany, so rowcount is unreliable; count RETURNING rows.
                inserted += len(s.execute(stmt.returning(table.c.id), chunk).all())
            else:
                inserted += max(s.execute(stmt, chunk).rowcount, 0)
        else:  # other databases: skip rows already present, then plain insert
            for row in chunk:
                try:
                    with s.begin_nested():
                        s.execute(insert(table), row)
                    inserted += 1
                except IntegrityError:
                    pass
    return inserted


def add_samples(s: Session, run_id: int, rows: list[Mapping[str, Any]]) -> int:
    """Insert graded samples; rows whose (problem_id, sample_index) exist are ignored.

    Returns the number of rows actually inserted.
    """
    if not rows:
        return 0
    prepared = [_sample_row(run_id, r) for r in rows]
    return _insert_ignore(s, Sample.__table__, prepared, ["run_id", "problem_id", "sample_index"])


def done_sample_keys(s: Session, run_id: int) -> set[tuple[str, int]]:
    """(problem_id, sample_index) pairs already stored for ``run_id`` (what a resume can skip)."""
    rows = s.execute(select(Sample.problem_id, Sample.sample_index).where(Sample.run_id == run_id))
    return {(p, i) for p, i in rows}


def _get(s: Session, cls, obj_id: int):
    obj = s.get(cls, obj_id)
    if obj is None:
        raise LookupError(f"no {cls.__tablename__[:-1].replace('_', ' ')} with id {obj_id}")
    return obj


def set_run_status(s: Session, run_id: int, status: str, *, at: datetime | None = None) -> Run:
    """Move a run to ``status`` and stamp start/finish times (``at``, default now: a harness that
    reports after the fact passes when it started)."""
    if status not in RUN_STATUSES:
        raise ValueError(f"status must be one of {RUN_STATUSES}, got {status!r}")
    run = _get(s, Run, run_id)
    run.status = status
    now = at or utcnow()
    if status == "running" and run.started_at is None:
        run.started_at = now
    if status in ("done", "failed", "cancelled"):
        run.finished_at = now
    run.updated_at = utcnow()
    return run


def save_run_metrics(s: Session, run_id: int, metrics: Mapping[str, Any]) -> Run:
    """Merge summary metrics (avg@k, CI, pass@k, ...) into the run's JSON ``metrics``."""
    run = _get(s, Run, run_id)
    merged = dict(run.metrics or {})
    merged.update(jsonable(dict(metrics)))
    run.metrics = merged  # new object so the JSON column is marked dirty
    run.updated_at = utcnow()
    return run


def create_training_run(s: Session, name: str, algo: str, config: Mapping[str, Any], *,
                        tags: str | Iterable[str] | None = None) -> TrainingRun:
    """A new training run (each call is a new run, even with the same name)."""
    if not name or not algo:
        raise ValueError("training run needs a name and an algo")
    run = TrainingRun(name=name, algo=algo, config=jsonable(dict(config)), status="running",
                      tags=normalize_tags(tags))
    s.add(run)
    s.flush()
    return run


def log_training_metrics(s: Session, training_run_id: int, step: int,
                         metrics: Mapping[str, float]) -> int:
    """Store scalars for one step; a metric logged twice for a step keeps the latest value.

    Non-finite values (NaN, inf) are skipped. Returns the number of values written.
    """
    _get(s, TrainingRun, training_run_id)
    now = utcnow()
    rows = []
    for name, value in metrics.items():
        value = float(value)
        if math.isfinite(value):
            rows.append({"training_run_id": training_run_id, "step": int(step), "name": str(name),
                         "value": value, "created_at": now})
    if not rows:
        return 0
    dialect = s.get_bind().dialect.name
    keys = ["training_run_id", "name", "step"]
    if dialect in ("sqlite", "postgresql"):
        mod = __import__(f"sqlalchemy.dialects.{dialect}", fromlist=["insert"])
        stmt = mod.insert(TrainingMetric.__table__)
        stmt = stmt.on_conflict_do_update(index_elements=keys,
                                          set_={"value": stmt.excluded.value,
                                                "created_at": stmt.excluded.created_at})
        s.execute(stmt, rows)
    else:
        for row in rows:
            existing = s.scalars(select(TrainingMetric).filter_by(
                training_run_id=training_run_id, name=row["name"], step=row["step"])).first()
            if existing is None:
                s.add(TrainingMetric(**row))
            else:
                existing.value = row["value"]
        s.flush()
    return len(rows)


def finish_training_run(s: Session, training_run_id: int, status: str = "done") -> TrainingRun:
    """Mark a training run finished (``done`` or ``failed``)."""
    run = _get(s, TrainingRun, training_run_id)
    run.status = status
    run.finished_at = utcnow()
    return run
