"""Score checkpoints the way users will see them: each one served by vLLM, scored by ``ring eval``.

The held-out synthetic suite (``trainer.heldout``, never trained on) is written as a JSONL math
suite, each checkpoint is started with ``ring serve``'s launcher, and the benchmark runner sends
the raw question (the format SFT taught; the suite's prompt template is ``{problem}``), grades
with the math verifier and stores every sample in the results DB. One engine runs at a time.

    ring train eval SFT_CKPT RL_CKPT --kinds add,chain --max-operand 9 --n-val 600 --k 1 --temperature 0
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from trainer.data import response_tokens
from trainer.heldout import heldout_tasks


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


def write_suite(path: Path, seed: int, kinds: tuple[str, ...], max_operand: int, n_val: int,
                n_train: int = 360, train_n_val: int = 48) -> int:
    """The held-out problems as ``{"id", "problem", "answer"}`` lines; returns their number."""
    tasks = heldout_tasks(seed, kinds, max_operand, n_val, n_train, train_n_val)
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


def evaluate_served(checkpoints: list[Path], work_dir: Path, *, seed: int = 0, kinds: tuple[str, ...] = ("add",),
                    max_operand: int = 20, n_val: int = 48, k: int = 1, temperature: float = 0.0,
                    top_p: float = 1.0, max_tokens: int | None = None, sample_seed: int | None = 0,
                    db_url: str | None = None, progress: bool = True) -> list[ServedScore]:
    from evaluators.runner.run import EvalConfig, EvalError, run_eval
    from ring_serve.net import free_port
    from ring_serve.server import ServeOptions, VllmServer

    for ckpt in checkpoints:
        if not (Path(ckpt) / "config.json").is_file():
            raise ValueError(f"{ckpt} is not a checkpoint directory (no config.json)")
    work_dir = Path(work_dir)
    max_tokens = max_tokens or response_tokens(kinds)
    suite = work_dir / f"heldout-seed{seed}-{'+'.join(kinds)}-op{max_operand}-n{n_val}.jsonl"
    write_suite(suite, seed, kinds, max_operand, n_val)
    template = work_dir / "raw_question.txt"
    template.write_text("{problem}", encoding="utf-8")
    scores = []
    for ckpt in checkpoints:
        name = model_name(ckpt)
        opts = ServeOptions(model=str(ckpt), served_name=name, port=free_port(), max_model_len=512,
                            kv_cache_gb=0.5)
        with VllmServer(opts):
            cfg = EvalConfig(endpoint=f"http://127.0.0.1:{opts.port}/v1", model=name, suites=[f"jsonl:{suite}"],
                             k=k, concurrency=32, temperature=temperature, top_p=top_p, max_tokens=max_tokens,
                             seed=sample_seed, prompt_overrides=[f"math={template}"], tags=["heldout"],
                             db_url=db_url, progress=progress)
            (run,) = run_eval(cfg)
        if run.status != "done" or run.errors:
            raise EvalError(f"{name}: evaluation {run.status} with {run.errors} failed requests: {run.last_error}")
        m = run.metrics
        scores.append(ServedScore(str(ckpt), name, run.run_id, m["problems"], m["samples"], m[f"avg@{k}"],
                                  tuple(m["ci95"]), m.get(f"pass@{k}")))
    return scores
