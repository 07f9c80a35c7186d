"""C3PO vs GRPO on the tiny model: same seed, same steps, one run (Ring-lite's stability claim).

Runs GRPO, C3PO as in the paper (the response that crosses the budget Phi is kept whole, the
rest dropped), C3PO with deferral (left-overs trained next step under the decoupled objective)
and C3PO ``exact`` (the crossing response's tail is masked), from the same policy with the same
seed. Prints, per method: coefficient of variation (std/mean) of the tokens trained per step, of
the update time (forward + backward + optimiser: the training engine's work, which the budget
fixes) and of the whole step time (rollouts included: the same work for every method, so they
dilute the difference); gradient-norm max/median; final and mean reward; then each C3PO variant's
ratio to GRPO. The issue's goal: C3PO's CVs <= 1/3 of GRPO's.

The default task mix includes ``multi`` (1-6 operations, 21-78 response tokens), so response
lengths vary several-fold as they do for real reasoning models; start from a policy distilled on
the same kinds:

    ring train sft --steps 400 --kinds add,chain,multi --max-operand 9 --out SFT
    python benchmarks/c3po_vs_grpo.py --policy SFT/step_000400 --steps 30

``--log-db`` stores the four runs' per-step metrics in the results DB, where the dashboard's
training page plots them side by side.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

METHODS = (("grpo", "grpo", False, False), ("c3po", "c3po", False, False),
           ("c3po_defer", "c3po", True, False), ("c3po_exact", "c3po", False, True))


def cv(xs: list[float]) -> float:
    m = statistics.fmean(xs)
    return statistics.pstdev(xs) / m if m else float("nan")


def summarise(hist: list[dict]) -> dict[str, float]:
    g = [h["grad_norm"] for h in hist if h["updated"]]
    # the first step pays one-off warm-up (allocator, thread pools) in every method alike
    timed = hist[1:] if len(hist) > 2 else hist
    return {"cv_tokens": cv([h["tokens_in_step"] for h in hist]),
            "cv_update_time": cv([h["update_time_s"] for h in timed]),
            "cv_step_time": cv([h["step_time_s"] for h in timed]),
            "gnorm_max_over_median": (max(g) / statistics.median(g)) if g else float("nan"),
            "final_reward": statistics.fmean(h["reward_mean"] for h in hist[-5:]),
            "mean_reward": statistics.fmean(h["reward_mean"] for h in hist),
            "tokens_mean": statistics.fmean(h["tokens_in_step"] for h in hist),
            "update_time_mean_s": statistics.fmean(h["update_time_s"] for h in timed),
            "response_len_mean": statistics.fmean(h["response_len_mean"] for h in hist)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", required=True, help="starting checkpoint (an SFT pick)")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--budget", type=int, default=1024, help="C3PO tokens per step (Phi)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kinds", default="add,chain,multi", help="task kinds (multi: varied lengths)")
    ap.add_argument("--max-operand", type=int, default=9)
    ap.add_argument("--sampler", default="torch", choices=["torch", "vllm"])
    ap.add_argument("--log-db", action="store_true", help="store per-step metrics for the dashboard")
    args = ap.parse_args()
    from trainer.rl import RLConfig, run_rl

    kinds = tuple(k for k in args.kinds.split(",") if k)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, mode, defer, exact in METHODS:
            cfg = RLConfig(policy_dir=args.policy, out_dir=str(Path(tmp) / label), stage="math", kinds=kinds,
                           steps=args.steps, prompts_per_step=args.prompts, group_size=args.group, mode=mode,
                           budget=args.budget, defer=defer, exact=exact, seed=args.seed, save_every=10**9,
                           sampler=args.sampler, max_operand=args.max_operand, log_db=args.log_db)
            results[label] = summarise(run_rl(cfg))
    labels = [m[0] for m in METHODS]
    print(f"\nseed {args.seed}, {args.steps} steps, {args.prompts}x{args.group} rollouts/step, Phi={args.budget}, "
          f"kinds {','.join(kinds)}, sampler {args.sampler}")
    print(f"{'metric':<24}" + "".join(f"{x:>12}" for x in labels)
          + "".join(f"{x + '/grpo':>17}" for x in labels[1:]))
    for key in results["grpo"]:
        vals = [results[x][key] for x in labels]
        ratios = [v / vals[0] if vals[0] else float("nan") for v in vals[1:]]
        print(f"{key:<24}" + "".join(f"{v:>12.4f}" for v in vals) + "".join(f"{r:>17.3f}" for r in ratios))
    for x in labels[1:]:
        ok = [results[x][k] <= results["grpo"][k] / 3 for k in ("cv_tokens", "cv_update_time", "cv_step_time")]
        print(f"{x}: CV <= 1/3 of GRPO's (goal) — tokens {'met' if ok[0] else 'MISSED'}, update time "
              f"{'met' if ok[1] else 'MISSED'}, step time {'met' if ok[2] else 'MISSED'}")


if __name__ == "__main__":
    main()
