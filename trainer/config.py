"""The run configurations: every SFT, RL and held-out-eval option, declared once.

Each field's default is the one default of that option; the fields with ``option(...)`` or
``argument(...)`` metadata (``trainer.options``) are the command-line options of ``ring train
sft|rl|eval`` and ``python -m trainer.torchrun sft|rl`` / ``python -m trainer.heldout``, which
are all built from these classes. No torch here: ``ring --help`` imports this module.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ring_core.paths import train_dir
from trainer.data import response_tokens
from trainer.options import argument, option

STAGE_KINDS = {"math": ("add", "chain"), "code-science": ("code", "science")}
SAMPLERS = ("vllm", "torch")
# the packed update (trainer.packing): row width and tokens per micro-batch
ROW_TOKENS = 256  # attention is quadratic in the row width; rows of a few hundred keep it minor
MICRO_TOKENS = 4096  # bounds the update's memory; raise it on a GPU


@dataclass
class SFTConfig:
    model_dir: str = field(metadata=option("Checkpoint dir (default: the tiny model).", "--model"))
    out_dir: str | None = field(default=None, metadata=option(
        "Checkpoint output dir (default: RING_HOME/train/sft-seedN).", "--out"))
    steps: int = field(default=300, metadata=option("Optimiser steps."))
    batch_size: int = field(default=16, metadata=option("Traces per step (global: split over torchrun ranks)."))
    lr: float = field(default=2e-3, metadata=option("Peak AdamW learning rate."))
    weight_decay: float = 0.0
    seed: int = field(default=0, metadata=option("Seed for data, init order and sampling."))
    eval_every: int = field(default=100, metadata=option("Checkpoint + evaluate every N steps."))
    n_train: int = 360
    n_val: int = field(default=48, metadata=option("Held-out validation tasks."))
    max_operand: int = field(default=20, metadata=option("Largest operand in the synthetic tasks."))
    kinds: tuple[str, ...] = field(default=("add",), metadata=option(
        "Task kinds, comma-separated: add,chain,multi,program,code,science."))
    max_new_tokens: int | None = field(default=None, metadata=option(
        "Generation limit of the validation (default: fits the kinds' traces, 40 or code 64)."))
    log_db: bool = field(default=True, metadata=option("Log metrics to the results DB.", "--db/--no-db"))
    threads: int = 1  # torch intra-op threads; >1 on a busy small CPU box makes OpenMP spin (10-30x slower)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.eval_every < 1:
            raise ValueError("steps, batch_size and eval_every must be >= 1")
        if self.lr <= 0:
            raise ValueError("lr must be positive")
        self.kinds = tuple(self.kinds)
        if self.max_new_tokens is None:
            self.max_new_tokens = response_tokens(self.kinds)
        if self.out_dir is None:
            self.out_dir = str(train_dir(f"sft-seed{self.seed}"))


@dataclass
class RLConfig:
    policy_dir: str = field(metadata=argument("Starting checkpoint (e.g. the `ring train select` pick).", "POLICY"))
    out_dir: str | None = field(default=None, metadata=option(
        "Checkpoint dir (default: RING_HOME/train/rl-STAGE-MODE-seedN).", "--out"))
    stage: str = field(default="math", metadata=option("'math' or 'code-science'."))
    # tiny model (trainer/README.md "Measured on the tiny model"): 100 steps of 8 x 8 at lr 5e-5, Phi 1024
    # raised held-out greedy accuracy 0.225 -> 0.296/0.310 (2 seeds); 30 steps of 8 x 4 at lr 2e-4, Phi 512 did not
    steps: int = field(default=100, metadata=option("RL steps."))
    prompts_per_step: int = field(default=8, metadata=option("Prompts per step (global: split over torchrun ranks)."))
    group_size: int = field(default=8, metadata=option("Responses per prompt (K)."))
    max_new_tokens: int | None = field(default=None, metadata=option(
        "Rollout length limit (default: 40 math, 64 code-science)."))
    temperature: float = field(default=1.0, metadata=option("Rollout sampling temperature."))
    lr: float = field(default=5e-5, metadata=option("AdamW learning rate (measured best on the tiny model)."))
    mode: str = field(default="c3po", metadata=option("'c3po' (token budget) or 'grpo'."))
    budget: int = field(default=1024, metadata=option("C3PO token budget Phi per step (per rank under torchrun)."))
    defer: bool = field(default=False, metadata=option("Defer responses over budget instead of dropping them."))
    max_staleness: int = field(default=1, metadata=option(
        "Staleness bound eta (versions): a deferred left-over (--defer) or an --async rollout is trained at "
        "most this many policy versions after it was sampled; 0 = strictly synchronous."))
    async_rollouts: bool = field(default=False, metadata=option(
        "AReaL-style asynchronous rollouts on vLLM servers (--rollout-url; `ring train rl` starts one "
        "when none is given): generation goes on while the trainer updates.", "--async/--sync"))
    rollout_urls: tuple[str, ...] | None = field(default=None, metadata=option(
        "With --async: base URLs of vLLM rollout servers in RL dev mode, comma-separated.", "--rollout-url"))
    rollout_concurrency: int = field(default=16, metadata=option("With --async: prompt groups in flight at most."))
    rollout_timeout_s: float = field(default=600.0, metadata=option(
        "With --async: the longest the trainer waits for a step's rollouts before failing the run."))
    exact: bool = field(default=False, metadata=option(
        "C3PO: train on only the first tokens of the response that crosses Phi."))
    kl_beta: float = 1e-3
    entropy_alpha: float = 5e-4
    seed: int = field(default=0, metadata=option("Seed for prompts and sampling."))
    save_every: int = field(default=20, metadata=option("Checkpoint every N steps."))
    resume: bool = field(default=False, metadata=option("Continue from the newest checkpoint in --out."))
    sampler: str = field(default="vllm", metadata=option(
        "'vllm' (in-process engine) or 'torch' (our model; required under torchrun with > 1 rank)."))
    max_operand: int = field(default=20, metadata=option("Largest operand in the synthetic tasks."))
    n_train: int = 360
    n_val: int = 48  # held-out suite of the same seed/kinds (as in SFT): never trained on
    # set it to vary the RL seed (sampling, prompt order) without moving the held-out suite
    data_seed: int | None = field(default=None, metadata=option(
        "Seed of the train/held-out split (the SFT run's; default: --seed)."))
    log_db: bool = field(default=True, metadata=option("Log per-step metrics to the results DB.", "--db/--no-db"))
    threads: int = 1
    # the service key comes from $RING_API_KEY, never from the config (saved with checkpoints and in the DB)
    reward_url: str | None = field(default=None, metadata=option(
        "Grade with `ring reward serve` at this URL (key from $RING_API_KEY); default: in-process."))
    kinds: tuple[str, ...] | None = field(default=None, metadata=option(
        "Task kinds, comma-separated (default: the stage's)."))
    row_tokens: int = ROW_TOKENS
    micro_tokens: int = field(default=MICRO_TOKENS, metadata=option(
        "Tokens per packed micro-batch of the update (bounds its memory; gradients accumulate)."))

    def __post_init__(self) -> None:
        if self.stage not in STAGE_KINDS:
            raise ValueError(f"unknown stage {self.stage!r}; expected one of {sorted(STAGE_KINDS)}")
        self.kinds = tuple(self.kinds) if self.kinds else STAGE_KINDS[self.stage]
        if self.max_new_tokens is None:
            self.max_new_tokens = response_tokens(self.kinds)
        if self.sampler not in SAMPLERS:
            raise ValueError("sampler must be 'vllm' or 'torch'")
        if self.steps < 1 or self.prompts_per_step < 1 or self.group_size < 2:
            raise ValueError("need steps >= 1, prompts_per_step >= 1, group_size >= 2")
        if self.max_staleness < 0:
            raise ValueError("max_staleness must be >= 0")
        self.rollout_urls = tuple(u for u in (self.rollout_urls or ()) if u)
        if self.async_rollouts and self.rollout_concurrency < 1:
            raise ValueError("rollout_concurrency must be >= 1")
        if self.row_tokens < 1 or self.micro_tokens < 1:
            raise ValueError("row_tokens and micro_tokens must be positive")
        from trainer.losses import LossConfig  # torch: only when a run is configured, not for --help

        LossConfig(mode=self.mode, budget=self.budget)  # validates mode/budget
        if self.out_dir is None:
            self.out_dir = str(train_dir(f"rl-{self.stage}-{self.mode}-seed{self.seed}"))


@dataclass
class HeldoutConfig:
    """Which held-out suite (``trainer.heldout.heldout_tasks``) and how to sample on it."""

    seed: int = field(default=0, metadata=option("Data seed of the SFT/RL runs (picks the held-out suite)."))
    kinds: tuple[str, ...] = field(default=("add",), metadata=option("Held-out task kinds, comma-separated."))
    max_operand: int = field(default=20, metadata=option("Largest operand (as in training)."))
    n_val: int = field(default=48, metadata=option(
        "Held-out problems to draw (more than --train-n-val: minus the training questions)."))
    n_train: int = field(default=360, metadata=option("Training-set size whose questions are left out."))
    train_n_val: int = field(default=48, metadata=option("n_val the training runs used."))
    temperature: float = field(default=0.0, metadata=option("0: greedy; 1.0 is the paper's eval setting."))
    samples: int = field(default=1, metadata=option("Samples per problem.", "--samples", "--k"))
    eval_seed: int | None = field(default=None, metadata=option(
        "Sampling seed (default: --seed).", "--eval-seed", "--sample-seed"))
    max_new_tokens: int | None = field(default=None, metadata=option(
        "Max new tokens per sample (default: fits the kinds' traces).", "--max-new-tokens", "--max-tokens"))

    def __post_init__(self) -> None:
        self.kinds = tuple(self.kinds)
        if not self.kinds or self.samples < 1 or self.n_val < 1:
            raise ValueError("need kinds, samples >= 1 and n_val >= 1")
        if self.eval_seed is None:
            self.eval_seed = self.seed
        if self.max_new_tokens is None:
            self.max_new_tokens = response_tokens(self.kinds)
