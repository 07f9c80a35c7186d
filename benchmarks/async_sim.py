"""Discrete-event simulation of synchronous vs asynchronous RL (AReaL) at paper scale.

    python benchmarks/async_sim.py            # the paper setup (about 10 s on 2 cores)
    python benchmarks/async_sim.py --quick    # a scaled-down copy, for tests

Where 2.57x comes from
----------------------
AReaL (Fu et al., arXiv 2505.24298). The v1 abstract claimed "up to 2.57x" over the best
synchronous system; v2+ abstracts say 2.77x, which is Table 1's end-to-end run (1.5B math,
16 nodes: 41.0 h synchronous AReaL vs 14.8 h). 2.57x is the largest effective-throughput gain over
verl in the strong-scaling study (Sec. 7.3, Fig. 4; the same figure and its settings ship in the
AReaL repository as ``benchmark/verl_v0_3_0_post1_76084d3``). Measured off that figure's log
axes, the panels' largest AReaL/verl ratios are 1.5B-16k 1.9x, 1.5B-32k 2.57x, 7B-16k 1.5x,
7B-32k 2.3x, 32B-16k 1.9x: the 2.57x point is DeepSeek-R1-Distill-Qwen-1.5B, 32k context
(31k generation + 1k prompt), 256 H800 GPUs (32 nodes), ~153k vs ~59k tokens/s. The benchmark's
settings (its README and ``areal_config.yaml``): 512 prompts x 16 answers per step,
``max_head_offpolicyness`` eta = 4, ``max_concurrent_rollouts`` = 512 prompts, 3/4 of the GPUs
(192) generate with SGLang and 1/4 (64) train with Megatron, decoupled PPO with a recomputed
proximal log-prob, no critic or reference model. verl is the synchronous colocated baseline: all
256 GPUs generate the batch, then all 256 train on it. Those are the defaults here. The metric is
AReaL's effective throughput: tokens (prompt + response) of the trained batches per second.

Assumptions, each with its source ("assumed" where there is none)
-----------------------------------------------------------------
Workload
 * A rollout is one prompt: its 16 answers go to one server and it holds one of the 512
   concurrency slots until its longest answer ends [AReaL gserver_manager: "qid prompt (n
   samples) use the same dst server", running counts prompts]. Servers are picked round robin
   [AReaL's default schedule_policy]; verl's even split of the batch is the same thing.
 * Response length: log-normal clipped at max_new_tokens = 31744. Median 6433 tokens, sigma 0.83,
   fitted to AReaL's published 1.5B training log (repository examples/README.md until 2025-05: a
   16-node run, 16k generation cap; mean sequence length 7.8-8.2k, no-EOS ratio 0.12-0.14); at the
   31k cap that gives mean 8.7k and 2.7% truncated. That
   the shape holds when the cap doubles is assumed. 70% of the log-length variance is a per-prompt
   (difficulty) effect shared by a group's answers [assumed: within-prompt CV ~0.45]. This is the
   assumption the headline depends on most (0.5 -> 2.08x, 0.6 -> 2.23x, 0.7 -> 2.41x, 0.8 -> 2.59x),
   because a group holds its slot until its longest answer, in AReaL and verl alike.
 * Prompt length 110 tokens [same log: avg_prompt_len 106-112].
Rollout (SGLang, one server per GPU for 1.5B [AReaL benchmark build_cmd.py: TP 1])
 * Batched decoding is memory-bound: a decode step of a server with n unfinished answers and K
   resident KV tokens costs overhead + max((W + K*kv) / (BW*eff_bw), (2P*n + 4*L*d*K) / (F*eff_dec)).
   The step time depends weakly on n until KV traffic or compute dominates, so a batch's wall time
   is set by its longest answer. H800: BW 3.35 TB/s, F 989 TFLOP/s dense bf16 [NVIDIA]; eff_bw 0.6,
   eff_dec 0.5, overhead 3 ms/step [assumed].
 * R1-Distill-Qwen-1.5B: 28 layers, d 1536, 2 KV heads x 128 (28.7 KB KV per token), 1.78B params
   (W = 3.55 GB bf16), 1.54B of them in per-token matmuls [model config].
 * Prefill is compute-bound: (2P*tokens + 2*L*d*sum(ctx^2)) / (F*eff_prefill), eff_prefill 0.5
   [assumed]; a group's answers share one prompt prefill (radix cache) [AReaL v0.2 notes].
 * Interruptible generation [AReaL Sec. 4]: at a weight update every server pauses to load the
   weights, discards its KV cache, re-prefills every unfinished context and continues, so an answer
   can span versions. Without interruption a server with answers in flight finishes them under its
   old weights, takes no new prompts meanwhile, then loads the newest version [assumed reading of
   "must wait for the longest response", Sec. 7.5].
 * Weight update: each rollout server pauses W / (2 GB/s) + 1 s [assumed]; the trainer does not
   wait. verl's colocated reshard is priced the same [assumed].
Training
 * Per token 4 forward-equivalents (proximal log-prob forward, then forward + backward) of 2P FLOPs,
   plus causal attention 4 * 2*L*d*len^2 per sequence, at 43% MFU [AReaL Fig. 6a: ~427 TFLOP/s per
   GPU, 1B with dynamic batching], plus 5 s per step [assumed]. verl gets the same efficiency
   [assumed; generous to verl].
Staleness control [AReaL Sec. 5.1, Eq. 3; gserver_manager.is_staled]
 * With trainer version v, bound eta, batch B: a prompt is admitted only while
   (eta + v + 1) * B > accepted + running and running < cap; accepted counts every finished rollout,
   consumed or not. The trainer takes the B oldest finished rollouts (lowest start version first).
   C3PO steps consume a varying number of rollouts, so there v is consumed / B (a float, exactly v
   for GRPO).
 * Staleness of a trained token = trainer version - version that generated it; the table gives the
   token mean and the max. eta bounds the version a prompt starts under, not how long it runs: a
   31k-token answer spans several updates, so the max can exceed eta.
 * eta = 0: batch v+1 is admitted only after update v, so at an update nothing is in flight and
   interruption has nothing to interrupt. eta = 0, with or without interruption, is the synchronous
   schedule on AReaL's split (generate the batch, train, sync; rollout GPUs idle while training);
   ``sync/split`` simulates that schedule directly and gives the same total time.
C3PO [Ring-lite, arXiv 2506.14731, Sec. 3.2; trainer/budget.py]
 * A step trains on answers in order until their response tokens first reach Phi (the crossing
   answer whole). Phi = 90% of the mean response tokens of a GRPO batch, so a synchronous batch
   nearly always fills it [assumed]. Synchronous: left-overs are dropped (the paper; ``--c3po-defer``
   carries them over). Asynchronous: they stay in the buffer for the next step.
Measurement
 * Steps after ``--warmup`` are measured: throughput = trained tokens / wall time between the ends
   of the last warm-up step and the last step; idle fractions over the same window (a rollout GPU
   is idle with nothing to decode or prefill, weight loading counts as idle; the trainer is idle
   when not training). Completions are handled in batches at most ``--quantum-s`` = 2 s apart
   (finish times stay exact; 0.25 s changes the headline by < 0.5%). Deterministic for a ``--seed``
   (seeds 0-2 give 2.41-2.46x).
 * Absolute tokens/s come out 3.5-4x above Fig. 4 for both systems (first-principles costs leave
   out real-system overheads); the ratio is what is compared.
"""
from __future__ import annotations

