"""Score checkpoints the way users will see them: each one served by vLLM, scored by ``ring eval``.

The held-out synthetic suite (``trainer.heldout``, never trained on) is written as a JSONL math
suite, each checkpoint is started with ``ring serve``'s launcher (``ring_serve.vllm_server``), and
the benchmark runner sends the raw question (the format SFT taught; the suite's prompt template is
``{problem}``), grades with the math verifier and stores every sample in the results DB. One
engine runs at a time.
The options are ``python -m trainer.heldout``'s (``HeldoutConfig``) plus ``--top-p``.

    ring train eval SFT_CKPT RL_CKPT --kinds add,chain --max-operand 9 --n-val 600 --k 1 --temperature 0
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from trainer.config import HeldoutConfig
from trainer.heldout import heldout_tasks
from trainer.options import option


@dataclass
class ServedEvalConfig(HeldoutConfig):
    top_p: float = field(default=1.0, metadata=option("Top-p."))


@dataclass
class ServedScore:
    checkpoint: str
    model: str
    run_id: int
    problems: int
    samples: int
    avg: float  # avg@k: mean correctness over all samples
    ci95: tuple[float, float]
    pass_k: float | None


def write_suite(path: Path, cfg: HeldoutConfig) -> int:
    """The held-out problems as ``{"id", "problem", "answer"}`` lines; returns their number."""
    tasks = heldout_tasks(cfg)
    bad = sorted({t.kind for t in tasks if t.verifier != "math"})
    if bad:
        raise ValueError(f"served evaluation covers math kinds only, not {bad}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for t in tasks:
            fh.write(json.dumps({"id": t.id, "problem": t.question, "answer": t.answer}) + "\n")
    return len(tasks)


def model_name(checkpoint: Path) -> str:
    """``run/step_000100``: the name the checkpoint is served and stored under."""
    checkpoint = Path(checkpoint).resolve()
    return f"{checkpoint.parent.name}/{checkpoint.name}"


def evaluate_served(checkpoints: list[Path], work_dir: Path, cfg: ServedEvalConfig, *, db_url: str | None = None,
                    progress: bool = True) -> list[ServedScore]:
    for ckpt in checkpoints:
        if not (Path(ckpt) / "config.json").is_file():
            raise ValueError(f"{ckpt} is not a checkpoint directory (no config.json)")
    work_dir = Path(work_dir)
    suite = work_dir / f"heldout-seed{cfg.seed}-{'+'.join(cfg.kinds)}-op{cfg.max_operand}-n{cfg.n_val}.jsonl"
    write_suite(suite, cfg)
    template = work_dir / "raw_question.txt"
    template.write_text("{problem}", encoding="utf-8")
    return [_serve_and_score(ckpt, suite, template, cfg, db_url, progress) for ckpt in checkpoints]


def _serve_and_score(ckpt: Path, suite: Path, template: Path, cfg: ServedEvalConfig, db_url: str | None,
                     progress: bool) -> ServedScore:
    from evaluators.runner.run import EvalConfig, EvalError, run_eval
    from ring_core.service import free_port
    from ring_serve.vllm_server import ServeOptions, VllmServer

    name, k = model_name(ckpt), cfg.samples
    opts = ServeOptions(model=str(ckpt), served_name=name, port=free_port(), max_model_len=512, kv_cache_gb=0.5)
    with VllmServer(opts):
        ecfg = EvalConfig(endpoint=f"http://127.0.0.1:{opts.port}/v1", model=name, suites=[f"jsonl:{suite}"],
                          k=k, concurrency=32, temperature=cfg.temperature, top_p=cfg.top_p,
                          max_tokens=cfg.max_new_tokens, seed=cfg.eval_seed, prompt_overrides=[f"math={template}"],
                          tags=["heldout"], db_url=db_url, progress=progress)
        (run,) = run_eval(ecfg)
    if run.status != "done" or run.errors:
        raise EvalError(f"{name}: evaluation {run.status} with {run.errors} failed requests: {run.last_error}")
    m = run.metrics
    return ServedScore(str(ckpt), name, run.run_id, m["problems"], m["samples"], m[f"avg@{k}"],
                       tuple(m["ci95"]), m.get(f"pass@{k}"))
