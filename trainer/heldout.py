"""Accuracy of a checkpoint on the held-out synthetic suite (the one SFT and RL never train on).

    python -m trainer.heldout CKPT [CKPT...] --kinds add,chain --max-operand 9 --seed 0
    python -m trainer.heldout CKPT --kinds add,chain --max-operand 9 --n-val 400 --temperature 1 --samples 8

``--n-val`` larger than the training runs' own ``n_val`` (48) draws more problems from the same
held-out stream and drops every question that is in the training set of ``split(n_train,
train_n_val)`` (the one SFT and RL drew with the defaults), so the suite stays unseen; the number
of problems actually evaluated is printed (with operands 0-9 nearly all ``add`` problems are in
the training set, so the extra ones are mostly chains).
"""
from __future__ import annotations

import argparse

import torch

from trainer.batching import load_tokenizer
from trainer.data import response_tokens, split
from trainer.modeling import BailingMoeForCausalLM
from trainer.sft import evaluate


def heldout_tasks(seed: int, kinds: tuple[str, ...], max_operand: int, n_val: int, n_train: int = 360,
                  train_n_val: int = 48):
    """The first ``n_val`` held-out problems minus the questions of the training set
    ``split(n_train, train_n_val)`` (a no-op when ``n_val <= train_n_val``)."""
    _, val = split(0, n_val, seed, kinds, max_operand)
    if n_val <= train_n_val:
        return val
    train, _ = split(n_train, train_n_val, seed, kinds, max_operand)
    seen = {t.question for t in train}
    return [t for t in val if t.question not in seen]


def heldout_metrics(model_dir: str, seed: int = 0, kinds: tuple[str, ...] = ("add",), max_operand: int = 20,
                    n_val: int = 48, max_new_tokens: int | None = None, temperature: float = 0.0,
                    samples: int = 1, n_train: int = 360, train_n_val: int = 48,
                    eval_seed: int | None = None) -> dict[str, float]:
    torch.set_num_threads(1)
    val = heldout_tasks(seed, kinds, max_operand, n_val, n_train, train_n_val)
    model = BailingMoeForCausalLM.from_pretrained(model_dir)
    m = evaluate(model, load_tokenizer(model_dir), val,
                 max_new_tokens=max_new_tokens or response_tokens(kinds), temperature=temperature,
                 samples=samples, seed=seed if eval_seed is None else eval_seed)
    return {**m, "n_problems": float(len(val))}


def main() -> None:
    ap = argparse.ArgumentParser(description="held-out accuracy (greedy, or sampled)")
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--kinds", default="add")
    ap.add_argument("--max-operand", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-val", type=int, default=48)
    ap.add_argument("--n-train", type=int, default=360, help="training-set size to exclude when --n-val > 48")
    ap.add_argument("--train-n-val", type=int, default=48, help="n_val the training runs used")
    ap.add_argument("--temperature", type=float, default=0.0, help="0: greedy; 1.0 is the paper's eval setting")
    ap.add_argument("--samples", type=int, default=1, help="samples per problem when temperature > 0")
    ap.add_argument("--eval-seed", type=int, default=None, help="sampling seed (default: --seed)")
    args = ap.parse_args()
    for ckpt in args.checkpoints:
        m = heldout_metrics(ckpt, args.seed, tuple(args.kinds.split(",")), args.max_operand, args.n_val,
                            temperature=args.temperature, samples=args.samples, n_train=args.n_train,
                            train_n_val=args.train_n_val, eval_seed=args.eval_seed)
        print(f"{ckpt}: val_acc {m['val_acc']:.3f}  entropy {m['entropy']:.3f}  val_loss {m['val_loss']:.3f}  "
              f"problems {int(m['n_problems'])}  T {args.temperature}  samples {args.samples if args.temperature > 0 else 1}",
              flush=True)


if __name__ == "__main__":
    main()