import argparse
import functools
import math
import statistics
import sys
from dataclasses import dataclass, field, fields, replace

import numpy as np

PAPER_SPEEDUP = 2.57  # AReaL vs verl effective throughput, Fig. 4 (1.5B, 32k ctx, 256 GPUs)
PAPER_THROUGHPUT = {"AReaL": 153e3, "verl": 59e3}  # tokens/s, read off Fig. 4 (log axis, approx.)
ETAS = (0, 1, 2, 4, 8)


# --------------------------------------------------------------------------- setup

def param(default, help: str):
    """A ``Setup`` field with its command-line help."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Setup:
    """Every parameter of the simulation; the defaults are AReaL's 2.57x configuration."""
    gpus: int = param(256, "GPUs in total (32 H800 nodes)")
    rollout_frac: float = param(0.75, "share of GPUs generating when split (AReaL: 3/4)")
    batch_groups: int = param(512, "prompts per training step, B")
    group_size: int = param(16, "answers per prompt, G")
    cap_groups: int = param(512, "max concurrent rollouts (prompts) in flight")
    eta: int = param(4, "AReaL's max staleness of the headline run")
    max_new_tokens: int = param(31744, "generation cap (32k context - 1k prompt)")
    prompt_len: int = param(110, "prompt tokens")
    len_median: float = param(6433.0, "median of the log-normal response length")
    len_sigma: float = param(0.83, "sigma of the log-normal response length")
    prompt_share: float = param(0.7, "share of the log-length variance common to a prompt's answers")
    n_layers: int = param(28, "model layers (R1-Distill-Qwen-1.5B)")
    d_model: int = param(1536, "hidden size")
    kv_heads: int = param(2, "KV heads")
    head_dim: int = param(128, "head dimension")
    params_total: float = param(1.78e9, "parameters (weight bytes = 2x)")
    params_matmul: float = param(1.54e9, "parameters in matmuls per token (2P FLOPs)")
    hbm_bw: float = param(3.35e12, "HBM bandwidth per GPU, B/s")
    peak_flops: float = param(989e12, "dense bf16 FLOP/s per GPU")
    eff_bw: float = param(0.6, "achieved share of HBM bandwidth in decode")
    eff_decode: float = param(0.5, "achieved share of peak FLOP/s in decode")
    eff_prefill: float = param(0.5, "achieved share of peak FLOP/s in prefill")
    decode_overhead_s: float = param(3e-3, "fixed cost of one decode step (scheduler, sampling, launch)")
    train_mfu: float = param(0.43, "training MFU (AReaL Fig. 6a: ~427 TFLOP/s per GPU)")
    train_overhead_s: float = param(5.0, "fixed cost of one training step")
    sync_bw: float = param(2e9, "weight transfer bandwidth to a rollout server, B/s")
    sync_latency_s: float = param(1.0, "fixed cost of a weight update")
    c3po_budget: int = param(0, "C3PO's Phi in response tokens (0: 90% of a GRPO batch's mean)")
    c3po_defer: bool = param(False, "synchronous C3PO carries left-overs to the next step, not drops them")
    steps: int = param(12, "training steps simulated per run")
    warmup: int = param(3, "steps before the measurement window")
    quantum_s: float = param(2.0, "completions are processed in batches at most this far apart")
    seed: int = param(0, "seed of the response lengths")

    @property
    def n_rollout(self) -> int:
        return int(round(self.gpus * self.rollout_frac))

    @property
    def n_trainer(self) -> int:
        return self.gpus - self.n_rollout

    @property
    def kv_bytes_per_token(self) -> float:
        return 2 * self.n_layers * self.kv_heads * self.head_dim * 2  # K and V, bf16

    @property
    def weight_bytes(self) -> float:
        return 2 * self.params_total


