"""Accuracy of a checkpoint on the held-out synthetic suite (the one SFT and RL never train on).

    python -m trainer.heldout CKPT [CKPT...] --kinds add,chain --max-operand 9 --seed 0
    python -m trainer.heldout CKPT --kinds add,chain --max-operand 9 --n-val 400 --temperature 1 --samples 8

Scored with our torch model; ``ring train eval`` serves each checkpoint with vLLM instead and
takes the same options (``trainer.config.HeldoutConfig``, plus ``--top-p``).

``--n-val`` larger than the training runs' own ``n_val`` (48) draws more problems from the same
held-out stream and drops every question that is in the training set of ``split(n_train,
train_n_val)`` (the one SFT and RL drew with the defaults), so the suite stays unseen; the number
of problems actually evaluated is printed (with operands 0-9 nearly all ``add`` problems are in
the training set, so the extra ones are mostly chains).
"""
from __future__ import annotations

from pathlib import Path

import typer

from trainer.config import HeldoutConfig
from trainer.data import Task, split
from trainer.options import command, extra_argument

CHECKPOINTS = extra_argument("checkpoints", list[Path], "Checkpoint dirs (the SFT pick, an RL step...).")


def heldout_tasks(cfg: HeldoutConfig) -> list[Task]:
    """The first ``n_val`` held-out problems minus the questions of the training set
    ``split(n_train, train_n_val)`` (a no-op when ``n_val <= train_n_val``)."""
    _, val = split(0, cfg.n_val, cfg.seed, cfg.kinds, cfg.max_operand)
    if cfg.n_val <= cfg.train_n_val:
        return val
    train, _ = split(cfg.n_train, cfg.train_n_val, cfg.seed, cfg.kinds, cfg.max_operand)
    seen = {t.question for t in train}
    return [t for t in val if t.question not in seen]


def heldout_metrics(model_dir: str | Path, cfg: HeldoutConfig) -> dict[str, float]:
    """Entropy, loss and accuracy (greedy, or the mean over samples) of our torch model on the suite."""
    import torch  # here, not at the top: `ring train eval --help` imports this module

    from trainer.modeling import BailingMoeForCausalLM
    from trainer.sft import evaluate
    from trainer.tokenizer import load_tokenizer

    torch.set_num_threads(1)
    val = heldout_tasks(cfg)
    tok = load_tokenizer(model_dir)
    model = BailingMoeForCausalLM.from_pretrained(model_dir)
    m = evaluate(model, tok, val, max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
                 samples=cfg.samples, seed=cfg.eval_seed)
    return {**m, "n_problems": float(len(val))}


def _score(cfg: HeldoutConfig, checkpoints: list[Path]) -> int:
    samples = cfg.samples if cfg.temperature > 0 else 1
    for ckpt in checkpoints:
        m = heldout_metrics(ckpt, cfg)
        typer.echo(f"{ckpt}: val_acc {m['val_acc']:.3f}  entropy {m['entropy']:.3f}  val_loss {m['val_loss']:.3f}  "
                   f"problems {int(m['n_problems'])}  T {cfg.temperature}  samples {samples}")
    return 0


app = typer.Typer(add_completion=False)
app.command()(command(HeldoutConfig, _score, extra=[CHECKPOINTS], doc="Held-out accuracy (greedy, or sampled)."))

if __name__ == "__main__":
    app(prog_name="trainer.heldout")
