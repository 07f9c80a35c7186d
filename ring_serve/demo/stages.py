"""The demo's stages, each a `ring` command or server run for real, each returning its artefacts.

Every stage is ``(inputs, run, still_holds)``: ``inputs(ctx)`` decides whether a finished record can
be reused (``DemoState``), ``run(ctx)`` does the work and returns an ``Outcome`` (the artefacts later
stages and the report read, and the paths that must still exist for the record to count), and
``still_holds(artefacts)`` checks what is not a path (eval runs in the results DB).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ring_serve.demo.children import Children
from ring_serve.demo.jobs import Job
from ring_serve.demo.progress import StageBoard
from ring_serve.demo.recipe import KINDS, MAX_OPERAND, Recipe
from ring_serve.demo import records, serving

REWARD_COUNTS = "reward_service_counts.json"  # in the RL dir: what `ring reward serve` counted, all attempts


@dataclass
class Ctx:
    recipe: Recipe
    board: StageBoard
    children: Children
    prompt: str | None = None  # the chat question; None: the first held-out problem
    done: dict[str, dict] = field(default_factory=dict)  # stage key -> artefacts (this run or reused)
    record_ids: dict[str, str] = field(default_factory=dict)  # stage key -> its record's id


@dataclass
class Outcome:
    artefacts: dict
    paths: list = field(default_factory=list)


def sft_run_name(r: Recipe) -> str:
    return f"sft-{r.sft_dir.name}"  # the name trainer.sft logs under


def rl_run_name(r: Recipe) -> str:
    return f"rl-math-{r.rl_dir.name}"  # trainer.rl: rl-STAGE-OUTDIR


class StepWatch:
    """Polls the results DB for a training run's newest step and shows it on the board."""

    def __init__(self, board: StageBoard, key: str, run_name: str, total: int, every: int = 2):
        self.board, self.key, self.run_name, self.total, self.every = board, key, run_name, total, every
        self.polls = 0

    def __call__(self) -> None:
        self.polls += 1
        if self.polls % self.every == 0:
            step = records.training_steps(records.newest_training_run(self.run_name))
            if step:  # until the first step the stage's own note ("starting ...") stays
                self.board.step(self.key, step, self.total)


# --- 1. the tiny model -------------------------------------------------------------------------

def model_inputs(ctx: Ctx) -> dict:
    return {"tiny_model_seed": 0}


def build_model(ctx: Ctx) -> Outcome:
    from ring_serve.tiny_model import ensure_tiny_model

    path = ensure_tiny_model()
    return Outcome({"model": str(path)}, [path / "model.safetensors"])


# --- 2. distillation SFT, then `ring train select` ------------------------------------------------

def sft_inputs(ctx: Ctx) -> dict:
    r = ctx.recipe
    return {"model": ctx.done["model"]["model"], "steps": r.sft_steps, "every": r.sft_every, "seed": r.seed,
            "kinds": KINDS, "max_operand": MAX_OPERAND}


def distil(ctx: Ctx) -> Outcome:
    r = ctx.recipe
    shutil.rmtree(r.sft_dir, ignore_errors=True)  # SFT does not resume: a new attempt starts clean
    records.forget_training_runs([sft_run_name(r)])
    job = ctx.children.track(Job("ring train sft", [
        "train", "sft", "--model", ctx.done["model"]["model"], "--out", str(r.sft_dir), "--steps", str(r.sft_steps),
        "--eval-every", str(r.sft_every), "--kinds", ",".join(KINDS), "--max-operand", str(MAX_OPERAND),
        "--seed", str(r.seed)], r.log("sft")))
    job.run(on_poll=StepWatch(ctx.board, "sft", sft_run_name(r), r.sft_steps))
    ckpts = sorted(str(p.parent) for p in r.sft_dir.glob("step_*/metrics.json"))
    return Outcome({"dir": str(r.sft_dir), "checkpoints": ckpts, "log": str(job.log_path),
                    "training_run": records.newest_training_run(sft_run_name(r))}, ckpts)


def select_inputs(ctx: Ctx) -> dict:
    return {"checkpoints": ctx.done["sft"]["checkpoints"], "by": "accuracy"}


def select(ctx: Ctx) -> Outcome:
    """`ring train select`, by validation accuracy: the paper's 0.3-0.5 entropy window is Ring-lite's;
    the tiny model's checkpoints all sit far below it (about 0.07-0.17), so the window would pick
    the earliest, least trained one."""
    r = ctx.recipe
    job = ctx.children.track(Job("ring train select", [
        "train", "select", ctx.done["sft"]["dir"], "--by", "accuracy", "--json"], r.log("select")))
    job.run(poll_s=0.2)
    reply = json.loads(next(line for line in reversed(job.output().splitlines()) if line.startswith("{")))
    pick = reply["pick"]
    return Outcome({"pick": pick["path"], "step": pick["step"], "val_acc": pick["val_acc"],
                    "entropy": pick["entropy"], "by_entropy": reply["by_entropy"][0]}, [pick["path"]])


# --- 3 and 5. serve a checkpoint, chat, ring eval ------------------------------------------------

def eval_inputs(source: str, ckpt_key: str) -> Callable[[Ctx], dict]:
    def inputs(ctx: Ctx) -> dict:
        return {"checkpoint": ctx.done[source][ckpt_key], "eval": serving.eval_fields(ctx.recipe),
                "prompt": ctx.prompt}
    return inputs


def score_sft(ctx: Ctx) -> Outcome:
    return _score(ctx, "eval-sft", ctx.done["select"]["pick"], ctx.recipe.sft_dir.name)


