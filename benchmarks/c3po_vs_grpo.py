"""C3PO vs GRPO on the tiny model: same seed, same steps, one run (Ring-lite's stability claim).

Prints, for each method: coefficient of variation (std/mean) of tokens per step, of the update
time per step (forward+backward+optimizer, rollouts excluded since they are the same work for
both) and of the whole step time;
C3PO is run twice: whole crossing response (paper) and ``exact`` (tail of it masked); gradient-norm max/median; final and mean reward. The goal
from the issue is C3PO's CVs <= 1/3 of GRPO's.

    python benchmarks/c3po_vs_grpo.py --policy RING_HOME/train/sft-seed0/step_000400 --steps 20
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path


def cv(xs: list[float]) -> float:
    m = statistics.fmean(xs)
    return statistics.pstdev(xs) / m if m else float("nan")


def summarise(hist: list[dict]) -> dict[str, float]:
    g = [h["grad_norm"] for h in hist if h["updated"]]
    return {"cv_tokens": cv([h["tokens_in_step"] for h in hist]),
            "cv_update_time": cv([h["update_time_s"] for h in hist]),
            "cv_step_time": cv([h["step_time_s"] for h in hist]),
            "gnorm_max_over_median": (max(g) / statistics.median(g)) if g else float("nan"),
            "final_reward": hist[-1]["reward_mean"],
            "mean_reward": statistics.fmean(h["reward_mean"] for h in hist),
            "tokens_mean": statistics.fmean(h["tokens_in_step"] for h in hist)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", required=True, help="starting checkpoint (an SFT pick)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--group", type=int, default=4)
    ap.add_argument("--budget", type=int, default=256, help="C3PO tokens per step")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stage", default="math")
    ap.add_argument("--max-operand", type=int, default=9)
    ap.add_argument("--sampler", default="torch", choices=["torch", "vllm"])
    args = ap.parse_args()
    from trainer.rl import RLConfig, run_rl

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, mode, exact in (("grpo", "grpo", False), ("c3po", "c3po", False), ("c3po_exact", "c3po", True)):
            cfg = RLConfig(policy_dir=args.policy, out_dir=str(Path(tmp) / label), stage=args.stage,
                           steps=args.steps, exact=exact,
                           prompts_per_step=args.prompts, group_size=args.group, mode=mode, budget=args.budget,
                           seed=args.seed, save_every=10**9, sampler=args.sampler, max_operand=args.max_operand,
                           log_db=False)
            results[label] = summarise(run_rl(cfg))
    keys = list(results["grpo"])
    print(f"seed {args.seed}, {args.steps} steps, {args.prompts}x{args.group} rollouts/step, Phi={args.budget}, "
          f"sampler {args.sampler}")
    print(f"{'metric':<24}{'grpo':>10}{'c3po':>10}{'c3po_exact':>11}{'c3po/grpo':>11}{'exact/grpo':>11}")
    for k in keys:
        a, b, c = results["grpo"][k], results["c3po"][k], results["c3po_exact"][k]
        print(f"{k:<24}{a:>10.4f}{b:>10.4f}{c:>11.4f}{(b / a if a else float('nan')):>11.3f}"
              f"{(c / a if a else float('nan')):>11.3f}")


if __name__ == "__main__":
    main()
