"""RL stage of the Ring-lite recipe: rollouts -> verifier rewards -> C3PO (or GRPO) update.

One step (``_train_step``), in named stages so that rollouts can later move to workers:
  1. ``_rollout``: draw ``prompts_per_step`` prompts of the stage's tasks, sample ``group_size``
     responses each;
  2. ``_reward``: R = 1 if the task's verifier accepts the response, else 0 (no format reward):
     math for arithmetic, the sandboxed code verifier (all tests pass) for code, gpqa for
     science; in-process, or by the reward service at ``reward_url`` (``trainer.rewards``);
     then group-normalised advantages (``trainer.advantages``);
  3. ``_select``: C3PO takes responses greedily until the token budget Phi is reached
     (``trainer.budget``); left-overs are dropped, or with ``defer=True`` queued first for the next
     step (at most ``max_staleness`` steps after they were sampled, as AReaL bounds staleness);
     GRPO takes all;
  4. ``_update``: one AdamW step on the selected samples (``trainer.update.policy_update``:
     packed, micro-batched, proximal = current weights, frozen reference policy for the KL);
  5. ``_sync_weights``: push the new weights into the sampler in place and time it;
then ``_log_step`` (results DB, progress bar) and ``_save`` every ``save_every`` steps.

Fresh samples were drawn by the current weights, so their behaviour log-probs are the proximal
ones of the update. Deferred responses were sampled by an older policy: their behaviour log-probs
are fixed when they are deferred (the sampler's own, which the step checks against our model as
``sampler_logp_gap``; recomputed with our model if the sampler reports none), and the decoupled
objective weights them by pi_prox/pi_behav.
Checkpoints hold weights + optimizer + step + RNG + deferred queue; ``resume=True`` continues
from the newest one.

Stages: ``math`` trains on arithmetic chains; ``code-science`` on stdin -> stdout programs graded
by hidden tests in the sandbox, mixed with GPQA-style multiple-choice science questions.

Data parallel (``trainer.distributed``, ``torchrun -m trainer.torchrun rl ...``): ``prompts_per_step``
is the global number of prompts; every rank draws the same prompts and keeps its contiguous share
(whole groups), samples, grades and normalises advantages locally, selects with its own budget
Phi (per rank, as in the paper) and keeps its own deferred queue. The model is DDP-wrapped, so the
backward averages gradients; the skip-if-no-signal decision and the metrics are all-reduced, and
rank 0 alone logs, shows progress and writes the checkpoint (ranks > 0 add their RNG and deferred
queue as ``trainer_state.rank{r}.pt``). With one process (no torchrun) nothing changes.
"""
from __future__ import annotations

import json
import random
import statistics
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from tqdm import tqdm

from trainer import distributed as dist
from trainer import metric_names as names
from trainer import tracking
from trainer.advantages import group_advantages
from trainer.budget import select_by_budget
from trainer.config import RLConfig
from trainer.data import Task, chat_prompt, split
from trainer.losses import LossConfig
from trainer.modeling import BailingMoeForCausalLM
from trainer.rewards import rewards as grade_rewards
from trainer.async_rollouts import AsyncOptions, AsyncRollouts, Group, token_staleness
from trainer.rollout import Rollout, TorchSampler, VllmSampler
from trainer.tokenizer import TokenizerInfo, load_tokenizer
from trainer.update import Sample, Update, fix_behaviour_logprobs, policy_update, sampler_gap

# over ranks: counts add up, times and the longest response take the maximum, the rest the mean
TRAINED_LOG = "trained_prompts.jsonl"  # --async: the prompt positions each step trained on
SUMMED = (names.TOKENS_IN_STEP, names.FORWARD_TOKENS, names.RESPONSES_IN_STEP, names.DEFERRED)
MAXED = (names.RESPONSE_LEN_MAX, names.STEP_TIME_S, names.ROLLOUT_TIME_S, names.REWARD_TIME_S, names.UPDATE_TIME_S,
         names.WEIGHT_SYNC_S)


@dataclass
class RLRun:
    """One run's state between steps; a checkpoint saves the part that changes (and ``resume`` restores it)."""
    cfg: RLConfig
    out: Path
    start_dir: Path
    tok: TokenizerInfo
    model: BailingMoeForCausalLM
    ddp_model: torch.nn.Module  # the model itself with one process
    ref: BailingMoeForCausalLM  # frozen: the KL's reference policy
    opt: torch.optim.Optimizer
    loss_cfg: LossConfig
    rng: random.Random  # prompt draws, the same on every rank
    train: list[Task]
    prompt_ids: list[list[int]]
    sampler: TorchSampler | VllmSampler | None  # None with --async: the rollout servers sample
    first_step: int = 1
    deferred: list[Sample] = field(default_factory=list)  # this rank's left-overs, first in line next step
    run_id: int | None = None  # results DB (rank 0)
    rollouts: AsyncRollouts | None = None  # --async
    client_marks: dict[str, float] = field(default_factory=dict)  # --async: the client's counters at the last step


