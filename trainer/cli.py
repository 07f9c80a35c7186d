"""Implementations behind `ring train sft|select|rl|eval` (the Typer wrappers live in ring_serve/cli.py)."""
from __future__ import annotations

import json
from pathlib import Path

import typer


def sft(model: Path | None, out: Path | None, steps: int, batch_size: int, lr: float, seed: int,
        eval_every: int, max_operand: int, kinds: str, n_val: int) -> int:
    from ring_serve.config import ensure_tiny_model, ring_home
    from trainer.sft import SFTConfig, run_sft

    model_dir = Path(model) if model else ensure_tiny_model()
    if not (model_dir / "config.json").exists():
        typer.echo(f"error: {model_dir} is not a checkpoint directory (no config.json)", err=True)
        return 2
    out = Path(out) if out else ring_home() / "train" / f"sft-seed{seed}"
    try:
        cfg = SFTConfig(model_dir=str(model_dir), out_dir=str(out), steps=steps, batch_size=batch_size, lr=lr,
                        seed=seed, eval_every=eval_every, max_operand=max_operand,
                        kinds=tuple(k.strip() for k in kinds.split(",") if k.strip()), n_val=n_val)
        results = run_sft(cfg)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    for r in results:
        typer.echo(f"step {r['step']:>6}  entropy {r['entropy']:.3f}  val_acc {r['val_acc']:.3f}  {r['path']}")
    return 0


def select(checkpoints: Path, lo: float, hi: float, by: str, as_json: bool) -> int:
    from trainer.select import load_checkpoints, select_checkpoint

    try:
        sel = select_checkpoint(load_checkpoints(checkpoints), (lo, hi), by)
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    if as_json:
        typer.echo(json.dumps({"pick": sel.pick, "by_entropy": [c["path"] for c in sel.by_entropy],
                               "by_accuracy": [c["path"] for c in sel.by_accuracy], "window": sel.window}))
        return 0
    typer.echo(f"entropy window {lo}-{hi}")
    typer.echo(f"{'step':>8} {'entropy':>8} {'val_acc':>8}  path")
    for c in sorted(sel.by_entropy, key=lambda c: c["step"]):
        typer.echo(f"{c['step']:>8} {c['entropy']:>8.3f} {c['val_acc']:>8.3f}  {c['path']}")
    typer.echo(f"best by entropy:  {sel.by_entropy[0]['path']}")
    typer.echo(f"best by accuracy: {sel.by_accuracy[0]['path']}")
    typer.echo(f"pick ({by}): {sel.pick['path']}")
    return 0


def rl(policy: Path, out: Path | None, stage: str, steps: int, prompts_per_step: int, group_size: int,
       mode: str, budget: int, defer: bool, lr: float, seed: int, save_every: int, resume: bool, sampler: str,
       max_operand: int, max_new_tokens: int | None, reward_url: str | None = None,
       micro_tokens: int | None = None) -> int:
    from ring_serve.config import ring_home
    from trainer.rl import RLConfig, run_rl

    if not (Path(policy) / "config.json").exists():
        typer.echo(f"error: {policy} is not a checkpoint directory (no config.json)", err=True)
        return 2
    out = Path(out) if out else ring_home() / "train" / f"rl-{stage}-{mode}-seed{seed}"
    try:
        cfg = RLConfig(policy_dir=str(policy), out_dir=str(out), stage=stage, steps=steps,
                       prompts_per_step=prompts_per_step, group_size=group_size, mode=mode, budget=budget,
                       defer=defer, lr=lr, seed=seed, save_every=save_every, resume=resume, sampler=sampler,
                       max_operand=max_operand, max_new_tokens=max_new_tokens, reward_url=reward_url,
                       **({"micro_tokens": micro_tokens} if micro_tokens is not None else {}))
        hist = run_rl(cfg)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    if hist:
        last = hist[-1]
        syncs = [h["weight_sync_s"] for h in hist if h["updated"]]
        typer.echo(f"{len(hist)} steps; last reward {last['reward_mean']:.3f}; mean weight sync "
                   f"{(sum(syncs) / len(syncs)) if syncs else 0.0:.3f}s; checkpoints in {out}")
    return 0


def served_eval(checkpoints: list[Path], kinds: str, max_operand: int, seed: int, n_val: int, k: int,
                temperature: float, top_p: float, max_tokens: int | None, sample_seed: int) -> int:
    from evaluators.runner.run import EvalError
    from ring_serve.config import ring_home
    from ring_serve.server import ServerError
    from trainer.served_eval import evaluate_served

    try:
        scores = evaluate_served(list(checkpoints), ring_home() / "train" / "heldout", seed=seed,
                                 kinds=tuple(x.strip() for x in kinds.split(",") if x.strip()),
                                 max_operand=max_operand, n_val=n_val, k=k, temperature=temperature, top_p=top_p,
                                 max_tokens=max_tokens, sample_seed=sample_seed)
    except (ValueError, EvalError, ServerError) as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    for s in scores:
        typer.echo(f"{s.model}: avg@{k} {s.avg:.3f}  95% CI [{s.ci95[0]:.3f}, {s.ci95[1]:.3f}]  "
                   f"problems {s.problems}  samples {s.samples}  run {s.run_id}")
    return 0