QUICK = dict(gpus=16, batch_groups=16, group_size=8, cap_groups=16, max_new_tokens=8192,
             len_median=1600.0, steps=10, warmup=3, quantum_s=0.5)


def build_parser() -> argparse.ArgumentParser:
    """One flag per ``Setup`` field, defaulting to the paper setup."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for f in fields(Setup):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            p.add_argument(flag, action="store_const", const=True, default=None, help=f.metadata["help"])
        else:
            kind = int if f.type in ("int", int) else float
            p.add_argument(flag, type=kind, default=None, help=f"{f.metadata['help']} [{f.default}]")
    p.add_argument("--quick", action="store_true", help="scaled-down setup for tests")
    return p


def setup_from_args(ns: argparse.Namespace) -> Setup:
    """Paper defaults, then ``--quick``, then explicit flags."""
    base = replace(Setup(), **QUICK) if ns.quick else Setup()
    given = {f.name: getattr(ns, f.name) for f in fields(Setup) if getattr(ns, f.name) is not None}
    return validated(replace(base, **given))


def validated(s: Setup) -> Setup:
    """Reject setups the simulation cannot run."""
    problems = [msg for bad, msg in [
        (s.steps < s.warmup + 2, "--steps must exceed --warmup by at least 2"),
        (not 0 < s.n_rollout < s.gpus, "--rollout-frac must leave GPUs for both rollout and training"),
        (s.cap_groups < 1 or s.batch_groups < 1 or s.group_size < 1, "batch, group and cap must be positive"),
        (s.eta < 0, "--eta must be >= 0"),
        (s.quantum_s <= 0, "--quantum-s must be positive"),
    ] if bad]
    if problems:
        raise SystemExit("; ".join(problems))
    return s


# --------------------------------------------------------------------------- workload

class Workload:
    """The prompt stream: group k has the same response lengths in every schedule (common random numbers)."""

    def __init__(self, setup: Setup, n_groups: int):
        # one row of draws per group, so group k is the same whatever n_groups is
        draws = np.random.default_rng(setup.seed).standard_normal((n_groups, 1 + setup.group_size))
        s_p = setup.len_sigma * math.sqrt(setup.prompt_share)
        s_r = setup.len_sigma * math.sqrt(1.0 - setup.prompt_share)
        z = s_p * draws[:, :1] + s_r * draws[:, 1:]
        raw = np.exp(math.log(setup.len_median) + z)
        self.lengths = np.clip(np.ceil(raw), 1, setup.max_new_tokens).astype(np.int64)
        self.next_id = 0

    def take(self) -> tuple[int, np.ndarray]:
        gid = self.next_id
        if gid >= len(self.lengths):
            raise RuntimeError("workload exhausted: raise its size")
        self.next_id += 1
        return gid, self.lengths[gid]


def workload_size(setup: Setup, eta: int) -> int:
    """Groups any schedule can admit in ``steps`` steps (C3PO may consume a little more than B per step)."""
    return (setup.steps + eta + 4) * setup.batch_groups * 2


BUDGET_SHARE = 0.9


def default_budget(setup: Setup) -> int:
    """C3PO's Phi: 90% of the mean response tokens of a GRPO batch, so a batch nearly always fills it."""
    lengths = Workload(setup, setup.steps * setup.batch_groups).lengths
    return int(BUDGET_SHARE * lengths.sum(axis=1).mean() * setup.batch_groups)


# --------------------------------------------------------------------------- costs

