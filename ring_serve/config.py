"""Where Ring Lab keeps things: RING_HOME (default ~/.ring) holds the tiny model and the DB."""
from __future__ import annotations

import os
from pathlib import Path

TINY_MODEL_NAME = "ring-tiny"
# The Ring-lite paper's evaluation sampling (Sec. 5): temperature 1.0, top-p 0.95.
PAPER_SAMPLING = {"temperature": 1.0, "top_p": 0.95}


def ring_home() -> Path:
    home = Path(os.environ.get("RING_HOME") or Path.home() / ".ring").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def tiny_model_dir() -> Path:
    return ring_home() / "models" / TINY_MODEL_NAME


def ensure_tiny_model(seed: int = 0) -> Path:
    """The default model: built into RING_HOME on first use (about a second, fully offline)."""
    path = tiny_model_dir()
    if not (path / "model.safetensors").exists():
        from ring_serve.tiny_model import build_tiny_model

        build_tiny_model(path, seed=seed)
    return path