@dataclass
class Rollouts:
    """One step's groups on this rank: ``group_size`` responses per prompt, with their rewards."""
    step: int
    tasks: list[Task]  # one per response
    rolls: list[Rollout]
    rollout_s: float
    rewards: list[float] = field(default_factory=list)
    adv: list[float] = field(default_factory=list)
    reward_s: float = 0.0
    groups: list[Group] = field(default_factory=list)  # --async: as the rollout servers delivered them


def latest_checkpoint(out_dir: Path) -> Path | None:
    ckpts = sorted(out_dir.glob("step_*/trainer_state.pt"))
    return ckpts[-1].parent if ckpts else None


def run_rl(cfg: RLConfig, progress: bool = True) -> list[dict]:
    """Train; returns the per-step metrics."""
    run = _setup(cfg)
    history: list[dict] = []
    bar = tqdm(range(run.first_step, cfg.steps + 1), desc=f"rl-{cfg.stage}-{cfg.mode}",
               disable=not progress or not dist.is_main())
    for step in bar:
        metrics = _train_step(run, step)
        history.append({"step": step, **metrics})
        _log_step(run, step, metrics, bar)
        if step % cfg.save_every == 0 or step == cfg.steps:
            _save(run, step)
    tracking.finish(run.run_id)
    _close(run)
    return history


def _close(run: RLRun) -> None:
    if run.rollouts is not None:
        run.rollouts.close()
    if run.sampler is not None:
        run.sampler.close()


def _setup(cfg: RLConfig) -> RLRun:
    """Policy (resumed from the newest checkpoint if asked), frozen reference, optimiser, data, sampler."""
    torch.set_num_threads(cfg.threads)
    dist.init()
    _check_world(cfg, dist.world_size())
    out, start_dir = Path(cfg.out_dir), Path(cfg.policy_dir)
    tok = load_tokenizer(start_dir)  # first: it refuses a directory that is not a checkpoint
    out.mkdir(parents=True, exist_ok=True)
    resume_from = latest_checkpoint(out) if cfg.resume else None
    model = BailingMoeForCausalLM.from_pretrained(resume_from or start_dir)
    ref = BailingMoeForCausalLM.from_pretrained(start_dir).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=0.0)
    loss_cfg = LossConfig(mode=cfg.mode, budget=cfg.budget, kl_beta=cfg.kl_beta, entropy_alpha=cfg.entropy_alpha)
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    first_step, deferred, async_state = _restore(resume_from, opt, rng) if resume_from is not None else (1, [], None)
    train, _ = split(cfg.n_train, cfg.n_val, cfg.seed if cfg.data_seed is None else cfg.data_seed, cfg.kinds,
                     cfg.max_operand)
    prompt_ids = [tok.encode(chat_prompt(t.question)) for t in train]
    sampler = None if cfg.async_rollouts else _make_sampler(cfg, model, tok, resume_from or start_dir)
    run = RLRun(cfg, out, start_dir, tok, model, dist.wrap(model), ref, opt, loss_cfg, rng, train, prompt_ids,
                sampler, first_step, deferred)
    if cfg.async_rollouts:
        _trim_positions(out, first_step)
        run.rollouts = _start_rollouts(run, async_state)
    if cfg.log_db and dist.is_main():
        run.run_id = tracking.start_run(f"rl-{cfg.stage}-{out.name}", cfg.mode, asdict(cfg))
    model.train()
    return run


def _check_world(cfg: RLConfig, world: int) -> None:
    if cfg.prompts_per_step % world:
        raise ValueError(f"prompts_per_step={cfg.prompts_per_step} must split evenly over {world} ranks")
    if cfg.async_rollouts and world > 1:
        raise ValueError("--async runs one trainer process; under torchrun use the synchronous trainer")
    if cfg.async_rollouts and not cfg.rollout_urls:
        raise ValueError("--async needs --rollout-url (`ring train rl --async` starts a server when none is given)")
    if cfg.sampler == "vllm" and world > 1 and not cfg.async_rollouts:
        # one in-process engine per rank, each with its own weight sync, has never been tested
        raise ValueError(f"--sampler vllm is not supported with {world} ranks; use --sampler torch under torchrun")


