"""Paper-reported reference scores, read from ``reference_ring_lite.json`` beside this file."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

REFERENCE_FILE = Path(__file__).with_name("reference_ring_lite.json")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@lru_cache(maxsize=4)
def load_reference(path: str = str(REFERENCE_FILE)) -> dict:
    """The reference file as a dict (label, source, scores, aliases)."""
    data = json.loads(Path(path).read_text())
    for key in ("label", "source", "scores"):
        if key not in data:
            raise ValueError(f"{path}: missing key {key!r}")
    return data


def reference_scores(benchmarks: list[str], path: str = str(REFERENCE_FILE)) -> dict[str, float]:
    """Reference value for each of our benchmark names that the file knows (None-valued skipped)."""
    data = load_reference(path)
    by_alias: dict[str, str] = {}
    for key in data["scores"]:
        for alias in [key, *data.get("aliases", {}).get(key, [])]:
            by_alias[_norm(alias)] = key
    out = {}
    for bench in benchmarks:
        key = by_alias.get(_norm(bench))
        if key is not None and data["scores"].get(key) is not None:
            out[bench] = float(data["scores"][key])
    return out
