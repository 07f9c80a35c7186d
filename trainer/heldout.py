"""Greedy accuracy of a checkpoint on the held-out synthetic suite (the one SFT and RL never train on).

    python -m trainer.heldout CKPT [CKPT...] --kinds add,chain --max-operand 9 --seed 0
"""
from __future__ import annotations

import argparse

import torch

from trainer.batching import load_tokenizer
from trainer.data import split
from trainer.modeling import BailingMoeForCausalLM
from trainer.sft import evaluate


def heldout_metrics(model_dir: str, seed: int = 0, kinds: tuple[str, ...] = ("add",), max_operand: int = 20,
                    n_val: int = 48, max_new_tokens: int = 40, temperature: float = 0.0,
                    samples: int = 1) -> dict[str, float]:
    torch.set_num_threads(1)
    _, val = split(0, n_val, seed, kinds, max_operand)
    model = BailingMoeForCausalLM.from_pretrained(model_dir)
    return evaluate(model, load_tokenizer(model_dir), val, max_new_tokens=max_new_tokens,
                    temperature=temperature, samples=samples, seed=seed)


def main() -> None:
    ap = argparse.ArgumentParser(description="held-out greedy accuracy")
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--kinds", default="add")
    ap.add_argument("--max-operand", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-val", type=int, default=48)
    ap.add_argument("--temperature", type=float, default=0.0, help="0: greedy; 1.0 is the paper's eval setting")
    ap.add_argument("--samples", type=int, default=1, help="samples per problem when temperature > 0")
    args = ap.parse_args()
    for ckpt in args.checkpoints:
        m = heldout_metrics(ckpt, args.seed, tuple(args.kinds.split(",")), args.max_operand, args.n_val,
                            temperature=args.temperature, samples=args.samples)
        print(f"{ckpt}: val_acc {m['val_acc']:.3f}  entropy {m['entropy']:.3f}  val_loss {m['val_loss']:.3f}")


if __name__ == "__main__":
    main()
