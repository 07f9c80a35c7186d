"""Where Ring Lab keeps things: RING_HOME (default ~/.ring) holds models, training runs and the DB."""
from __future__ import annotations

import os
from pathlib import Path

TINY_MODEL_NAME = "ring-tiny"


def ring_home() -> Path:
    home = Path(os.environ.get("RING_HOME") or Path.home() / ".ring").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def tiny_model_dir() -> Path:
    """Where the default tiny model is built (``ring_serve.tiny_model.ensure_tiny_model``)."""
    return ring_home() / "models" / TINY_MODEL_NAME


def train_dir(name: str) -> Path:
    """Default output directory of a training run (``RING_HOME/train/NAME``)."""
    return ring_home() / "train" / name