def _restore(ckpt: Path, opt, rng: random.Random) -> tuple[int, list[Sample], dict | None]:
    """Optimiser and RNG states from a checkpoint; the next step, this rank's deferred queue and the
    asynchronous rollouts' state (None for a synchronous run)."""
    state = torch.load(ckpt / "trainer_state.pt", weights_only=False)
    opt.load_state_dict(state["optimizer"])
    rng.setstate(state["rng"])
    torch.set_rng_state(state["torch_rng"])
    deferred = state["deferred"]
    rank = dist.rank()
    if rank:  # rank 0's file holds rank 0's torch RNG and queue; the others have their own
        rank_state = ckpt / f"trainer_state.rank{rank}.pt"
        deferred = []
        if rank_state.exists():
            rs = torch.load(rank_state, weights_only=False)
            torch.set_rng_state(rs["torch_rng"])
            deferred = rs["deferred"]
    return state["step"] + 1, deferred, state.get("async")


def _start_rollouts(run: RLRun, state: dict | None) -> AsyncRollouts:
    """The rollout producers, resuming the prompt stream where the checkpoint left it."""
    cfg, tasks = run.cfg, run.train

    def reward_fn(rolls: list[Rollout], task_idx: list[int]) -> list[float]:
        eos = run.tok.eos_id
        texts = [run.tok.decode([t for t in r.response if t != eos]) for r in rolls]
        return grade_rewards(texts, [tasks[i] for i in task_idx], cfg.reward_url)

    opts = AsyncOptions(cfg.rollout_urls, cfg.prompts_per_step, cfg.group_size, cfg.max_new_tokens, cfg.temperature,
                        cfg.max_staleness, cfg.seed, run.tok.eos_id, cfg.rollout_concurrency, cfg.rollout_timeout_s)
    rollouts = AsyncRollouts(opts, run.prompt_ids, reward_fn, version=run.first_step - 1, state=state)
    if state is not None:  # the servers may hold newer weights than the checkpoint (a killed run)
        rollouts.advance(run.first_step - 1, run.model.state_dict())
    return rollouts


def _make_sampler(cfg: RLConfig, model, tok: TokenizerInfo, weights_dir: Path) -> TorchSampler | VllmSampler:
    if cfg.sampler == "torch":
        return TorchSampler(model, tok.eos_id, tok.pad_id, seed=cfg.seed + dist.rank())
    return VllmSampler(str(weights_dir), seed=cfg.seed + dist.rank())


def _train_step(run: RLRun, step: int) -> dict[str, float]:
    """rollout -> reward -> select -> update -> sync weights; returns the step's metrics (all ranks)."""
    t0 = time.perf_counter()
    batch = _rollout(run, step)
    _reward(run, batch)
    t_update = time.perf_counter()
    chosen = _select(run, batch)
    upd, signal = _update(run, chosen)
    gap = sampler_gap(chosen, upd.prox_logp)
    update_s = time.perf_counter() - t_update
    sync_s = _sync_weights(run, signal, step)
    times = {names.STEP_TIME_S: time.perf_counter() - t0, names.ROLLOUT_TIME_S: batch.rollout_s,
             names.REWARD_TIME_S: batch.reward_s, names.UPDATE_TIME_S: update_s, names.WEIGHT_SYNC_S: sync_s}
    metrics = _step_metrics(batch, chosen, upd, signal, len(run.deferred), times)
    if run.rollouts is not None:
        metrics.update(_async_metrics(run, batch, step, times))
        _record_positions(run, step, batch.groups)
    return _over_ranks(metrics, gap)


def _rollout(run: RLRun, step: int) -> Rollouts:
    """This rank's share of the step's prompts (the same global draw on every rank: same rng), sampled;
    with --async, the oldest groups the rollout servers finished (already graded)."""
    cfg, t0 = run.cfg, time.perf_counter()
    if run.rollouts is not None:
        groups = run.rollouts.take(cfg.prompts_per_step)
        return Rollouts(step, [run.train[g.task] for g in groups for _ in g.rolls], [r for g in groups for r in g.rolls],
                        time.perf_counter() - t0, rewards=[x for g in groups for x in g.rewards], groups=groups)
    idx = dist.shard([run.rng.randrange(len(run.train)) for _ in range(cfg.prompts_per_step)])
    rolls = run.sampler.sample([run.prompt_ids[i] for i in idx], cfg.group_size, cfg.max_new_tokens, cfg.temperature)
    rollout_s = time.perf_counter() - t0
    return Rollouts(step, [run.train[i] for i in idx for _ in range(cfg.group_size)], rolls, rollout_s)


