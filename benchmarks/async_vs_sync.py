"""Asynchronous RL (AReaL) vs synchronous on the tiny model: trained tokens/s at staleness eta = 0, 1, 2.

    python benchmarks/async_vs_sync.py                      # distils its starting policy first
    python benchmarks/async_vs_sync.py --policy SFT/step_000400 --steps 20
    python benchmarks/async_vs_sync.py --quick              # a scaled-down smoke run

One run of ``ring train rl --async`` per eta, all on one vLLM rollout server (started once, RL dev
mode, ``ring_serve.rollout_servers``), each from the same starting policy (pushed back onto the
server before every run), with the same seed, steps, prompts and group size, and GRPO by default
so that every run trains on the same number of samples (steps x prompts x K). The peer is the
synchronous trainer (``--sync``: the in-process vLLM sampler) with the same settings, run after
the server is stopped: eta = 0 over HTTP is the same schedule, so the two differ by what the
server route costs (HTTP streaming, weight pushes through a file instead of in place).

The task mix has a long tail of response lengths: ``add`` and ``chain`` traces are about 20-35
tokens, ``multi`` (1-6 operations) up to about 85 with operands up to 20, and a sampled response
that does not stop runs to ``--max-new-tokens`` (128). A synchronous step waits for its longest
group; with eta >= 1 the server goes on generating while the trainer updates.

Per run: wall time (the steps only: model loading and engine start excluded), trained tokens
(response tokens in the updates) and trained tokens/s with its ratio to eta = 0; the rollout
server's idle fraction (share of the steps' wall time with no request in flight; for the peer, the
time outside its sampling); mean token staleness; final reward (mean of the last steps); greedy
held-out accuracy of the final checkpoint (``trainer.heldout``, our torch model, problems never
trained on); and the CPU cores the run used and that other processes on the host used meanwhile.
The goal: eta = 1 at least 1.3x eta = 0 in trained tokens/s, final reward within noise (two
standard errors of the difference of two binomial means). When it is missed, the limits measured
in the same run are printed: the overlap schedule (rollout wait vs the rest of an eta = 0 step)
and the CPU (rollouts and training share the host's cores; overlap cannot use more than are free).

The asynchronous runs draw prompts by stream position (``trainer.async_rollouts.task_at``), the
synchronous one from its seeded RNG: the same seed and distribution, not the same draws.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import psutil  # a vLLM dependency: the benchmark needs vLLM anyway

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ is not a package
from c3po_vs_grpo import _rl_default, distil  # noqa: E402 - the same starting-policy distillation

from trainer import metric_names as names  # noqa: E402
from trainer.config import SAMPLERS, HeldoutConfig, RLConfig  # noqa: E402

GOAL_SPEEDUP = 1.3
GOAL_ETA = 1
TAIL_STEPS = 5  # "final reward": the mean over the last steps


@dataclass
class Settings:
    """What every run shares."""
    policy: str | None
    steps: int
    prompts: int
    group: int
    seed: int
    kinds: tuple[str, ...]
    max_operand: int
    max_new_tokens: int
    mode: str
    budget: int
    concurrency: int
    sft_steps: int
    heldout_n: int
    etas: tuple[int, ...]
    peer: str | None  # the synchronous peer's sampler; None: no peer


@dataclass
class CpuTally:
    """CPU seconds used during the steps: by this process and its children, and by the whole host."""
    ours_s: float = 0.0
    host_s: float = 0.0
    wall_s: float = 0.0

    def cores(self) -> tuple[float, float]:
        """(our cores, other processes' cores) on average over the steps."""
        if not self.wall_s:
            return 0.0, 0.0
        return self.ours_s / self.wall_s, max(0.0, self.host_s - self.ours_s) / self.wall_s


@dataclass
class RunResult:
    label: str
    eta: int | None  # None: the synchronous peer
    out: Path  # its checkpoints
    hist: list[dict]
    cpu: CpuTally
    heldout_acc: float = float("nan")
    row: dict = field(default_factory=dict)
    error: str | None = None  # a rollout failure: the run is reported as failed, the others still are


# --- settings ----------------------------------------------------------------------------------


# integer options whose default is ``ring train rl``'s (RLConfig field): flag, field, help
RL_OPTIONS = (("--prompts", "prompts_per_step", "prompts per step"), ("--group", "group_size", "responses per prompt"),
              ("--seed", "seed", "seed of every run (and of the distillation)"),
              ("--budget", "budget", "with --mode c3po: Phi"),
              ("--concurrency", "rollout_concurrency", "prompt groups in flight at most"))


def parse_args(argv: list[str] | None = None) -> Settings:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", default=None, help="starting checkpoint (an SFT pick); default: distil one")
    ap.add_argument("--sft-steps", type=int, default=400, help="without --policy: SFT steps to distil it")
    ap.add_argument("--steps", type=int, default=20, help="RL steps of every run")
    for flag, name, doc in RL_OPTIONS:
        ap.add_argument(flag, type=int, default=_rl_default(name), help=doc)
    ap.add_argument("--etas", default="0,1,2", help="staleness bounds to run, comma-separated")
    ap.add_argument("--kinds", default="add,chain,multi", help="task kinds (multi: the long tail)")
    ap.add_argument("--max-operand", type=int, default=20)
    ap.add_argument("--max-new-tokens", type=int, default=128, help="rollout length limit (the tail's end)")
    ap.add_argument("--mode", default="grpo", choices=("grpo", "c3po"),
                    help="grpo trains every sample, so all runs train the same number")
    ap.add_argument("--heldout-n", type=int, default=100,
                    help="held-out problems to draw (minus trained ones); 0: skip the held-out accuracy")
    ap.add_argument("--peer-sampler", default="vllm", choices=SAMPLERS,
                    help="the synchronous peer's sampler: vllm (in-process engine) or torch (our model)")
    ap.add_argument("--no-peer", action="store_true", help="skip the synchronous peer")
    ap.add_argument("--quick", action="store_true", help="a few small steps (smoke test)")
    a = ap.parse_args(argv)
    if a.quick:
        a.steps, a.prompts, a.group, a.sft_steps, a.heldout_n = 4, 4, 4, 60, 16
    etas = tuple(sorted({int(x) for x in a.etas.split(",") if x.strip()}))
    return Settings(a.policy, a.steps, a.prompts, a.group, a.seed, tuple(k for k in a.kinds.split(",") if k),
                    a.max_operand, a.max_new_tokens, a.mode, a.budget, a.concurrency, a.sft_steps, a.heldout_n,
                    etas, None if a.no_peer else a.peer_sampler)


def rl_config(s: Settings, out: Path, **kw) -> RLConfig:
    """The one configuration every run starts from; ``kw``: what the run changes."""
    return RLConfig(policy_dir=s.policy, out_dir=str(out), stage="math", kinds=s.kinds, steps=s.steps,
                    prompts_per_step=s.prompts, group_size=s.group, max_new_tokens=s.max_new_tokens,
                    mode=s.mode, budget=s.budget, seed=s.seed, max_operand=s.max_operand, save_every=10**9,
                    rollout_concurrency=s.concurrency, log_db=False, **kw)


def interactive() -> bool:
    return sys.stderr.isatty()


T0 = time.monotonic()


def note(msg: str) -> None:
    """A progress line with the time since start (terminals only, like the bars)."""
    if interactive():
        print(f"[{time.monotonic() - T0:6.0f} s] {msg}", file=sys.stderr, flush=True)


# --- CPU accounting ----------------------------------------------------------------------------


def _our_cpu() -> dict[int, float]:
    """CPU seconds per live process of ours (this one, with its reaped children, and every descendant)."""
    me = psutil.Process()
    out = {}
    for p in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            out[p.pid] = t.user + t.system + (t.children_user + t.children_system if p is me else 0.0)
    return out


def _host_cpu() -> float:
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


@contextlib.contextmanager
def metered_steps(rl_module):
    """Wrap ``trainer.rl._train_step`` (as ``c3po_vs_grpo`` wraps the update) so each step's CPU is
    counted; the steps alone, as the wall time: engine start and model loading would swamp them."""
    tally, real = CpuTally(), rl_module._train_step

    def metered(run, step):
        ours, host, t0 = _our_cpu(), _host_cpu(), time.perf_counter()
        try:
            return real(run, step)
        finally:
            after = _our_cpu()  # a process gone meanwhile (a replaced grader worker) is left out
            tally.ours_s += sum(v - ours.get(pid, 0.0) for pid, v in after.items())
            tally.host_s += _host_cpu() - host
            tally.wall_s += time.perf_counter() - t0

    rl_module._train_step = metered
    try:
        yield tally
    finally:
        rl_module._train_step = real


# --- the runs ----------------------------------------------------------------------------------


def reset_server(urls: list[str], policy: str) -> None:
    """Put the starting policy back on the rollout servers: the previous run left its trained weights."""
    from trainer.modeling.bailing_moe import load_state_dict
    from trainer.rollout_client import RolloutClient
    from trainer.weight_sync import ShmReloadSync

    state = load_state_dict(Path(policy))

    async def push() -> None:
        sync = ShmReloadSync(urls)
        try:
            async with RolloutClient(urls) as client:
                await client.update_weights(sync, state, 0)  # also drops the cached KV of the old weights
        finally:
            sync.close()

    asyncio.run(push())


def train(cfg: RLConfig, label: str, eta: int | None) -> RunResult:
    from trainer import rl

    from trainer.rollout_client import RolloutError

    note(f"== {label}")
    with metered_steps(rl) as cpu:
        try:
            hist = rl.run_rl(cfg, progress=interactive())
        except RolloutError as exc:  # one failed run must not discard the others' figures
            return RunResult(label, eta, Path(cfg.out_dir), [], cpu, error=str(exc))
    return RunResult(label, eta, Path(cfg.out_dir), hist, cpu)


def async_runs(s: Settings, tmp: Path) -> list[RunResult]:
    """One run per eta on one rollout server, each from the starting policy."""
    from ring_serve.rollout_servers import rollout_servers

    note("starting one vLLM rollout server (30-100 s on 2 cores)")
    results = []
    with rollout_servers(s.policy) as urls:
        for eta in s.etas:
            if results and results[-1].error:  # a failed run_rl leaves its producers on the server
                results.append(RunResult(f"eta={eta}", eta, tmp, [], CpuTally(),
                                         error="not run: an earlier run failed"))
                continue
            reset_server(urls, s.policy)
            cfg = rl_config(s, tmp / f"eta{eta}", async_rollouts=True, rollout_urls=tuple(urls), max_staleness=eta)
            results.append(score(train(cfg, f"eta={eta}", eta), s))
    return results


def sync_run(s: Settings, tmp: Path) -> RunResult:
    """The peer: ``ring train rl --sync`` with the in-process vLLM sampler (or ours). Last: an
    in-process engine stays bound to this process's cores (vLLM's CPU thread binding) once closed."""
    label = "sync (in-process vLLM)" if s.peer == "vllm" else "sync (torch sampler)"
    return score(train(rl_config(s, tmp / "sync", sampler=s.peer), label, None), s)


def heldout_accuracy(ckpt: str | Path, s: Settings) -> tuple[float, int]:
    """Greedy accuracy on the held-out suite and its size; the length limit fits the kinds' traces
    (our torch generation has no KV cache: a longer limit costs quadratically)."""
    from trainer.heldout import heldout_metrics

    if s.heldout_n < 1:
        return float("nan"), 0
    m = heldout_metrics(ckpt, HeldoutConfig(seed=s.seed, kinds=s.kinds, max_operand=s.max_operand, n_val=s.heldout_n))
    return m[names.VAL_ACC], int(m["n_problems"])


def score(r: RunResult, s: Settings) -> RunResult:
    """The run's final checkpoint on the held-out suite."""
    if r.error:
        return r
    if s.heldout_n > 0:
        note(f"held-out accuracy of {r.label}")
    r.heldout_acc, _ = heldout_accuracy(r.out / f"step_{s.steps:06d}", s)
    return r


@contextlib.contextmanager
def sft_progress(show: bool):
    """``distil`` runs ``run_sft`` with its bar always on; follow the terminal rule instead."""
    import trainer.sft as sft

    real = sft.run_sft
    sft.run_sft = functools.partial(real, progress=show)
    try:
        yield
    finally:
        sft.run_sft = real


# --- figures -----------------------------------------------------------------------------------


def final_reward(hist: list[dict]) -> float:
    return statistics.fmean(h[names.REWARD_MEAN] for h in hist[-TAIL_STEPS:])


def reward_se(hist: list[dict], s: Settings) -> float:
    """Binomial standard error of ``final_reward`` (rewards are 0/1, one per response)."""
    p, n = final_reward(hist), len(hist[-TAIL_STEPS:]) * s.prompts * s.group
    return math.sqrt(max(p * (1 - p), 1e-12) / n)


def weighted(hist: list[dict], key: str) -> float:
    """The per-step fraction ``key`` over the whole run (steps weighted by their wall time)."""
    wall = sum(h[names.STEP_TIME_S] for h in hist)
    return sum(h[key] * h[names.STEP_TIME_S] for h in hist) / wall


def idle_fraction(r: RunResult) -> float:
    """Share of the steps' wall time the sampler had nothing to generate."""
    if r.eta is None:  # the in-process engine generates only inside the step's rollout phase
        return 1.0 - sum(h[names.ROLLOUT_TIME_S] for h in r.hist) / sum(h[names.STEP_TIME_S] for h in r.hist)
    return 1.0 - weighted(r.hist, names.ROLLOUT_BUSY)


def summarise(r: RunResult) -> dict:
    h = r.hist
    wall, tokens = sum(x[names.STEP_TIME_S] for x in h), sum(x[names.TOKENS_IN_STEP] for x in h)
    ours, others = r.cpu.cores()
    gaps = [x[names.SAMPLER_LOGP_GAP] for x in h if names.SAMPLER_LOGP_GAP in x]
    return {"wall_s": wall, "tokens": tokens, "tok_s": tokens / wall, "idle": idle_fraction(r),
            "staleness": statistics.fmean(x.get(names.STALENESS_MEAN, 0.0) for x in h),
            "interrupted": sum(x.get(names.INTERRUPTED, 0.0) for x in h),
            "reward": final_reward(h), "heldout": r.heldout_acc, "ours": ours, "others": others,
            "rollout_wait_s": statistics.fmean(x[names.ROLLOUT_TIME_S] for x in h),
            "step_s": statistics.fmean(x[names.STEP_TIME_S] for x in h),
            "sync_s": statistics.fmean(x[names.WEIGHT_SYNC_S] for x in h),
            "logp_gap": max(gaps) if gaps else float("nan")}


COLUMNS = (("run", "{:<24}", "label"), ("wall s", "{:>8.1f}", "wall_s"), ("step s", "{:>7.2f}", "step_s"),
           ("trained tok", "{:>12.0f}", "tokens"), ("tok/s", "{:>8.1f}", "tok_s"), ("vs eta=0", "{:>9.2f}x", "ratio"),
           ("idle", "{:>6.2f}", "idle"), ("stale", "{:>6.2f}", "staleness"), ("interr", "{:>7.0f}", "interrupted"),
           ("sync s", "{:>7.3f}", "sync_s"), ("logp gap", "{:>9.1e}", "logp_gap"), ("reward", "{:>7.3f}", "reward"),
           ("held-out", "{:>9.3f}", "heldout"), ("cores", "{:>6.2f}", "ours"), ("others", "{:>7.2f}", "others"))


def print_table(results: list[RunResult], start: tuple[float, int], s: Settings) -> None:
    base = reference(results)
    print(f"\nseed {s.seed}, {s.steps} steps x {s.prompts} prompts x {s.group} responses ({s.mode}), kinds "
          f"{','.join(s.kinds)}, max operand {s.max_operand}, max new tokens {s.max_new_tokens}, "
          f"{s.concurrency} groups in flight at most; {os.cpu_count()} CPUs; "
          + (f"held-out: greedy on {start[1]} unseen problems, starting policy {start[0]:.3f}" if start[1]
             else "held-out: skipped"))
    print("".join(f"{name:>{width(fmt)}}" if i else f"{name:<24}" for i, (name, fmt, _) in enumerate(COLUMNS)))
    for r in results:
        if r.error:
            print(f"{r.label:<24}FAILED: {r.error[:200]}")
            continue
        r.row["label"], r.row["ratio"] = r.label, r.row["tok_s"] / base.row["tok_s"]
        print("".join(fmt.format(r.row[key]) for _, fmt, key in COLUMNS))
    print("idle: rollout-server share of the steps' wall time with no request in flight (peer: outside its "
          "sampling); stale: mean token staleness (versions); logp gap: largest sampler-vs-trainer log-prob gap "
          f"(the server holds the trained weights); reward: mean of the last {TAIL_STEPS} steps; "
          "cores / others: CPU cores used on average during the steps by this run / by other processes")


def width(fmt: str) -> int:
    return len(fmt.format(0.0))


def reference(results: list[RunResult]) -> RunResult:
    """The ratios' base: eta = 0 (else the first run that did not fail)."""
    ok = [r for r in results if not r.error]
    return next((r for r in ok if r.eta == 0), ok[0])


def print_goal(results: list[RunResult], s: Settings) -> None:
    by_eta = {r.eta: r for r in results if r.eta is not None and not r.error}
    if 0 not in by_eta or GOAL_ETA not in by_eta:
        print(f"goal: not measured: needs eta=0 and eta={GOAL_ETA} in --etas, both completed")
        return
    r0, r1 = by_eta[0], by_eta[GOAL_ETA]
    speedup = r1.row["tok_s"] / r0.row["tok_s"]
    noise = 2 * math.hypot(reward_se(r0.hist, s), reward_se(r1.hist, s))
    reward_ok = abs(r1.row["reward"] - r0.row["reward"]) <= noise
    met = speedup >= GOAL_SPEEDUP and reward_ok
    print(f"goal (eta={GOAL_ETA} >= {GOAL_SPEEDUP}x eta=0 in trained tokens/s, final reward within noise): "
          f"{'met' if met else 'MISSED'}: {speedup:.2f}x ({r1.row['tok_s']:.1f} vs {r0.row['tok_s']:.1f} tok/s); "
          f"final reward {r1.row['reward']:.3f} vs {r0.row['reward']:.3f} (noise +-{noise:.3f}: "
          f"{'within' if reward_ok else 'OUTSIDE'})")
    print_limits(r0, r1, speedup)
    peer = next((r for r in results if r.eta is None and not r.error), None)
    if peer is not None:
        print(f"eta=0 over HTTP vs {peer.label}: {r0.row['tok_s'] / peer.row['tok_s']:.2f}x "
              f"in trained tokens/s (step {r0.row['step_s']:.2f} s vs {peer.row['step_s']:.2f} s; weight sync "
              f"{r0.row['sync_s']:.3f} s vs {peer.row['sync_s']:.3f} s)")


def print_limits(r0: RunResult, r1: RunResult, speedup: float) -> None:
    """What caps the gain, measured in the same run: overlap (an eta=0 step's training hidden behind
    its generation) and the CPU (the host's free cores against what eta=0 already used)."""
    wait, rest = r0.row["rollout_wait_s"], r0.row["step_s"] - r0.row["rollout_wait_s"]
    overlap = (wait + rest) / max(wait, rest, 1e-9)
    cores = os.cpu_count() or 1
    others = statistics.fmean([r0.row["others"], r1.row["others"]])
    cpu = max(cores - others, 0.0) / max(r0.row["ours"], 1e-9)
    per_tok = [1e3 * r.cpu.ours_s / r.row["tokens"] for r in (r0, r1)]
    print(f"limits: overlap alone {overlap:.2f}x (an eta=0 step: {wait:.2f} s waiting for rollouts, {rest:.2f} s "
          "training and syncing; more groups in flight also batch the long tail better, not counted here); "
          f"CPU {cpu:.2f}x at eta=0's CPU per trained token ({cores} cores, other processes used {others:.2f}, "
          f"this run {r0.row['ours']:.2f} at eta=0 and {r1.row['ours']:.2f} at eta={r1.eta}; CPU per trained "
          f"token {per_tok[0]:.2f} vs {per_tok[1]:.2f} ms)")
    if speedup >= GOAL_SPEEDUP:
        return
    if cpu < GOAL_SPEEDUP:
        why = (f"the CPU: the rollout server and the trainer share {cores} cores with each other and with "
               "other processes, and overlap cannot use more than the free ones")
    elif overlap < GOAL_SPEEDUP:
        why = "the schedule: an eta=0 step is mostly waiting for rollouts, so hiding the rest gains little"
    else:
        why = (f"neither cap: the asynchronous path cost more CPU per trained token ({per_tok[1]:.2f} vs "
               f"{per_tok[0]:.2f} ms: {r1.row['interrupted']:.0f} interrupted requests prefilled again, weight "
               "pushes pausing the server), or the host's load moved between the runs "
               f"(other processes {r0.row['others']:.2f} vs {r1.row['others']:.2f} cores)")
    print(f"why missed: {why}")


# --- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    s = parse_args(argv)
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # the in-process peer's engine logs drown the table
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        if s.policy is None:
            note(f"distilling the starting policy ({s.sft_steps} SFT steps)")
            with sft_progress(interactive()):
                s = replace(s, policy=distil(tmp / "sft", s.kinds, s.max_operand, s.sft_steps, s.seed))
        if s.heldout_n > 0:
            note("held-out accuracy of the starting policy")
        start = heldout_accuracy(s.policy, s)
        results = async_runs(s, tmp)
        if s.peer:
            results.append(sync_run(s, tmp))
    for r in results:
        r.row = {} if r.error else summarise(r)
    if all(r.error for r in results):
        raise SystemExit("every run failed: " + "; ".join(f"{r.label}: {r.error}" for r in results))
    print_table(results, start, s)
    print_goal(results, s)
    if any(r.error for r in results):
        sys.exit(1)  # the figures are out; `make bench` still has to see the failure


if __name__ == "__main__":
    main()
