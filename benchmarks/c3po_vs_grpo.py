"""C3PO vs GRPO on the tiny model: same seed, same steps, one run (Ring-lite's stability claim).

Runs GRPO, C3PO as in the paper (the response that crosses the budget Phi is kept whole, the
rest dropped), C3PO with deferral (left-overs trained next step under the decoupled objective)
and C3PO ``exact`` (the crossing response's tail is masked), from the same policy with the same
seed, and prints per method: the coefficient of variation (std/mean) of the tokens trained per
step and of the tokens the update's forward passes process (each group's prompt once, see
``trainer.packing``); gradient-norm max/median; final and mean reward; and step-time CVs, then
each C3PO variant's ratio to GRPO. The issue's goal: C3PO's CVs <= 1/3 of GRPO's.

Step time. A step is rollouts (the sampler; identical work for every method: C3PO only chooses
which of the same samples to train on), grading, and the training step (packing, log-probs of
the policy and the reference, backward, optimiser). The budget fixes the training step. Its
in-run wall time is printed, but on a small shared VM one update of a fixed batch varies by
about +-10% from run to run (printed as ``timing noise``), which would hide the difference. So
every step's trained batch is recorded and, after the runs, timed again ``--reps`` times with
the methods and steps interleaved (a copy of the starting policy, learning rate 0), keeping the
fastest of each (``timeit``'s rule: noise only ever adds time): ``cv_train_step_time``.

The default task mix includes ``multi`` (1-6 operations, 21-78 response tokens), so response
lengths vary several-fold as they do for real reasoning models; start from a policy distilled on
the same kinds:

    ring train sft --steps 400 --kinds add,chain,multi --max-operand 9 --out SFT
    python benchmarks/c3po_vs_grpo.py --policy SFT/step_000400 --steps 30

Without ``--policy`` it runs that distillation itself first (from the embedded tiny model, a few
minutes), so ``make bench`` needs nothing prepared.

``--log-db`` stores the four runs' per-step metrics in the results DB, where the dashboard's
training page plots them side by side.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from trainer.config import SAMPLERS, RLConfig, SFTConfig

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
            "cv_forward_tokens": cv([h["forward_tokens"] for h in hist]),
            "cv_update_time_in_run": cv([h["update_time_s"] for h in timed]),
            "cv_step_time_in_run": cv([h["step_time_s"] for h in timed]),
            "gnorm_max_over_median": (max(g) / statistics.median(g)) if g else float("nan"),
            "final_reward": statistics.fmean(h["reward_mean"] for h in hist[-5:]),
            "mean_reward": statistics.fmean(h["reward_mean"] for h in hist),
            "tokens_mean": statistics.fmean(h["tokens_in_step"] for h in hist),
            "forward_tokens_mean": statistics.fmean(h["forward_tokens"] for h in hist),
            "rollout_time_mean_s": statistics.fmean(h["rollout_time_s"] for h in timed),
            "response_len_mean": statistics.fmean(h["response_len_mean"] for h in hist)}


def record_updates(rl_module) -> dict[str, list]:
    """Wrap the ``policy_update`` that ``trainer.rl`` calls so each call's samples and loss config are kept."""
    calls: dict[str, list] = {"batches": []}
    real = rl_module.policy_update

    def recording(model, ref, opt, samples, loss_cfg, **kw):
        calls["batches"].append((list(samples), loss_cfg, kw))
        return real(model, ref, opt, samples, loss_cfg, **kw)

    rl_module.policy_update = recording
    return calls