class CostModel:
    """Seconds for a decode step, a prefill, a training step and a weight sync."""

    def __init__(self, s: Setup):
        self.s = s
        self.fwd_flops = 2.0 * s.params_matmul
        self.attn = 2.0 * s.n_layers * s.d_model  # causal attention FLOPs of a sequence per len^2

    def decode_step(self, n: np.ndarray, kv: np.ndarray) -> np.ndarray:
        s = self.s
        mem = (s.weight_bytes + kv * s.kv_bytes_per_token) / (s.hbm_bw * s.eff_bw)
        compute = (n * self.fwd_flops + 2.0 * self.attn * kv) / (s.peak_flops * s.eff_decode)
        return s.decode_overhead_s + np.maximum(mem, compute)

    def prefill(self, tokens: float, ctx_sq: float) -> float:
        s = self.s
        return (tokens * self.fwd_flops + self.attn * ctx_sq) / (s.peak_flops * s.eff_prefill)

    def train(self, seq_lens: np.ndarray, n_gpus: int) -> float:
        s = self.s
        lens = seq_lens.astype(np.float64)
        flops = 4.0 * (lens.sum() * self.fwd_flops + self.attn * (lens ** 2).sum())
        return flops / (n_gpus * s.peak_flops * s.train_mfu) + s.train_overhead_s

    def weight_sync(self) -> float:
        return self.s.weight_bytes / self.s.sync_bw + self.s.sync_latency_s


# --------------------------------------------------------------------------- staleness gate

def admit_quota(eta: int, batch: int, version: float, accepted: int, running: int, cap: int) -> int:
    """How many new rollouts AReaL's gate admits now: (eta + v + 1) * B > accepted + running, running < cap."""
    by_staleness = math.ceil((eta + version + 1) * batch - accepted - running)
    return max(0, min(cap - running, by_staleness))


# --------------------------------------------------------------------------- rollout fleet

@dataclass
class Rollout:
    """A finished group: its responses, when it ran and which weight versions wrote it."""
    gid: int
    lengths: np.ndarray  # response tokens per answer
    start_version: int
    version_tokens: np.ndarray  # sum over each answer's tokens of the version that generated it
    first_version: np.ndarray  # version of each answer's first token
    admit_t: float
    finish_t: float
    taken: int = 0  # answers already trained on (C3PO can split a group across steps)


