"""`ring train sft|select|rl|eval`: the trainer's commands (``trainer/``) and the served held-out eval.

``sft``, ``rl`` and ``eval`` get their options from the config dataclasses (``trainer.config``,
``ring_serve.served_eval.ServedEvalConfig``) through ``trainer.options``, the same declaration
``python -m trainer.torchrun`` and ``python -m trainer.heldout`` are built from. ``rl`` adds the
rollout placement options (``ring_serve.ray_placement``: plain processes, or Ray actors with ``--ray``).
"""
from __future__ import annotations

import json
from pathlib import Path

import typer

from ring_serve.ray_placement import RayPlacement
from ring_serve.served_eval import ServedEvalConfig, evaluate_served
from trainer.config import RLConfig, SFTConfig
from trainer.heldout import CHECKPOINTS
from trainer.options import build, command, extra_options

app = typer.Typer(help="Ring-lite training: distillation SFT, checkpoint selection, RL (C3PO).",
                  no_args_is_help=True)


def _tiny_model() -> str:
    from ring_serve.tiny_model import ensure_tiny_model

    return str(ensure_tiny_model())


def _sft(cfg: SFTConfig) -> int:
    from trainer.sft import run_sft

    for r in run_sft(cfg):
        typer.echo(f"step {r['step']:>6}  entropy {r['entropy']:.3f}  val_acc {r['val_acc']:.3f}  {r['path']}")
    return 0


def _rl(cfg: RLConfig, **placement) -> int:
    """``placement``: the ``RayPlacement`` options only ``ring train rl`` has (none: the defaults)."""
    where = build(RayPlacement, placement) if placement else RayPlacement()
    if where.on_ray:
        return _rl_on_ray(cfg, where)
    if cfg.async_rollouts and not cfg.rollout_urls:
        return _rl_with_servers(cfg, where.rollout_servers)
    from trainer.rl import run_rl

    return _report(cfg, run_rl(cfg))


def _report(cfg: RLConfig, hist: list[dict]) -> int:
    if hist:
        syncs = [h["weight_sync_s"] for h in hist if h["updated"]]
        typer.echo(f"{len(hist)} steps; last reward {hist[-1]['reward_mean']:.3f}; mean weight sync "
                   f"{(sum(syncs) / len(syncs)) if syncs else 0.0:.3f}s; checkpoints in {cfg.out_dir}")
    return 0


def _rl_with_servers(cfg: RLConfig, n: int) -> int:
    """--async without --rollout-url or --ray: ``n`` vLLM rollout servers as child processes."""
    import dataclasses

    from ring_serve.rollout_servers import rollout_servers, start_weights

    typer.echo(f"starting {n} vLLM rollout server(s) for --async (30-100 s each on 2 cores)")
    with rollout_servers(start_weights(cfg.policy_dir, cfg.out_dir, cfg.resume), n) as urls:
        return _rl(dataclasses.replace(cfg, rollout_urls=tuple(urls)))


def _rl_on_ray(cfg: RLConfig, where: RayPlacement) -> int:
    """--ray: rollout servers and trainer as Ray actors (``ring_serve.ray_launch``)."""
    import importlib.util

    if not cfg.async_rollouts:
        raise ValueError("--ray places the actors of an --async run: add --async")
    if cfg.rollout_urls:
        raise ValueError("--ray starts its own rollout servers: drop --rollout-url")
    if importlib.util.find_spec("ray") is None:
        raise ValueError("--ray needs Ray: pip install 'ring-lab[ray]'")
    from ring_serve.ray_launch import RayLaunchError, run_rl_on_ray

    typer.echo(f"Ray ({where.ray_address}): {where.rollout_servers} rollout server actor(s) "
               f"{where.rollout_bundle()} and a trainer actor {where.trainer_bundle()}")
    try:
        return _report(cfg, run_rl_on_ray(cfg, where))
    except RayLaunchError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2


def _served_eval(cfg: ServedEvalConfig, checkpoints: list[Path]) -> int:
    from evaluators.runner.run import EvalError
    from ring_core.paths import train_dir
    from ring_core.service import ServiceError

    try:
        scores = evaluate_served(list(checkpoints), train_dir("heldout"), cfg)
    except (EvalError, ServiceError) as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    for s in scores:
        typer.echo(f"{s.model}: avg@{cfg.samples} {s.avg:.3f}  95% CI [{s.ci95[0]:.3f}, {s.ci95[1]:.3f}]  "
                   f"problems {s.problems}  samples {s.samples}  run {s.run_id}")
    return 0


app.command("sft")(command(SFTConfig, _sft, fill={"model_dir": _tiny_model}, doc=(
    "Distillation SFT on synthetic <think> traces; saves checkpoints with entropy and val accuracy.")))
app.command("rl")(command(RLConfig, _rl, extra=extra_options(RayPlacement), doc=(
    "RL with C3PO: vLLM rollouts, verifier rewards, in-place weight sync, metrics in the results DB.")))
app.command("eval")(command(ServedEvalConfig, _served_eval, extra=[CHECKPOINTS], doc=(
    "Serve each checkpoint with vLLM and score it on the held-out synthetic suite with `ring eval`.")))


@app.command("select")
def train_select(checkpoints: Path = typer.Argument(..., help="Directory of SFT checkpoints."),
                 lo: float = typer.Option(0.3, help="Entropy window, lower end."),
                 hi: float = typer.Option(0.5, help="Entropy window, upper end."),
                 by: str = typer.Option("entropy", help="Pick by 'entropy' (paper) or 'accuracy'."),
                 as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Rank SFT checkpoints by entropy window and by validation accuracy; print the pick."""
    raise typer.Exit(_select(checkpoints, lo, hi, by, as_json))


def _select(checkpoints: Path, lo: float, hi: float, by: str, as_json: bool) -> int:
    from trainer.checkpoint_select import load_checkpoints, select_checkpoint

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