def replay_times(policy: str, batches: dict[str, list], reps: int) -> tuple[dict[str, list[float]], float]:
    """Fastest of ``reps`` timings of every recorded update (methods and steps interleaved), and
    the timing noise: the CV of repeated updates of one fixed batch."""
    import torch

    from trainer.modeling import BailingMoeForCausalLM
    from trainer.update import policy_update

    torch.set_num_threads(1)
    model = BailingMoeForCausalLM.from_pretrained(policy)
    ref = BailingMoeForCausalLM.from_pretrained(policy).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=0.0)

    def timed(samples, loss_cfg, kw) -> float:
        t0 = time.perf_counter()
        policy_update(model, ref, opt, samples, loss_cfg, **kw)
        return time.perf_counter() - t0

    labels = list(batches)
    n = min(len(batches[x]) for x in labels)
    best = {x: [float("inf")] * n for x in labels}
    noise = []
    for _ in tqdm(range(reps), desc="replay timing"):
        for i in range(n):
            for x in labels:
                best[x][i] = min(best[x][i], timed(*batches[x][i]))
        noise += [timed(*batches[labels[0]][n // 2]) for _ in range(4)]
    return best, cv(noise)


def distil(out: Path, kinds: tuple[str, ...], max_operand: int, steps: int, seed: int) -> str:
    """The starting policy: SFT of the embedded tiny model on the same task kinds."""
    from ring_serve.tiny_model import ensure_tiny_model
    from trainer.sft import run_sft

    cfg = SFTConfig(model_dir=str(ensure_tiny_model()), out_dir=str(out), steps=steps, eval_every=steps,
                    kinds=kinds, max_operand=max_operand, seed=seed, log_db=False)
    for _ in run_sft(cfg):
        pass
    return str(out / f"step_{steps:06d}")


def _rl_default(name: str):
    """``RLConfig``'s default, so the benchmark compares at what ``ring train rl`` runs."""
    return RLConfig.__dataclass_fields__[name].default


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", default=None, help="starting checkpoint (an SFT pick); default: distil one")
    ap.add_argument("--sft-steps", type=int, default=400, help="without --policy: SFT steps to distil it")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--prompts", type=int, default=_rl_default("prompts_per_step"))
    ap.add_argument("--group", type=int, default=_rl_default("group_size"))
    ap.add_argument("--budget", type=int, default=_rl_default("budget"), help="C3PO tokens per step (Phi)")
    ap.add_argument("--seed", type=int, default=_rl_default("seed"))
    ap.add_argument("--kinds", default="add,chain,multi", help="task kinds (multi: varied lengths)")
    ap.add_argument("--max-operand", type=int, default=9)
    ap.add_argument("--sampler", default=_rl_default("sampler"), choices=SAMPLERS)
    ap.add_argument("--reps", type=int, default=7, help="timings per recorded update (fastest kept)")
    ap.add_argument("--log-db", action="store_true", help="store per-step metrics for the dashboard")
    args = ap.parse_args()
    from trainer import rl
    from trainer.rl import run_rl

    kinds = tuple(k for k in args.kinds.split(",") if k)
    results, batches = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.policy is None:
            args.policy = distil(Path(tmp) / "sft", kinds, args.max_operand, args.sft_steps, args.seed)
        for label, mode, defer, exact in METHODS:
            cfg = RLConfig(policy_dir=args.policy, out_dir=str(Path(tmp) / label), stage="math", kinds=kinds,
                           steps=args.steps, prompts_per_step=args.prompts, group_size=args.group, mode=mode,
                           budget=args.budget, defer=defer, exact=exact, seed=args.seed, save_every=10**9,
                           sampler=args.sampler, max_operand=args.max_operand, log_db=args.log_db)
            calls = record_updates(rl)
            results[label] = summarise(run_rl(cfg))
            batches[label] = calls["batches"][1:]  # the first step warms up, as in summarise
        best, noise = replay_times(args.policy, batches, args.reps)
    for label, times in best.items():
        results[label]["cv_train_step_time"] = cv(times)
        results[label]["train_step_time_mean_s"] = statistics.fmean(times)
    labels = [m[0] for m in METHODS]
    print(f"\nseed {args.seed}, {args.steps} steps, {args.prompts}x{args.group} rollouts/step, Phi={args.budget}, "
          f"kinds {','.join(kinds)}, sampler {args.sampler}; timing noise (CV of one batch's update, "
          f"repeated) {noise:.3f}")
    print(f"{'metric':<24}" + "".join(f"{x:>12}" for x in labels)
          + "".join(f"{x + '/grpo':>17}" for x in labels[1:]))
    for key in results["grpo"]:
        vals = [results[x][key] for x in labels]
        ratios = [v / vals[0] if vals[0] else float("nan") for v in vals[1:]]
        print(f"{key:<24}" + "".join(f"{v:>12.4f}" for v in vals) + "".join(f"{r:>17.3f}" for r in ratios))
    goals = ("cv_tokens", "cv_forward_tokens", "cv_train_step_time")
    for x in labels[1:]:
        ok = ", ".join(f"{k} {'met' if results[x][k] <= results['grpo'][k] / 3 else 'MISSED'}" for k in goals)
        print(f"{x}: CV <= 1/3 of GRPO's (goal): {ok}")


if __name__ == "__main__":
    main()