class RolloutFleet:
    """Rollout servers decoding groups, exact between events; completions are batched per quantum.

    All answers of a group run on one server and advance one token per decode step of that server,
    so a server's decode-step counter (its clock) says how far every answer on it has got, a
    group's answers finish in order of length, and the version that wrote a token follows from the
    server's version-weighted clock.
    """

    def __init__(self, s: Setup, n_servers: int, cost: CostModel, interruptible: bool):
        self.s, self.cost, self.interruptible = s, cost, interruptible
        cap, g = s.cap_groups, s.group_size
        self.n_servers = n_servers
        self.t = 0.0
        # per slot (one running group each)
        self.active = np.zeros(cap, bool)
        self.server = np.zeros(cap, np.int64)
        self.gid = np.zeros(cap, np.int64)
        self.start_version = np.zeros(cap, np.int64)
        self.first_version = np.full(cap, -1, np.int64)
        self.admit_t = np.zeros(cap)
        self.clock0 = np.zeros(cap)  # server clock at admission
        self.vclock0 = np.zeros(cap)  # server version-weighted clock at admission
        self.sorted_len = np.zeros((cap, g))
        self.order = np.zeros((cap, g), np.int64)  # sorted position -> answer index
        self.n_done = np.zeros(cap, np.int64)
        self.finish_t = np.zeros((cap, g))
        self.vtok = np.zeros((cap, g))
        # per server
        self.clock = np.zeros(n_servers)  # decode steps done
        self.vclock = np.zeros(n_servers)  # sum over steps of the version decoding them
        self.version = np.zeros(n_servers, np.int64)
        self.stall_until = np.zeros(n_servers)
        self.pending = np.full(n_servers, -1, np.int64)  # version waiting for a drain (no interruption)
        self.busy = np.zeros(n_servers)
        self.live_answers = np.zeros(n_servers)
        self.rr = 0  # round-robin pointer

    # -- state
    @property
    def running(self) -> int:
        return int(self.active.sum())

    def _per_server(self, per_slot: np.ndarray) -> np.ndarray:
        return np.bincount(self.server[self.active], weights=per_slot[self.active], minlength=self.n_servers)

    def _slot_load(self) -> tuple[np.ndarray, np.ndarray]:
        """Unfinished answers and the context length they share, per slot."""
        n = (self.s.group_size - self.n_done).astype(float)
        ctx = self.s.prompt_len + self.clock[self.server] - self.clock0
        return n, ctx

    # -- admission
    def can_admit(self) -> bool:
        """A free slot and a server that is not draining for a weight update."""
        return self.running < self.s.cap_groups and bool((self.pending < 0).any())

    def _next_server(self) -> int:
        """Round robin (AReaL's default schedule policy), skipping servers that drain for an update."""
        for _ in range(self.n_servers):
            srv, self.rr = self.rr, (self.rr + 1) % self.n_servers
            if self.pending[srv] < 0:
                return srv
        raise RuntimeError("every server is draining")

    def admit(self, t: float, gid: int, lengths: np.ndarray, version: int) -> None:
        """Put a group on the next server in round-robin order that is not draining for an update."""
        s = self.s
        slot = int(np.argmin(self.active))
        srv = self._next_server()
        order = np.argsort(lengths, kind="stable")
        self.active[slot], self.server[slot], self.gid[slot] = True, srv, gid
        self.start_version[slot], self.first_version[slot], self.admit_t[slot] = version, -1, t
        self.clock0[slot], self.vclock0[slot] = self.clock[srv], self.vclock[srv]
        self.sorted_len[slot], self.order[slot], self.n_done[slot] = lengths[order], order, 0
        # one prefill of the shared prompt (radix cache), then decoding
        cost = self.cost.prefill(s.prompt_len, s.prompt_len ** 2)
        self.stall_until[srv] = max(self.stall_until[srv], t) + cost
        self.busy[srv] += cost
        self.live_answers[srv] += s.group_size

    # -- decoding
    def step(self, t_limit: float) -> list[Rollout]:
        """Advance to the next batch of completions (or ``t_limit``); return the groups that finished."""
        if not self.active.any():
            if math.isinf(t_limit):
                raise RuntimeError("rollout fleet idle with nothing to wait for")
            self.t = max(self.t, t_limit)
            return []
        n, ctx = self._slot_load()
        tau = self.cost.decode_step(self.live_answers, self._per_server(n * ctx))
        start = np.maximum(self.t, self.stall_until)
        srv = self.server
        next_answer = np.minimum(self.n_done, self.s.group_size - 1)  # shortest unfinished (lengths sorted)
        next_end = self.clock0 + self.sorted_len[np.arange(len(srv)), next_answer]
        first_finish = np.where(self.active, start[srv] + (next_end - self.clock[srv]) * tau[srv], np.inf)
        t_next = min(max(float(first_finish.min()), self.t + self.s.quantum_s), t_limit)
        decoding = self.live_answers > 0
        new_clock = np.where(decoding, self.clock + np.clip(t_next - start, 0.0, None) / tau, self.clock)
        last_end = self._finish_answers(new_clock, start, tau, next_end)
        self.live_answers = self._per_server((self.s.group_size - self.n_done).astype(float))
        # decode busy: the whole interval, or until the last answer ends if the server ran dry
        busy_end = np.where(self.live_answers > 0, t_next, np.minimum(last_end, t_next))
        self.busy += np.where(decoding, np.clip(busy_end - start, 0.0, None), 0.0)
        progressed = self.active & (self.first_version < 0) & (new_clock[srv] > self.clock0)
        self.first_version = np.where(progressed, self.version[srv], self.first_version)
        self.vclock += (new_clock - self.clock) * self.version
        self.clock = new_clock
        self.t = t_next
        done = self._finished_groups()
        self._apply_drained_updates()
        return done

    def _finish_answers(self, new_clock: np.ndarray, start: np.ndarray, tau: np.ndarray,
                        next_end: np.ndarray) -> np.ndarray:
        """Record finish time and version-token sum of every answer ending in this interval.

        Returns per server the latest of those finish times (-inf where none ended).
        """
        srv = self.server
        last_end = np.full(self.n_servers, -np.inf)
        rows = np.flatnonzero(self.active & (next_end <= new_clock[srv] + 1e-6))  # groups with an answer ending
        if len(rows) == 0:
            return last_end
        sv = srv[rows]
        ends = self.clock0[rows, None] + self.sorted_len[rows]
        ended = ends <= new_clock[sv][:, None] + 1e-6
        new = ended & (np.arange(self.s.group_size)[None, :] >= self.n_done[rows, None])
        into = ends - self.clock[sv][:, None]  # steps into this interval
        fin = start[sv][:, None] + into * tau[sv][:, None]
        vt = self.vclock[sv][:, None] + into * self.version[sv][:, None] - self.vclock0[rows, None]
        self.finish_t[rows] = np.where(new, fin, self.finish_t[rows])
        self.vtok[rows] = np.where(new, vt, self.vtok[rows])
        self.n_done[rows] = ended.sum(1)
        np.maximum.at(last_end, sv, np.where(new, fin, -np.inf).max(axis=1))
        return last_end

    def _finished_groups(self) -> list[Rollout]:
        """Free the slots of groups whose answers are all done."""
        out = []
        for k in np.flatnonzero(self.active & (self.n_done == self.s.group_size)):
            back = np.argsort(self.order[k])  # answer index -> sorted position
            out.append(Rollout(gid=int(self.gid[k]), lengths=self.sorted_len[k][back].astype(np.int64),
                               start_version=int(self.start_version[k]),
                               version_tokens=self.vtok[k][back].copy(),
                               first_version=np.full(self.s.group_size, self.first_version[k]),
                               admit_t=float(self.admit_t[k]), finish_t=float(self.finish_t[k].max())))
            self.active[k] = False
        out.sort(key=lambda r: (r.finish_t, r.gid))
        return out

    # -- weight updates
    def weight_update(self, t: float, version: int) -> None:
        """New weights: interrupt and re-prefill everything in flight, or update servers as they drain."""
        n, ctx = self._slot_load()
        kv, sq = self._per_server(n * ctx), self._per_server(n * ctx ** 2)
        for srv in range(self.n_servers):
            if self.interruptible:
                self._load_weights(srv, t, version, self.cost.prefill(kv[srv], sq[srv]))
            elif self.live_answers[srv] == 0:
                self._load_weights(srv, t, version, 0.0)
            else:
                self.pending[srv] = version

    def _load_weights(self, srv: int, t: float, version: int, reprefill: float) -> None:
        self.stall_until[srv] = max(self.stall_until[srv], t) + self.cost.weight_sync() + reprefill
        self.busy[srv] += reprefill
        self.version[srv] = version
        self.pending[srv] = -1

    def _apply_drained_updates(self) -> None:
        for srv in np.flatnonzero((self.pending >= 0) & (self.live_answers == 0)):
            self._load_weights(int(srv), self.t, int(self.pending[srv]), 0.0)