def _reward(run: RLRun, batch: Rollouts) -> None:
    """Verifier rewards of the responses and their group-normalised advantages."""
    t0, eos = time.perf_counter(), run.tok.eos_id
    if not batch.groups:  # --async rollouts arrive graded
        texts = [run.tok.decode([t for t in r.response if t != eos]) for r in batch.rolls]
        batch.rewards = grade_rewards(texts, batch.tasks, run.cfg.reward_url)
    batch.adv = group_advantages(batch.rewards, run.cfg.group_size)
    batch.reward_s = time.perf_counter() - t0


def _select(run: RLRun, batch: Rollouts) -> list[Sample]:
    """The samples this step trains on (C3PO: within the budget; GRPO: all); updates the deferred queue."""
    cfg, step = run.cfg, batch.step
    fresh = [_sample(r, float(a), step, versions)
             for r, a, versions in zip(batch.rolls, batch.adv, _versions(batch))]
    candidates = run.deferred + fresh
    if cfg.mode != "c3po":
        run.deferred = []
        return candidates
    sel = select_by_budget([len(s.response) for s in candidates], cfg.budget, defer=cfg.defer, exact=cfg.exact)
    # left-overs queue for the next step (first in line), unless they would be too stale by then
    run.deferred = [candidates[i] for i in sel.left
                    if cfg.defer and step + 1 - candidates[i].step <= cfg.max_staleness]
    fix_behaviour_logprobs(run.model, run.deferred)  # before the update moves the weights
    return [replace(candidates[i], train_tokens=sel.keep_tokens.get(i)) for i in sel.selected]


def _versions(batch: Rollouts) -> list[list[int] | None]:
    return [v for g in batch.groups for v in g.versions] if batch.groups else [None] * len(batch.rolls)


def _sample(r: Rollout, adv: float, step: int, versions: list[int] | None) -> Sample:
    """A fresh sample; one drawn by older weights (--async) keeps the sampler's log-probs as behaviour."""
    if versions and min(versions) < step - 1 and r.logprobs is not None:
        return Sample(r.prompt, r.response, adv, behav_logp=torch.tensor(r.logprobs), step=step)
    return Sample(r.prompt, r.response, adv, sampler_logp=r.logprobs, step=step)


def _update(run: RLRun, chosen: list[Sample]) -> tuple[Update, bool]:
    """One policy update; the optimiser steps only if some rank has a response with a non-zero advantage."""
    # no such response: no policy signal, and Adam would turn the tiny KL/entropy/aux gradients
    # into full-size steps, so the weights stay as they are
    signal = dist.all_reduce_max(float(any(s.adv != 0.0 for s in chosen))) > 0
    cfg = run.cfg
    upd = policy_update(run.ddp_model, run.ref, run.opt, chosen, run.loss_cfg, step=signal,
                        row_tokens=cfg.row_tokens, micro_tokens=cfg.micro_tokens, pad_id=run.tok.pad_id)
    return upd, signal


def _sync_weights(run: RLRun, updated: bool, step: int) -> float:
    """Push the new weights into the sampler (seconds; 0 when nothing changed); with --async the
    rollout servers move to version ``step`` either way."""
    if run.rollouts is not None:
        return run.rollouts.advance(step, run.model.state_dict() if updated else None)
    return run.sampler.push_weights(run.model.state_dict()) if updated else 0.0


def _step_metrics(batch: Rollouts, chosen: list[Sample], upd: Update, signal: bool, n_deferred: int,
                  times: dict[str, float]) -> dict[str, float]:
    """This rank's metrics of one step (names: ``trainer.metric_names``)."""
    lengths = [len(r.response) for r in batch.rolls]
    reward, st = statistics.fmean(batch.rewards), upd.stats
    return {
        names.REWARD_MEAN: reward, names.ACCURACY: reward,
        names.ENTROPY: st["entropy"], names.KL: st.get("kl", 0.0), names.GRAD_NORM: upd.grad_norm,
        names.LOSS: st["loss"], names.CLIP_FRAC: st["clip_frac"],
        names.RESPONSE_LEN_MEAN: statistics.fmean(lengths), names.RESPONSE_LEN_MAX: max(lengths),
        names.TOKENS_IN_STEP: upd.tokens, names.FORWARD_TOKENS: upd.forward_tokens,
        names.RESPONSES_IN_STEP: len(chosen), names.DEFERRED: n_deferred,
        **times,  # step, rollout, reward, update and weight-sync seconds
        names.TOKENS_PER_S: upd.tokens / times[names.STEP_TIME_S],
        names.UPDATED: float(signal),
    }


