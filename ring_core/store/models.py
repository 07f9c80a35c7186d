"""ORM tables of the results store.

Any schema change needs a new migration in ``migrations/versions``.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

RUN_STATUSES = ("pending", "running", "done", "failed", "cancelled")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Model(Base):
    """A model checkpoint or served model, by its unique name."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    path: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[str] = mapped_column(String(512), default="")
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    runs: Mapped[list[Run]] = relationship(back_populates="model")


class Benchmark(Base):
    """A benchmark at one version; a different dataset file means a different row.

    ``source`` is where the data came from (a path or ``hf://datasets/REPO@COMMIT``) and
    ``revision`` the hub commit; a hub suite's version embeds that commit, so a new upstream
    revision is a new benchmark row and so a new run.
    """

    __tablename__ = "benchmarks"
    __table_args__ = (UniqueConstraint("name", "version", "dataset_hash", name="uq_benchmark"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[str] = mapped_column(String(64))
    dataset_hash: Mapped[str] = mapped_column(String(128))
    suite: Mapped[str] = mapped_column(String(64), default="", index=True)
    num_problems: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    runs: Mapped[list[Run]] = relationship(back_populates="benchmark")


class Run(Base):
    """One evaluation of a model on a benchmark with fixed settings (``config_hash``)."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_model_benchmark", "model_id", "benchmark_id"),
        Index("ix_runs_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    benchmark_id: Mapped[int] = mapped_column(ForeignKey("benchmarks.id", ondelete="CASCADE"))
    config_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sampling: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    verifier_version: Mapped[str] = mapped_column(String(64))
    k: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    tags: Mapped[str] = mapped_column(String(512), default="")
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    model: Mapped[Model] = relationship(back_populates="runs")
    benchmark: Mapped[Benchmark] = relationship(back_populates="runs")


class Sample(Base):
    """One graded response; (run, problem, sample index) is unique so a resume never duplicates."""

    __tablename__ = "samples"
    __table_args__ = (
        UniqueConstraint("run_id", "problem_id", "sample_index", name="uq_sample"),
        # Covers the per-problem aggregation of the leaderboard and run page without table reads.
        Index("ix_samples_run_problem_correct", "run_id", "problem_id", "correct"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    problem_id: Mapped[str] = mapped_column(String(255))
    sample_index: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str | None] = mapped_column(Text)
    reasoning: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    extracted: Mapped[str | None] = mapped_column(Text)
    correct: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    reason: Mapped[str | None] = mapped_column(Text)
    tokens: Mapped[int | None] = mapped_column(Integer)
    latency_s: Mapped[float | None] = mapped_column(Float)
    # none_as_null: a missing value is SQL NULL, not the JSON text 'null' (and skips encoding).
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TrainingRun(Base):
    """One RL training run (C3PO, GRPO, ...) with its config."""

    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    algo: Mapped[str] = mapped_column(String(64), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="running")
    tags: Mapped[str] = mapped_column(String(512), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class TrainingMetric(Base):
    """One scalar per (training run, step, metric name); re-logging a step overwrites it."""

    __tablename__ = "training_metrics"
    __table_args__ = (
        UniqueConstraint("training_run_id", "name", "step", name="uq_training_metric"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    training_run_id: Mapped[int] = mapped_column(ForeignKey("training_runs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128))
    value: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
