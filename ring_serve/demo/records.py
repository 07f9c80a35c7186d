"""What the demo reads from (and, for ``--fresh``, deletes in) the results DB."""
from __future__ import annotations

from typing import Any

from ring_core.store import db


def run_metrics(run_id: int) -> dict[str, Any]:
    """An eval run's stored metrics (avg@k, ci95, pass@k, per_problem), or {} if it is gone."""
    from ring_core.store.models import Run

    with db.session() as s:
        run = s.get(Run, run_id)
        return dict(run.metrics or {}) if run is not None and run.status == "done" else {}


def newest_training_run(name: str) -> int | None:
    from sqlalchemy import func, select

    from ring_core.store.models import TrainingRun

    with db.session() as s:
        return s.scalar(select(func.max(TrainingRun.id)).where(TrainingRun.name == name))


def training_steps(run_id: int | None) -> int:
    """The last step a training run has logged (0 before its first)."""
    from sqlalchemy import func, select

    from ring_core.store.models import TrainingMetric

    if run_id is None:
        return 0
    with db.session() as s:
        return s.scalar(select(func.max(TrainingMetric.step)).where(TrainingMetric.training_run_id == run_id)) or 0


def forget_models(prefixes: list[str]) -> int:
    """Delete the models named ``PREFIX/...`` with their runs and samples (cascade); returns how many."""
    from sqlalchemy import delete, or_

    from ring_core.store.models import Model

    db.upgrade()
    with db.session() as s:
        return s.execute(delete(Model).where(or_(*(Model.name.like(f"{p}/%") for p in prefixes)))).rowcount


def forget_training_runs(names: list[str]) -> int:
    """Delete the training runs with these names (their metrics cascade); returns how many."""
    from sqlalchemy import delete

    from ring_core.store.models import TrainingRun

    db.upgrade()
    with db.session() as s:
        return s.execute(delete(TrainingRun).where(TrainingRun.name.in_(names))).rowcount