def _record_positions(run: RLRun, step: int, groups: list[Group]) -> None:
    """Append which prompt-stream positions the step trained on (``trained_prompts.jsonl``)."""
    with (run.out / TRAINED_LOG).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"step": step, "positions": [g.position for g in groups]}) + "\n")


def _trim_positions(out: Path, first_step: int) -> None:
    """On resume: forget the steps after the checkpoint (they are trained again)."""
    log = out / TRAINED_LOG
    if log.exists():
        keep = [line for line in log.read_text().splitlines() if line and json.loads(line)["step"] < first_step]
        log.write_text("".join(line + "\n" for line in keep))


def _async_metrics(run: RLRun, batch: Rollouts, step: int, times: dict[str, float]) -> dict[str, float]:
    """Staleness of the step's tokens (versions behind the weights being trained, step - 1),
    interrupted requests and how busy the rollout servers and the trainer were."""
    mean_lag, max_lag = token_staleness(batch.groups, step - 1)
    now, before = run.rollouts.client_metrics(), run.client_marks
    run.client_marks = now
    wall = times[names.STEP_TIME_S]
    return {names.STALENESS_MEAN: mean_lag, names.STALENESS_MAX: float(max_lag),
            names.INTERRUPTED: now["interrupted"] - before.get("interrupted", 0.0),
            names.ROLLOUT_BUSY: min(1.0, (now["busy_s"] - before.get("busy_s", 0.0)) / wall),
            names.TRAIN_BUSY: 1.0 - times[names.ROLLOUT_TIME_S] / wall,
            names.ROLLOUT_WAIT_S: times[names.ROLLOUT_TIME_S]}


def _over_ranks(metrics: dict[str, float], gap: float | None) -> dict[str, float]:
    """The step's metrics over all ranks (identity with one process), with the sampler gap if any."""
    if dist.world_size() > 1:
        metrics = dist.reduce_metrics(metrics, sums=SUMMED, maxes=MAXED)
        metrics[names.TOKENS_PER_S] = metrics[names.TOKENS_IN_STEP] / metrics[names.STEP_TIME_S]
        n_gap = dist.all_reduce_sum(float(gap is not None))  # ranks with sampler log-probs
        gap_sum = dist.all_reduce_sum(gap or 0.0)
        gap = gap_sum / n_gap if n_gap else None
    if gap is not None:
        metrics[names.SAMPLER_LOGP_GAP] = gap
    return metrics


def _log_step(run: RLRun, step: int, metrics: dict[str, float], bar) -> None:
    tracking.log(run.run_id, step, metrics)
    bar.set_postfix(reward=f"{metrics[names.REWARD_MEAN]:.2f}", tok=metrics[names.TOKENS_IN_STEP],
                    sync=f"{metrics[names.WEIGHT_SYNC_S]:.2f}s")


def _save(run: RLRun, step: int) -> None:
    """Rank 0 writes the checkpoint; the other ranks add their torch RNG and deferred queue."""
    ckpt = run.out / f"step_{step:06d}"
    if dist.is_main():
        save_checkpoint(ckpt, run.model, run.opt, step, run.rng, run.deferred, run.start_dir, run.cfg,
                        async_state=run.rollouts.state() if run.rollouts is not None else None)
    else:
        ckpt.mkdir(parents=True, exist_ok=True)
        torch.save({"torch_rng": torch.get_rng_state(), "deferred": run.deferred},
                   ckpt / f"trainer_state.rank{dist.rank()}.pt")
    dist.barrier()


def save_checkpoint(path: Path, model, opt, step: int, rng: random.Random, deferred: list, source_dir: Path,
                    cfg: RLConfig, async_state: dict | None = None) -> None:
    """Weights, optimiser, step, RNGs, deferred queue and (--async) the prompt stream's position and
    the prompts admitted but not yet trained, which a resume generates again."""
    model.save_pretrained(path, source_dir=source_dir)
    state = {"optimizer": opt.state_dict(), "step": step, "rng": rng.getstate(),
             "torch_rng": torch.get_rng_state(), "deferred": deferred}
    if async_state is not None:
        state["async"] = async_state
    tmp = path / "trainer_state.pt.tmp"
    torch.save(state, tmp)
    tmp.replace(path / "trainer_state.pt")  # a kill mid-write never leaves a half checkpoint
    (path / "rl_config.json").write_text(json.dumps(asdict(cfg), indent=2))