# --------------------------------------------------------------------------- training batches

@dataclass
class Batch:
    """What one optimiser step trains on."""
    seq_lens: np.ndarray  # prompt + response tokens per trained answer
    resp_tokens: int
    stale_tokens: float  # sum over trained tokens of (trainer version - generating version)
    max_stale: int
    dropped_tokens: int = 0
    groups: float = 0.0  # rollouts consumed (fractional when C3PO splits a group)


def oldest_first(buffer: list[Rollout]) -> None:
    """AReaL's trainer prefers older trajectories: lowest start version, then earliest finish."""
    buffer.sort(key=lambda r: (r.start_version, r.finish_t, r.gid))


def untaken_answers(rollouts: list[Rollout]) -> tuple[np.ndarray, ...]:
    """The not yet trained answers of ``rollouts``, in order: lengths, version tokens, first versions, owner."""
    if not rollouts:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty, empty.astype(np.int64), empty.astype(np.int64)
    cols = [(r.lengths[r.taken:], r.version_tokens[r.taken:], r.first_version[r.taken:]) for r in rollouts]
    owner = np.repeat(np.arange(len(rollouts)), [len(c[0]) for c in cols])
    return tuple(np.concatenate(x) for x in zip(*cols)) + (owner,)


def make_batch(lens: np.ndarray, vtok: np.ndarray, first: np.ndarray, s: Setup, version: int,
               groups: float) -> Batch:
    """Token and staleness totals of the answers an optimiser step trains on."""
    # version-weighted clocks carry float rounding: staleness below a millionth of a version is none
    stale_per_answer = version * lens - vtok
    stale = float(np.where(stale_per_answer > 1e-6 * lens, stale_per_answer, 0.0).sum())
    first = np.where(first < 0, version, first)
    max_stale = int(version - first.min()) if len(first) else 0
    return Batch(seq_lens=lens + s.prompt_len, resp_tokens=int(lens.sum()), stale_tokens=stale,
                 max_stale=max_stale, groups=groups)


def select_grpo(buffer: list[Rollout], s: Setup, version: int) -> Batch:
    """GRPO: the B oldest rollouts, every answer."""
    oldest_first(buffer)
    chosen, buffer[:] = buffer[:s.batch_groups], buffer[s.batch_groups:]
    lens, vtok, first, _ = untaken_answers(chosen)
    return make_batch(lens, vtok, first, s, version, float(len(chosen)))


def select_c3po(buffer: list[Rollout], s: Setup, version: int, budget: int) -> Batch:
    """C3PO: answers in order until their tokens first reach Phi (the crossing answer whole)."""
    oldest_first(buffer)
    lens, vtok, first, owner = untaken_answers(buffer)
    m = min(int(np.searchsorted(np.cumsum(lens), budget)) + 1, len(lens))
    for i, k in enumerate(np.bincount(owner[:m], minlength=len(buffer))):
        buffer[i].taken += int(k)
    buffer[:] = [r for r in buffer if r.taken < s.group_size]
    return make_batch(lens[:m], vtok[:m], first[:m], s, version, m / s.group_size)


# --------------------------------------------------------------------------- runs

@dataclass
class StepRecord:
    start: float
    end: float
    train_s: float
    tokens: int
    resp_tokens: int
    stale_tokens: float
    max_stale: int
    dropped_tokens: int
    rollout_busy: float  # fleet's cumulative busy GPU-seconds at ``end``


@dataclass
class RunResult:
    name: str
    eta: int | None
    interruptible: bool | None
    objective: str
    n_rollout_gpus: int
    colocated: bool
    steps: list[StepRecord] = field(default_factory=list)
    total_time: float = 0.0
    admitted: int = 0  # rollouts (prompts) sent to generation over the run

    def window(self, warmup: int) -> tuple[StepRecord, list[StepRecord]]:
        """The last warm-up step (the window opens at its end) and the measured steps."""
        k = min(max(1, warmup), len(self.steps) - 1)
        return self.steps[k - 1], self.steps[k:]

    def metrics(self, warmup: int) -> dict[str, float]:
        """Throughput, idle fractions, staleness and step-time CVs over the measured steps."""
        prev, meas = self.window(warmup)
        wall = meas[-1].end - prev.end
        tokens = sum(r.tokens for r in meas)
        resp = sum(r.resp_tokens for r in meas)
        generated = resp + sum(r.dropped_tokens for r in meas)
        train_s = [r.train_s for r in meas]
        intervals = [b.end - a.end for a, b in zip([prev] + meas[:-1], meas)]
        return {
            "throughput": tokens / wall,
            "step_s": wall / len(meas),
            "rollout_idle": 1.0 - (meas[-1].rollout_busy - prev.rollout_busy) / (self.n_rollout_gpus * wall),
            "trainer_idle": 1.0 - sum(train_s) / wall,
            "stale_mean": sum(r.stale_tokens for r in meas) / max(resp, 1),
            "stale_max": max(r.max_stale for r in meas),
            "train_cv": cv(train_s),
            "interval_cv": cv(intervals),
            "dropped": 1.0 - resp / generated if generated else 0.0,
        }


