"""First schema: models, benchmarks, runs, samples, training runs and training metrics.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("tags", sa.String(512), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("name", name=op.f("uq_models_name")),
    )
    op.create_table(
        "benchmarks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("dataset_hash", sa.String(128), nullable=False),
        sa.Column("suite", sa.String(64), nullable=False),
        sa.Column("num_problems", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("name", "version", "dataset_hash", name="uq_benchmark"),
    )
    op.create_index("ix_benchmarks_name", "benchmarks", ["name"])
    op.create_index("ix_benchmarks_suite", "benchmarks", ["suite"])
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_id", sa.Integer(), sa.ForeignKey("models.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("benchmark_id", sa.Integer(),
                  sa.ForeignKey("benchmarks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("sampling", sa.JSON(), nullable=False),
        sa.Column("verifier_version", sa.String(64), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tags", sa.String(512), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("config_hash", name=op.f("uq_runs_config_hash")),
    )
    op.create_index("ix_runs_model_benchmark", "runs", ["model_id", "benchmark_id"])
    op.create_index("ix_runs_created_at", "runs", ["created_at"])
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_table(
        "samples",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("problem_id", sa.String(255), nullable=False),
        sa.Column("sample_index", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("reasoning", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("extracted", sa.Text(), nullable=True),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("tokens", sa.Integer(), nullable=True),
        sa.Column("latency_s", sa.Float(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("run_id", "problem_id", "sample_index", name="uq_sample"),
    )
    op.create_index("ix_samples_run_problem_correct", "samples",
                    ["run_id", "problem_id", "correct"])
    op.create_table(
        "training_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("algo", sa.String(64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tags", sa.String(512), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_training_runs_name", "training_runs", ["name"])
    op.create_index("ix_training_runs_algo", "training_runs", ["algo"])
    op.create_table(
        "training_metrics",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("training_run_id", sa.Integer(),
                  sa.ForeignKey("training_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("training_run_id", "name", "step", name="uq_training_metric"),
    )


def downgrade() -> None:
    op.drop_table("training_metrics")
    op.drop_table("training_runs")
    op.drop_table("samples")
    op.drop_table("runs")
    op.drop_table("benchmarks")
    op.drop_table("models")
