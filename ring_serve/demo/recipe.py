"""What the full demo runs: one seed's recipe, its stages, and what each stage costs here.

The training numbers are the measured recipe of trainer/README.md ("Measured on the tiny model"):
SFT 400 steps on add/chain tasks with operands 0-9, then C3PO RL at lr 5e-5, 8 x 8 rollouts,
Phi = 1024. The held-out suite is the 378-problem one (600 drawn, the training questions dropped).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from ring_core.paths import ring_home

KINDS = ("add", "chain")
MAX_OPERAND = 9


@dataclass(frozen=True)
class Stage:
    key: str
    title: str
    estimate_s: float  # measured on the shared 2-core machine (README), the display's first guess


# in order; `report` and `dashboard` always run (they only read and serve)
STAGES = (
    Stage("model", "build the tiny Ring-lite model", 2),
    Stage("sft", "distil it: SFT on <think> traces", 80),
    Stage("select", "pick a checkpoint: ring train select", 2),
    Stage("eval-sft", "serve the SFT pick, chat, ring eval", 200),
    Stage("rl", "ring reward serve + C3PO RL, vLLM rollouts", 175),
    Stage("eval-rl", "serve the RL checkpoint, chat, ring eval", 200),
)
STAGE_KEYS = tuple(s.key for s in STAGES)


@dataclass(frozen=True)
class Recipe:
    seed: int = 0
    sft_steps: int = 400
    sft_every: int = 100  # a checkpoint for `ring train select` every N steps
    rl_steps: int = 100
    heldout_draw: int = 600  # problems drawn from the held-out stream; training questions are dropped
    heldout_k: int = 4  # samples per held-out problem at T = 1 (RL's own sampling)
    aime_limit: int = 5
    aime_k: int = 2
    aime_max_tokens: int = 256

    def fields(self) -> dict:
        return asdict(self)

    @property
    def home(self) -> Path:
        """This seed's demo directory: checkpoints, logs, the held-out suite, state.json."""
        return ring_home() / "demo" / f"seed{self.seed}"

    @property
    def sft_dir(self) -> Path:
        return self.home / f"demo-sft-seed{self.seed}"

    @property
    def rl_dir(self) -> Path:
        return self.home / f"demo-rl-seed{self.seed}"

    def log(self, name: str) -> Path:
        path = self.home / "logs" / f"{name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def estimate_s(self, key: str) -> float:
        """A stage's expected duration, scaled by its step count where it has one."""
        base = {s.key: s.estimate_s for s in STAGES}[key]
        if key == "sft":
            return base * self.sft_steps / 400
        if key == "rl":
            return 40 + (base - 40) * self.rl_steps / 100  # 40 s: the in-process engine's start
        return base