def score_rl(ctx: Ctx) -> Outcome:
    return _score(ctx, "eval-rl", ctx.done["rl"]["checkpoint"], ctx.recipe.rl_dir.name)


def _score(ctx: Ctx, key: str, checkpoint: str, prefix: str) -> Outcome:
    r = ctx.recipe
    name = f"{prefix}/{Path(checkpoint).name}"
    records.forget_models([prefix])  # a re-run scores from scratch, never on an older attempt's samples
    suite = serving.heldout_suite(r)
    ctx.board.note(key, "starting vLLM")
    server = ctx.children.start(serving.checkpoint_server(checkpoint, name, r.log(f"serve-{key}")))
    ctx.board.note(key, "chat")
    chat = serving.ask(server, name, ctx.prompt or serving.first_problem(suite))
    runs = {}
    for suite_key, cfg in serving.eval_configs(r, server, name, suite).items():
        ctx.board.note(key, f"ring eval {suite_key}, k={cfg.k}")
        runs[suite_key] = serving.evaluate(cfg)
    ctx.children.stop(server)
    return Outcome({"model": name, "checkpoint": checkpoint, "chat": chat, "runs": runs,
                    "log": str(server.log_path)}, [checkpoint])


# --- 4. `ring reward serve` + C3PO RL ------------------------------------------------------------

def rl_inputs(ctx: Ctx) -> dict:
    r = ctx.recipe
    return {"policy": ctx.done["select"]["pick"], "steps": r.rl_steps, "seed": r.seed, "max_operand": MAX_OPERAND}


def reinforce(ctx: Ctx) -> Outcome:
    r = ctx.recipe
    resume = _prepare_rl_dir(r, rl_inputs(ctx))
    ckpt = r.rl_dir / f"step_{r.rl_steps:06d}"
    if not (ckpt / "config.json").is_file():  # else an earlier attempt finished training: keep it
        _train_rl(ctx, resume)
    return Outcome({"checkpoint": str(ckpt), "dir": str(r.rl_dir), "log": str(r.log("rl")),
                    "training_run": records.newest_training_run(rl_run_name(r)),
                    "reward_service": _reward_totals(r.rl_dir / REWARD_COUNTS)}, [ckpt / "config.json"])


def _train_rl(ctx: Ctx, resume: bool) -> None:
    """`ring reward serve` with a bearer key, then `ring train rl` grading through it; the service's
    own /metrics counts are added to the run's (a resumed run has several services)."""
    from ring_serve.reward.spawn import RewardService

    r = ctx.recipe
    key = secrets.token_hex(16)  # the service requires a bearer key, as a deployed one would
    ctx.board.note("rl", "starting ring reward serve")
    reward = ctx.children.start(RewardService(api_key=key), 120)
    args = ["train", "rl", ctx.done["select"]["pick"], "--out", str(r.rl_dir), "--steps", str(r.rl_steps),
            "--max-operand", str(MAX_OPERAND), "--seed", str(r.seed), "--reward-url", reward.base_url]
    job = ctx.children.track(Job("ring train rl", args + (["--resume"] if resume else []), r.log("rl"),
                                 env={**os.environ, "RING_API_KEY": key}))
    ctx.board.note("rl", "starting the rollout engine")
    try:
        job.run(on_poll=StepWatch(ctx.board, "rl", rl_run_name(r), r.rl_steps))
    finally:  # counted even when the run stops early: what the service graded happened
        with suppress(OSError):  # a failed scrape must not hide the job's own error
            _add_reward_counts(r.rl_dir / REWARD_COUNTS, serving.reward_counts(reward.base_url, reward.headers()))
        ctx.children.stop(reward)


def _reward_totals(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {"reward_requests": 0.0, "items": {}}


def _add_reward_counts(path: Path, new: dict) -> None:
    old = _reward_totals(path)
    old["reward_requests"] += new["reward_requests"]
    for outcome, n in new["items"].items():
        old["items"][outcome] = old["items"].get(outcome, 0.0) + n
    path.write_text(json.dumps(old))


def _prepare_rl_dir(r: Recipe, inputs: dict) -> bool:
    """Keep an interrupted attempt with the same inputs (RL resumes from its newest checkpoint);
    anything else starts clean. Returns whether to resume."""
    marker = r.rl_dir / "demo_inputs.json"
    if marker.is_file() and json.loads(marker.read_text()) == json.loads(json.dumps(inputs)):
        return True
    shutil.rmtree(r.rl_dir, ignore_errors=True)
    records.forget_training_runs([rl_run_name(r)])
    r.rl_dir.mkdir(parents=True)
    marker.write_text(json.dumps(inputs))
    return False


def runs_stored(artefacts: dict) -> bool:
    """An eval stage's record holds only while its runs are still complete in the results DB."""
    return all(records.run_metrics(rid) for rid in artefacts["runs"].values())


def on_disk(artefacts: dict) -> bool:
    return True  # the record's paths are checked by DemoState


# the stages each one builds on: a new record of one of them makes this one stale
DEPENDS = {"model": (), "sft": ("model",), "select": ("sft",), "eval-sft": ("select",), "rl": ("select",),
           "eval-rl": ("rl",)}

# key -> (inputs, run, whether a finished record's artefacts still hold beyond its paths)
STAGE_STEPS = {
    "model": (model_inputs, build_model, on_disk),
    "sft": (sft_inputs, distil, on_disk),
    "select": (select_inputs, select, on_disk),
    "eval-sft": (eval_inputs("select", "pick"), score_sft, runs_stored),
    "rl": (rl_inputs, reinforce, on_disk),
    "eval-rl": (eval_inputs("rl", "checkpoint"), score_rl, runs_stored),
}
