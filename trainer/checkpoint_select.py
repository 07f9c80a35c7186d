"""Entropy-based checkpoint selection (Ring-lite Sec. 4.1).

The paper finds that the distilled checkpoint that makes the best RL starting point is not the
one with the best validation score but one whose token-level entropy ("entropy loss") on the
validation traces still lies in a moderate window, 0.3-0.5 for Ring-lite: lower entropy means an
over-fitted, low-exploration policy that RL struggles to move. We rank both ways and report both:

- by entropy: checkpoints inside [lo, hi] first, nearest the window's midpoint, later steps
  winning ties; if none is inside, the one nearest the window;
- by validation accuracy: highest ``val_acc``, later steps winning ties.

The pick is the entropy ranking's first unless ``by="accuracy"``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Selection:
    pick: dict
    by_entropy: list[dict]
    by_accuracy: list[dict]
    window: tuple[float, float]


def load_checkpoints(root: str | Path) -> list[dict]:
    """``metrics.json`` of every checkpoint directly under ``root`` (as written by ``trainer.sft``)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no checkpoint directory {root}")
    out = []
    for f in sorted(root.glob("*/metrics.json")):
        rec = json.loads(f.read_text())
        if "entropy" not in rec or "val_acc" not in rec:
            raise ValueError(f"{f} lacks entropy/val_acc")
        rec.setdefault("path", str(f.parent))
        out.append(rec)
    if not out:
        raise FileNotFoundError(f"no */metrics.json checkpoints under {root}")
    return out


def entropy_distance(entropy: float, window: tuple[float, float]) -> float:
    lo, hi = window
    return 0.0 if lo <= entropy <= hi else min(abs(entropy - lo), abs(entropy - hi))


def select_checkpoint(ckpts: list[dict], window: tuple[float, float] = (0.3, 0.5),
                      by: str = "entropy") -> Selection:
    lo, hi = window
    if not lo <= hi:
        raise ValueError(f"entropy window must have lo <= hi, got {window}")
    if by not in ("entropy", "accuracy"):
        raise ValueError(f"select by 'entropy' or 'accuracy', not {by!r}")
    if not ckpts:
        raise ValueError("no checkpoints to select from")
    mid = (lo + hi) / 2
    by_entropy = sorted(ckpts, key=lambda c: (entropy_distance(c["entropy"], window),
                                              abs(c["entropy"] - mid), -c["step"]))
    by_accuracy = sorted(ckpts, key=lambda c: (-c["val_acc"], -c["step"]))
    pick = by_entropy[0] if by == "entropy" else by_accuracy[0]
    return Selection(pick=pick, by_entropy=by_entropy, by_accuracy=by_accuracy, window=(lo, hi))
