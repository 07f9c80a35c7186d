"""Orchestration of `ring eval`: load suites, resume runs, sample, grade, store, summarize.

Every graded sample is written as soon as it completes, keyed (run, problem, sample index), so
a crash or Ctrl-C loses at most the requests in flight; a re-run only generates what is missing.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from evaluators import Verdict, get_verifier
from evaluators.answer import NO_ANSWER
from evaluators.runner.chat_client import ChatClient, Completion, RequestFailed
from evaluators.runner.datasets import Dataset, load_suite
from evaluators.runner.prompts import load_overrides
from evaluators.runner.scoring import summarize
from ring_core.store.api import sample_row

log = logging.getLogger(__name__)


class EvalError(Exception):
    """A problem the user must fix (bad option, missing data, endpoint refusing every request)."""


@dataclass
class EvalConfig:
    endpoint: str
    model: str
    suites: list[str]
    k: int = 16
    concurrency: int = 32
    temperature: float = 1.0
    top_p: float = 0.95
    max_tokens: int = 32768
    seed: int | None = None
    api_key: str | None = None
    limit: int | None = None
    gpqa_csv: str | None = None
    gpqa_seed: int = 0
    lcb_jsonl: str | None = None
    since: str | None = None
    until: str | None = None
    source: str = "auto"  # auto, local or hub (evaluators.runner.datasets.load_suite)
    prompt_overrides: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    db_url: str | None = None
    timeout_s: float = 3600.0
    max_retries: int = 6
    backoff_base_s: float = 1.0
    progress: bool = True
    grade_options: dict[str, Any] = field(default_factory=dict)
    notify: Callable[[str], None] | None = None  # one-line notices for the user (default: the log)

    def sampling(self) -> dict[str, Any]:
        """The sampling identity of a run: changing any of these starts a new run."""
        out = {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens}
        if self.seed is not None:
            out["seed"] = self.seed
        return out

    def validate(self) -> None:
        if self.k < 1:
            raise EvalError(f"--k must be >= 1, got {self.k}")
        if self.concurrency < 1:
            raise EvalError(f"--concurrency must be >= 1, got {self.concurrency}")
        if self.max_tokens < 1:
            raise EvalError(f"--max-tokens must be >= 1, got {self.max_tokens}")
        if not 0 <= self.temperature <= 2 or not 0 < self.top_p <= 1:
            raise EvalError("need 0 <= temperature <= 2 and 0 < top_p <= 1")
        if not self.suites:
            raise EvalError("no suites given")
        if not self.endpoint.startswith(("http://", "https://")):
            raise EvalError(f"--endpoint must be an http(s) URL ending in /v1, got {self.endpoint!r}")


@dataclass
class SuiteRun:
    dataset: Dataset
    run_id: int
    verifier_version: str
    done: set[tuple[str, int]]
    new: int = 0
    errors: int = 0
    last_error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    status: str = "running"


def load_datasets(cfg: EvalConfig) -> list[Dataset]:
    try:
        overrides = load_overrides(cfg.prompt_overrides)
        return [load_suite(s.strip(), gpqa_csv=cfg.gpqa_csv, lcb_jsonl=cfg.lcb_jsonl, since=cfg.since,
                           until=cfg.until, seed=cfg.gpqa_seed, limit=cfg.limit, overrides=overrides,
                           source=cfg.source)
                for s in cfg.suites if s.strip()]
    except (ValueError, FileNotFoundError, OSError) as exc:
        raise EvalError(str(exc)) from None


def open_runs(cfg: EvalConfig, datasets: list[Dataset]) -> list[SuiteRun]:
    """Find or create each (model, benchmark, settings) run and what it already holds."""
    from ring_core.store import api, db

    out = []
    with db.session(cfg.db_url) as s:
        model = api.get_or_create_model(s, cfg.model, endpoint=cfg.endpoint)
        for ds in datasets:
            verifier = get_verifier(ds.verifier)
            version = verifier.version
            bench = api.get_or_create_benchmark(s, ds.name, ds.version, ds.hash, suite=verifier.suite,
                                                num_problems=len(ds.problems), source=ds.source,
                                                revision=ds.revision)
            run = api.get_or_create_run(s, model, bench, cfg.sampling(), f"{ds.verifier}-{version}",
                                        cfg.k, tags=cfg.tags)
            s.flush()
            api.set_run_status(s, run.id, "running")
            out.append(SuiteRun(ds, run.id, version, api.done_sample_keys(s, run.id)))
    return out


def grade(verifier, c: Completion, reference, options: dict) -> Verdict:
    """Grade the final answer; a reply whose reasoning never closed has none and is not graded."""
    if c.text is None:
        return Verdict(correct=False, score=0.0, extracted=None, reason=NO_ANSWER)
    return verifier.grade(c.text, reference, **options)


def _row(sr: SuiteRun, problem, idx: int, c: Completion, verdict: Verdict) -> dict[str, Any]:
    details = {**(verdict.details or {}), "finish_reason": c.finish_reason, "prompt_tokens": c.prompt_tokens,
               "attempts": c.attempts, "grade_s": verdict.elapsed_s}
    return sample_row(problem.id, idx, verdict, prompt=problem.prompt, reasoning=c.reasoning, answer=c.text,
                      tokens=c.tokens, latency_s=c.latency_s, details=details)


def _failed_row(problem, idx: int, exc: RequestFailed) -> dict[str, Any]:
    return sample_row(problem.id, idx, prompt=problem.prompt, correct=False, score=0.0,
                      reason=f"request rejected: {exc}"[:2000],
                      details={"request_error": str(exc)[:2000], "status": exc.status})


def _write(db_url: str | None, batch: list[tuple[int, dict[str, Any]]]) -> int:
    from ring_core.store import api, db

    by_run: dict[int, list[dict[str, Any]]] = {}
    for run_id, row in batch:
        by_run.setdefault(run_id, []).append(row)
    with db.session(db_url) as s:
        return sum(api.add_samples(s, run_id, rows) for run_id, rows in by_run.items())


async def _writer(queue: asyncio.Queue, db_url: str | None, bar, closing: asyncio.Event,
                  flush_s: float = 0.1) -> None:
    """Commits finished samples in small batches: what arrives within ``flush_s`` of the first.

    One transaction per sample costs more CPU than the request itself on a fast server; a short
    window keeps a crash's loss to the samples of the last ``flush_s`` seconds.
    """
    stop = False
    while not stop:
        item = await queue.get()
        if item is not None and flush_s > 0 and not closing.is_set():
            try:  # wait for more samples, but not once the run is ending
                await asyncio.wait_for(closing.wait(), flush_s)
            except asyncio.TimeoutError:
                pass
        batch = []
        while True:
            if item is None:
                stop = True
            else:
                batch.append(item)
            if queue.empty():
                break
            item = queue.get_nowait()
        if batch:
            await asyncio.to_thread(_write, db_url, batch)
            if bar is not None:
                bar.update(len(batch))


async def _one(cfg: EvalConfig, client: ChatClient, sr: SuiteRun, problem, idx: int,
               queue: asyncio.Queue) -> None:
    sampling = cfg.sampling()
    if cfg.seed is not None:  # distinct but reproducible seed per sample
        sampling["seed"] = cfg.seed * 1_000_003 + idx
    verifier = get_verifier(sr.dataset.verifier)
    try:
        c = await client.complete(problem.prompt, **sampling)
    except RequestFailed as exc:
        if exc.fatal:
            raise
        sr.errors += 1
        sr.last_error = str(exc)
        if not exc.retryable:  # deterministic rejection (e.g. prompt too long): record it
            await queue.put((sr.run_id, _failed_row(problem, idx, exc)))
        return
    verdict = await asyncio.to_thread(grade, verifier, c, problem.reference,
                                      cfg.grade_options.get(sr.dataset.verifier, {}))
    sr.new += 1
    await queue.put((sr.run_id, _row(sr, problem, idx, c, verdict)))


async def _cap_notice(cfg: EvalConfig, client: ChatClient) -> None:
    """Learn the served context length; say once when --max-tokens cannot fit in it."""
    context = await client.probe_context()
    if context is not None and not client.fits(cfg.max_tokens):
        (cfg.notify or log.warning)(
            f"--max-tokens {cfg.max_tokens} does not fit {cfg.model}'s context of {context} tokens "
            f"(the server's max_model_len): each reply is capped at what its prompt leaves")


async def _run_all(cfg: EvalConfig, runs: list[SuiteRun]) -> None:
    todo = [(sr, p, i) for i in range(cfg.k) for sr in runs for p in sr.dataset.problems
            if (p.id, i) not in sr.done]
    total = sum(len(sr.dataset.problems) for sr in runs) * cfg.k
    bar = None
    if cfg.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=total - len(todo), desc="ring eval", unit="sample",
                   dynamic_ncols=True)
    queue: asyncio.Queue = asyncio.Queue()
    closing = asyncio.Event()
    writer = asyncio.create_task(_writer(queue, cfg.db_url, bar, closing))
    client = ChatClient(cfg.endpoint, cfg.model, api_key=cfg.api_key, concurrency=cfg.concurrency,
                        timeout_s=cfg.timeout_s, max_retries=cfg.max_retries,
                        backoff_base_s=cfg.backoff_base_s)
    await _cap_notice(cfg, client)
    # Start at most a few times `concurrency` coroutines at once so huge runs stay light.
    window = asyncio.Semaphore(cfg.concurrency * 4)

    fatal: list[BaseException] = []

    async def guarded(sr, p, i):
        try:
            await _one(cfg, client, sr, p, i, queue)
        except RequestFailed as exc:  # only fatal ones get here: stop starting new requests
            fatal.append(exc)
        except Exception as exc:  # noqa: BLE001 - one bad problem must not sink the run
            sr.errors += 1
            sr.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("sample %s/%s failed: %s", p.id, i, sr.last_error)
        finally:
            window.release()

    tasks: set[asyncio.Task] = set()
    try:
        for sr, p, i in todo:
            await window.acquire()
            if fatal or writer.done():
                break
            t = asyncio.create_task(guarded(sr, p, i))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
        while tasks and not fatal and not writer.done():
            await asyncio.wait(set(tasks) | {writer}, return_when=asyncio.FIRST_COMPLETED)
        if writer.done():  # the DB write failed: stop rather than generate samples we cannot keep
            writer.result()
            raise RuntimeError("the sample writer stopped unexpectedly")
        if fatal:
            raise fatal[0]
    finally:
        for t in list(tasks):
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        closing.set()
        await queue.put(None)  # finished samples are flushed even on Ctrl-C
        await asyncio.shield(writer)
        await client.aclose()
        if bar is not None:
            bar.close()


def finish_runs(cfg: EvalConfig, runs: list[SuiteRun], if_incomplete: str = "done") -> None:
    """Recompute metrics from every stored sample of each run and store them with the status."""
    from sqlalchemy import select

    from ring_core.store import api, db
    from ring_core.store.models import Sample

    with db.session(cfg.db_url) as s:
        for sr in runs:
            rows = s.execute(select(Sample.problem_id, Sample.correct, Sample.extracted, Sample.tokens,
                                    Sample.latency_s).where(Sample.run_id == sr.run_id)).mappings().all()
            sr.metrics = summarize([dict(r) for r in rows], cfg.k)
            complete = sr.metrics.get("samples", 0) == len(sr.dataset.problems) * cfg.k
            # a run with every sample is done however this invocation ended
            sr.status = "done" if complete else ("failed" if if_incomplete == "done" else if_incomplete)
            if sr.errors:
                sr.metrics["request_errors"] = sr.errors
            api.save_run_metrics(s, sr.run_id, sr.metrics)
            api.set_run_status(s, sr.run_id, sr.status)


def run_eval(cfg: EvalConfig) -> list[SuiteRun]:
    """Run (or resume) every suite in ``cfg``; returns the runs with their metrics."""
    from ring_core.store import db

    cfg.validate()
    datasets = load_datasets(cfg)
    db.upgrade(cfg.db_url)
    runs = open_runs(cfg, datasets)
    t0 = time.monotonic()
    try:
        asyncio.run(_run_all(cfg, runs))
    except KeyboardInterrupt:
        finish_runs(cfg, runs, "cancelled")
        raise
    except RequestFailed as exc:
        finish_runs(cfg, runs, "failed")
        raise EvalError(f"the endpoint refused the request ({exc}); check --endpoint, --model and "
                        f"the API key") from None
    finish_runs(cfg, runs)
    log.info("eval finished in %.1f s", time.monotonic() - t0)
    return runs


def render_table(cfg: EvalConfig, runs: list[SuiteRun]):
    """A rich Table of the run metrics."""
    from rich.table import Table

    k = cfg.k
    table = Table(title=f"{cfg.model} @ {cfg.endpoint} (k={k}, T={cfg.temperature}, top_p={cfg.top_p})",
                  caption="± is the 95% normal CI over problems (1.96 standard errors), as on the dashboard")
    for col in ("suite", "run", "problems", "samples", f"avg@{k} ± 95% CI", "95% CI", f"pass@{k}", f"maj@{k}",
                "tokens/sample", "latency s", "status"):
        table.add_column(col, justify="left" if col in ("suite", "status") else "right")
    for sr in runs:
        m = sr.metrics

        def pct(key):
            v = m.get(key)
            return "-" if v is None else f"{100 * v:.1f}"
        ci = m.get("ci95") or [None, None]
        avg = "-" if m.get(f"avg@{k}") is None or ci[0] is None else \
            f"{100 * m[f'avg@{k}']:.1f} ± {100 * (ci[1] - m[f'avg@{k}']):.1f}"
        pk = max((int(key[5:]) for key in m if key.startswith("pass@")), default=None)
        table.add_row(sr.dataset.name, str(sr.run_id), str(m.get("problems", 0)), str(m.get("samples", 0)),
                      avg, "-" if ci[0] is None else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]",
                      "-" if pk is None else pct(f"pass@{pk}") + ("" if pk == k else f" (@{pk})"),
                      pct(f"maj@{k}"),
                      "-" if m.get("tokens_mean") is None else f"{m['tokens_mean']:.0f}",
                      "-" if m.get("latency_mean_s") is None else f"{m['latency_mean_s']:.2f}",
                      sr.status + (f" ({sr.errors} errors)" if sr.errors else ""))
    return table
