"""Stage markers in ``RING_HOME/demo/seedN/state.json``: what finished, from which inputs, with what.

A stage is reused only if its record's inputs equal this run's (which name the records of the stages
it builds on) and every artefact path it names still exists; anything else runs it again. ``--fresh`` deletes the directory and the seed's rows in
the results DB (models it evaluated, training runs it logged).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any


class DemoState:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.stages: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            self.stages = json.loads(self.path.read_text(encoding="utf-8")).get("stages", {})

    def reusable(self, key: str, inputs: dict) -> dict | None:
        """The stage's record if it finished from these inputs and its artefacts are still there."""
        rec = self.stages.get(key)
        if rec is None or rec.get("inputs") != _jsonable(inputs):
            return None
        if not all(Path(p).exists() for p in rec.get("paths", [])):
            return None
        return rec

    def record(self, key: str, inputs: dict, artefacts: dict, paths: list[str], elapsed_s: float) -> dict:
        # id: later stages name it in their inputs, so redoing this stage redoes them too
        rec = {"id": secrets.token_hex(8), "inputs": _jsonable(inputs), "artefacts": artefacts,
               "paths": [str(p) for p in paths], "elapsed_s": round(elapsed_s, 1),
               "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        self.stages[key] = rec
        self._save()
        return rec

    def forget(self, key: str) -> None:
        if self.stages.pop(key, None) is not None:
            self._save()

    def _save(self) -> None:
        # write-then-rename: a Ctrl-C mid-write never leaves a truncated marker file
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"stages": self.stages}, indent=2), encoding="utf-8")
        os.replace(tmp, self.path)


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def start_over(home: Path, model_prefixes: list[str], training_names: list[str]) -> None:
    """``--fresh``: drop the seed's directory and its DB rows (eval runs cascade with their model)."""
    from ring_serve.demo.records import forget_models, forget_training_runs

    shutil.rmtree(home, ignore_errors=True)
    forget_models(model_prefixes)
    forget_training_runs(training_names)