def cv(xs: list[float]) -> float:
    """Coefficient of variation (population std / mean)."""
    m = statistics.fmean(xs)
    return statistics.pstdev(xs) / m if m else float("nan")


def _select(objective: str, buffer: list[Rollout], s: Setup, version: int, budget: int) -> Batch:
    return select_c3po(buffer, s, version, budget) if objective == "c3po" else select_grpo(buffer, s, version)


def run_sync(s: Setup, colocated: bool, objective: str = "grpo") -> RunResult:
    """Generate the whole batch (wait for its longest response), train, sync weights; repeat."""
    cost = CostModel(s)
    n_gen = s.gpus if colocated else s.n_rollout
    n_train = s.gpus if colocated else s.n_trainer
    fleet = RolloutFleet(s, n_gen, cost, interruptible=False)
    work = Workload(s, workload_size(s, 0))
    budget = s.c3po_budget or default_budget(s)
    res = RunResult("sync/colocated" if colocated else "sync/split", None, None, objective, n_gen, colocated)
    carry: list[Rollout] = []
    for version in range(s.steps):
        done = generate_batch(fleet, work, s, version)
        start = fleet.t
        pool = carry + done
        batch = _select(objective, pool, s, version, budget)
        carry = pool if (objective == "c3po" and s.c3po_defer) else []
        batch.dropped_tokens = 0 if carry else int(untaken_answers(pool)[0].sum())
        train_s = cost.train(batch.seq_lens, n_train)
        end = start + train_s
        fleet.step(end)  # nothing in flight: just the clock
        fleet.weight_update(end, version + 1)
        res.steps.append(_record(batch, start, end, train_s, fleet))
    res.total_time, res.admitted = res.steps[-1].end, work.next_id
    return res


def generate_batch(fleet: RolloutFleet, work: Workload, s: Setup, version: int) -> list[Rollout]:
    """Admit B groups (as the concurrency cap allows) and decode until all have finished."""
    to_admit, done = s.batch_groups, []
    while len(done) < s.batch_groups:
        while to_admit and fleet.can_admit():
            fleet.admit(fleet.t, *work.take(), version)
            to_admit -= 1
        done += fleet.step(math.inf)
    return done


def run_async(s: Setup, eta: int, interruptible: bool = True, objective: str = "grpo") -> RunResult:
    """AReaL: rollout never waits for the trainer; the staleness gate bounds how far it runs ahead."""
    cost = CostModel(s)
    fleet = RolloutFleet(s, s.n_rollout, cost, interruptible)
    work = Workload(s, workload_size(s, eta))
    budget = s.c3po_budget or default_budget(s)
    res = RunResult(f"async eta={eta}", eta, interruptible, objective, s.n_rollout, False)
    buffer: list[Rollout] = []
    version, accepted, consumed, buffered = 0, 0, 0.0, 0  # buffered: untrained response tokens
    training: tuple[float, float, Batch] | None = None  # (start, end, batch)
    while len(res.steps) < s.steps:
        quota = admit_quota(eta, s.batch_groups, consumed / s.batch_groups, accepted, fleet.running, s.cap_groups)
        for _ in range(quota):
            if not fleet.can_admit():
                break
            fleet.admit(fleet.t, *work.take(), version)
        if training is None and _ready(objective, buffer, buffered, s, budget):
            batch = _select(objective, buffer, s, version, budget)
            consumed += batch.groups
            buffered -= batch.resp_tokens
            training = (fleet.t, fleet.t + cost.train(batch.seq_lens, s.n_trainer), batch)
        t_limit = training[1] if training else math.inf
        finished = fleet.step(t_limit)
        accepted += len(finished)
        buffer += finished
        buffered += sum(int(r.lengths.sum()) for r in finished)
        if training and fleet.t >= training[1]:
            start, end, batch = training
            version += 1
            fleet.weight_update(end, version)
            res.steps.append(_record(batch, start, end, end - start, fleet))
            training = None
    res.total_time, res.admitted = res.steps[-1].end, work.next_id
    return res


def _ready(objective: str, buffer: list[Rollout], buffered: int, s: Setup, budget: int) -> bool:
    """Enough finished data for a step: B rollouts (GRPO) or Phi response tokens (C3PO)."""
    return buffered >= budget if objective == "c3po" else len(buffer) >= s.batch_groups


def _record(batch: Batch, start: float, end: float, train_s: float, fleet: RolloutFleet) -> StepRecord:
    return StepRecord(start=start, end=end, train_s=train_s, tokens=int(batch.seq_lens.sum()),
                      resp_tokens=batch.resp_tokens, stale_tokens=batch.stale_tokens,
                      max_stale=batch.max_stale, dropped_tokens=batch.dropped_tokens,
                      rollout_busy=float(fleet.busy.sum()))


