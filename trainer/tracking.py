"""Training metrics into the results DB, where the dashboard plots them (rank 0 only)."""
from __future__ import annotations

from ring_core.store import api, db


def start_run(name: str, algo: str, config: dict) -> int:
    db.upgrade()
    with db.session() as s:
        return api.create_training_run(s, name=name, algo=algo, config=config).id


def log(run_id: int | None, step: int, metrics: dict) -> None:
    if run_id is not None:
        with db.session() as s:
            api.log_training_metrics(s, run_id, step, metrics)


def finish(run_id: int | None) -> None:
    if run_id is not None:
        with db.session() as s:
            api.finish_training_run(s, run_id)