# --------------------------------------------------------------------------- report

@functools.lru_cache(maxsize=None)
def simulate(s: Setup, schedule: str, eta: int = 0, interruptible: bool = True,
             objective: str = "grpo") -> RunResult:
    """One run, memoised (the tables share runs): ``schedule`` is colocated, split or async."""
    if schedule == "async":
        return run_async(s, eta, interruptible, objective)
    return run_sync(s, colocated=schedule == "colocated", objective=objective)


def staleness_runs(s: Setup) -> list[RunResult]:
    """The schedules of the main table: both synchronous baselines, eta sweep, interruption ablation."""
    runs = [simulate(s, "colocated"), simulate(s, "split"), simulate(s, "async", 0, False)]
    runs += [simulate(s, "async", eta) for eta in ETAS]
    runs.append(simulate(s, "async", s.eta, False))
    return runs


def c3po_runs(s: Setup) -> list[RunResult]:
    return [simulate(s, "colocated"), simulate(s, "colocated", objective="c3po"),
            simulate(s, "async", s.eta), simulate(s, "async", s.eta, objective="c3po")]


def fmt_row(cols: list[str], widths: list[int]) -> str:
    return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cols, widths)))


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    print(f"\n{title}")
    print(fmt_row(header, widths))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(fmt_row(r, widths))


def staleness_table(s: Setup, runs: list[RunResult]) -> None:
    base = runs[0].metrics(s.warmup)["throughput"]
    header = ["schedule", "interrupt", "k tok/s", "speedup", "paper", "rollout idle", "trainer idle",
              "stale mean", "stale max", "s/step"]
    rows = []
    for r in runs:
        m = r.metrics(s.warmup)
        paper = f"{PAPER_SPEEDUP:.2f}x" if (r.eta == s.eta and r.interruptible) else ""
        inter = "-" if r.interruptible is None else ("on" if r.interruptible else "off")
        rows.append([r.name, inter, f"{m['throughput'] / 1e3:.1f}", f"{m['throughput'] / base:.2f}x", paper,
                     f"{m['rollout_idle']:.1%}", f"{m['trainer_idle']:.1%}", f"{m['stale_mean']:.2f}",
                     f"{m['stale_max']}", f"{m['step_s']:.0f}"])
    print_table(f"Sync vs async RL, {s.gpus} GPUs ({s.n_rollout} rollout + {s.n_trainer} trainer when split), "
                f"B={s.batch_groups}x{s.group_size}, max gen {s.max_new_tokens}; speedup vs sync/colocated (verl)",
                header, rows)
    sim = headline_speedup(s)
    print(f"headline: async eta={s.eta} (interruptible) vs sync/colocated = {sim:.2f}x; "
          f"paper {PAPER_SPEEDUP:.2f}x (AReaL Fig. 4: 1.5B, 32k ctx, 256 GPUs); deviation {sim / PAPER_SPEEDUP - 1:+.1%}")
    split, eta0 = simulate(s, "split"), simulate(s, "async", 0, False)
    print(f"eta=0 without interruption: total {eta0.total_time:.2f} s vs sync/split {split.total_time:.2f} s")
    print("colocated: the same GPUs generate and train, so its two idle columns overlap. Absolute tok/s are "
          f"first-principles upper bounds (Fig. 4 reads ~{PAPER_THROUGHPUT['AReaL'] / 1e3:.0f}k AReaL vs "
          f"~{PAPER_THROUGHPUT['verl'] / 1e3:.0f}k verl); the ratio is the claim. Staleness is per trained token "
          "(trainer version - generating version); eta bounds admission, not a long answer's age.")


def headline_speedup(s: Setup) -> float:
    """The paper's comparison: AReaL (eta of the setup, interruptible) over verl (synchronous, colocated)."""
    ours = simulate(s, "async", s.eta).metrics(s.warmup)["throughput"]
    return ours / simulate(s, "colocated").metrics(s.warmup)["throughput"]


def c3po_table(s: Setup, runs: list[RunResult]) -> None:
    base = runs[0].metrics(s.warmup)["throughput"]
    header = ["schedule", "objective", "train-step CV", "step-interval CV", "k tok/s", "vs sync GRPO", "dropped"]
    rows = []
    for r in runs:
        m = r.metrics(s.warmup)
        rows.append([r.name, r.objective.upper(), f"{m['train_cv']:.3f}", f"{m['interval_cv']:.3f}",
                     f"{m['throughput'] / 1e3:.1f}", f"{m['throughput'] / base:.2f}x", f"{m['dropped']:.1%}"])
    budget = s.c3po_budget or default_budget(s)
    print_table(f"C3PO fixed token budget (Phi = {budget / 1e6:.1f}M response tokens/step) vs GRPO",
                header, rows)


def main(argv: list[str] | None = None) -> int:
    s = setup_from_args(build_parser().parse_args(argv))
    staleness_table(s, staleness_runs(s))
    c3po_table(s, c3po_runs(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
