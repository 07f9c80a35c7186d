"""Asynchronous rollouts on vLLM servers that survive weight updates (AReaL's interruptible generation).

``RolloutClient.generate`` streams ``/v1/completions`` with a token-id prompt, so the tokens so far
are always known. ``update_weights`` pauses every server with ``mode=abort``: the engines stop
and every request ends; the client keeps each generation's tokens and, once the new weights are
in, resubmits prompt + partial output with the remaining token budget. Each token records the
policy version that produced it (the servers' ``/inference/v1/generate``, which would report it,
is not in the CPU build, so versions are kept here: a request's tokens belong to the version
that was live when it was sent, and no request spans an update, see ``_drain``).

Servers need ``VLLM_SERVER_DEV_MODE=1`` (pause/resume). Log-probs are vLLM's raw ones (before
temperature and top-p), the sampling policy's only at temperature 1.0 and top_p 1.0 (the
default here) unless the server runs ``--logprobs-mode processed_logprobs``. Every HTTP call and
every wait has a timeout, and failures raise ``RolloutError`` naming the server and the call.
All methods run on one asyncio loop (a trainer thread uses ``asyncio.run_coroutine_threadsafe``).
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Literal, Mapping, Sequence

import httpx
import torch

from trainer.rollout import Rollout
from trainer.weight_sync import WeightSync


class RolloutError(RuntimeError):
    """A server failed or did not answer in time; the message names its URL and the call."""


@dataclass
class Generation:
    prompt: list[int]
    tokens: list[int] = field(default_factory=list)  # includes eos if finished
    logprobs: list[float] = field(default_factory=list)  # vLLM's, one per token
    versions: list[int] = field(default_factory=list)  # policy version that sampled each token
    interrupted_count: int = 0  # requests of this generation cut by a weight update
    finish_reason: str | None = None  # "stop" or "length"

    @property
    def finished(self) -> bool:
        return self.finish_reason == "stop"

    def to_rollout(self) -> Rollout:
        return Rollout(self.prompt, list(self.tokens), self.finished, list(self.logprobs))


@dataclass
class ClientMetrics:
    requests: int = 0  # HTTP generation requests, resubmissions included
    generations: int = 0
    interrupted: int = 0  # requests cut by a weight update (then resubmitted)
    tokens: int = 0  # tokens received
    pauses: int = 0  # pause calls sent (one per server per update)
    resumes: int = 0  # resume calls sent; equals pauses once no update is running
    updates: int = 0
    failed_updates: int = 0
    update_s: float = 0.0  # last successful update, pause to resume
    push_s: float = 0.0  # its weight push
    busy_s: float = 0.0  # time with at least one request in flight


@dataclass
class _Server:
    url: str
    model: str | None = None
    in_flight: int = 0


class RolloutClient:
    """Generations over one or more vLLM servers (least-loaded or round-robin), interruptible by updates."""

    def __init__(self, base_urls: Sequence[str], *, version: int = 0, api_key: str | None = None,
                 timeout_s: float = 60.0, connect_timeout_s: float = 5.0, update_wait_s: float = 600.0,
                 drain_grace_s: float = 2.0, balance: Literal["least_loaded", "round_robin"] = "least_loaded",
                 max_interruptions: int = 64):
        if not base_urls or balance not in ("least_loaded", "round_robin"):
            raise ValueError(f"need at least one server URL and a known balance; got {base_urls!r}, {balance!r}")
        self.servers = [_Server(u.rstrip("/")) for u in base_urls]
        self.version, self.balance, self.max_interruptions = version, balance, max_interruptions
        self.timeout_s, self.update_wait_s, self.drain_grace_s = timeout_s, update_wait_s, drain_grace_s
        self.stats = ClientMetrics()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # the read timeout bounds the wait for each streamed chunk; the pool timeout the wait for a connection
        self._http = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
                                       limits=httpx.Limits(max_connections=1024, max_keepalive_connections=64))
        self._serving = asyncio.Event()
        self._serving.set()
        self._update_lock = asyncio.Lock()
        self._live: set[asyncio.Task] = set()
        self._turn = itertools.count()
        self._busy_since: float | None = None

    # --- generation -------------------------------------------------------------------------------

    async def generate(self, prompt_ids: Sequence[int], max_tokens: int, temperature: float = 1.0,
                       seed: int | None = None, *, top_p: float = 1.0, stop_token_ids: Sequence[int] = (),
                       ignore_eos: bool = False) -> Generation:
        """Sample up to ``max_tokens`` tokens after ``prompt_ids``, across any number of weight updates."""
        gen = Generation(list(prompt_ids))
        sampling = {"temperature": temperature, "top_p": top_p, "ignore_eos": ignore_eos,
                    "stop_token_ids": list(stop_token_ids)}
        while len(gen.tokens) < max_tokens:
            # a resubmission draws fresh randomness: replaying the seed would repeat the first tokens' draws
            attempt_seed = None if seed is None else seed + 7919 * gen.interrupted_count
            finish = await self._attempt(gen, max_tokens - len(gen.tokens), {**sampling, "seed": attempt_seed})
            if finish != "abort":
                gen.finish_reason = finish
                break
            self._note_interruption(gen)
        else:
            gen.finish_reason = "length"  # the budget ran out exactly at an interruption
        self.stats.generations += 1
        return gen

    def _note_interruption(self, gen: Generation) -> None:
        gen.interrupted_count += 1
        self.stats.interrupted += 1
        if gen.interrupted_count > self.max_interruptions:
            raise RolloutError(f"a generation was interrupted {gen.interrupted_count} times "
                               f"({len(gen.tokens)} tokens so far); are the servers being aborted by someone else?")

    async def _attempt(self, gen: Generation, budget: int, sampling: dict) -> str:
        """One request for the rest of ``gen``; its finish reason ("abort" when an update cut it)."""
        await self._until_serving()
        server = self._pick()
        task = asyncio.ensure_future(self._stream(server, gen, budget, sampling, self.version))
        self._live.add(task)
        self._enter(server)
        try:
            return await task
        except asyncio.CancelledError:
            if task.cancelled() and not asyncio.current_task().cancelling():
                return "abort"  # cancelled by ``_drain``, not by our own caller
            raise
        finally:
            self._live.discard(task)
            self._leave(server)

    async def _stream(self, server: _Server, gen: Generation, budget: int, sampling: dict, version: int) -> str:
        body = {"model": await self._model(server), "prompt": gen.prompt + gen.tokens, "max_tokens": budget,
                "stream": True, "logprobs": 0, "return_token_ids": True, **sampling}
        self.stats.requests += 1
        finish = None
        try:
            async with self._http.stream("POST", server.url + "/v1/completions", json=body) as resp:
                await _raise_for_status(server.url, "POST /v1/completions", resp)
                async for chunk in _events(resp):
                    finish = self._take(server, gen, chunk, version) or finish
        except httpx.HTTPError as e:
            raise RolloutError(f"{server.url}: POST /v1/completions failed: {_describe(e)}") from e
        if finish is None:
            if self.updating_since(version):
                return "abort"  # vLLM may close a stream it aborted for a pause without a last chunk
            raise RolloutError(f"{server.url}: POST /v1/completions stream ended without a finish_reason")
        return finish

    def updating_since(self, version: int) -> bool:
        """Whether a weight update began (or finished) after a request of ``version`` was sent."""
        return not self._serving.is_set() or version != self.version

    def _take(self, server: _Server, gen: Generation, chunk: dict, version: int) -> str | None:
        """Append one streamed chunk's tokens to ``gen``; its finish reason, if it carries one."""
        if "error" in chunk:
            raise RolloutError(f"{server.url}: generation failed: {chunk['error']}")
        choice = chunk["choices"][0]
        ids = choice.get("token_ids") or []
        lps = (choice.get("logprobs") or {}).get("token_logprobs") or []
        if len(ids) != len(lps):
            raise RolloutError(f"{server.url}: a chunk had {len(ids)} token ids but {len(lps)} log-probs")
        gen.tokens += ids
        gen.logprobs += lps
        gen.versions += [version] * len(ids)
        self.stats.tokens += len(ids)
        return choice.get("finish_reason")

    async def _until_serving(self) -> None:
        try:
            await asyncio.wait_for(self._serving.wait(), self.update_wait_s)
        except TimeoutError:
            raise RolloutError(f"waited {self.update_wait_s:.0f}s for a weight update to finish") from None

    def _pick(self) -> _Server:
        turn, n = next(self._turn), len(self.servers)
        rotated = [self.servers[(turn + i) % n] for i in range(n)]
        # min keeps the first of equals, so the rotation also spreads ties
        return rotated[0] if self.balance == "round_robin" else min(rotated, key=lambda s: s.in_flight)

    async def _model(self, server: _Server) -> str:
        if server.model is None:
            server.model = (await self._call(server, "GET", "/v1/models")).json()["data"][0]["id"]
        return server.model

    def _enter(self, server: _Server) -> None:
        if self._busy_since is None:
            self._busy_since = time.perf_counter()
        server.in_flight += 1

    def _leave(self, server: _Server) -> None:
        server.in_flight -= 1
        if not any(s.in_flight for s in self.servers) and self._busy_since is not None:
            self.stats.busy_s += time.perf_counter() - self._busy_since
            self._busy_since = None

    # --- weight updates ---------------------------------------------------------------------------

    async def update_weights(self, sync: WeightSync, state_dict: Mapping[str, torch.Tensor], version: int) -> float:
        """Pause all servers (aborting their requests), push ``state_dict`` as ``version``, reset the
        prefix caches and resume; the push's seconds. Resume runs even when a step fails, and a
        failed update leaves ``self.version`` as it was. ``state_dict`` must not change meanwhile."""
        async with self._one_update_at_a_time():
            t0 = time.perf_counter()
            self._serving.clear()
            try:
                push_s = await self._paused_push(sync, state_dict, version)
            except BaseException as failure:
                self.stats.failed_updates += 1
                await self._resume_keeping(failure)
                raise
            await self._resume_and_serve()
            self.stats.updates += 1
            self.stats.update_s, self.stats.push_s = time.perf_counter() - t0, push_s
            return push_s

    @contextlib.asynccontextmanager
    async def _one_update_at_a_time(self):
        try:
            await asyncio.wait_for(self._update_lock.acquire(), self.update_wait_s)
        except TimeoutError:
            raise RolloutError(f"waited {self.update_wait_s:.0f}s for another weight update to finish") from None
        try:
            yield
        finally:
            self._update_lock.release()

    async def _paused_push(self, sync: WeightSync, state_dict, version: int) -> float:
        await self._on_all(self._pause)
        await self._drain()
        push_s = await asyncio.to_thread(sync.push, state_dict, version)
        # cached KV blocks were computed by the old weights
        await self._on_all(self._reset_prefix_cache)
        self.version = version
        return push_s

    async def _drain(self) -> None:
        """Let the aborted requests deliver their last chunks, then cancel the rest (e.g. a request
        that reached a server after the pause and waits there): none may outlive the old weights."""
        if self._live:
            _, pending = await asyncio.wait(set(self._live), timeout=self.drain_grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=self.timeout_s)

    async def _pause(self, server: _Server) -> None:
        self.stats.pauses += 1
        await self._call(server, "POST", "/pause", params={"mode": "abort", "clear_cache": "true"})

    async def _resume(self, server: _Server) -> None:
        self.stats.resumes += 1
        await self._call(server, "POST", "/resume")
        if (await self._call(server, "GET", "/is_paused")).json().get("is_paused") is not False:
            raise RolloutError(f"{server.url}: still paused after POST /resume")

    async def _resume_and_serve(self) -> None:
        try:
            await self._on_all(self._resume)
        finally:
            self._serving.set()

    async def _resume_keeping(self, failure: BaseException) -> None:
        """Resume after a failed update; the update's error stays the one raised."""
        try:
            await self._resume_and_serve()
        except Exception as e:
            failure.add_note(f"resuming the servers failed too: {e}")

    async def _reset_prefix_cache(self, server: _Server, tries: int = 5) -> None:
        for _ in range(tries):  # fails while blocks are still held; the aborts release them
            if (await self._call(server, "POST", "/reset_prefix_cache")).json().get("success"):
                return
            await asyncio.sleep(0.1)
        raise RolloutError(f"{server.url}: POST /reset_prefix_cache kept answering success=false")

    async def _on_all(self, step) -> None:
        """Run ``step`` on every server (all of them, even when one fails); raise the failures."""
        results = await asyncio.gather(*(step(s) for s in self.servers), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0] if len(errors) == 1 else RolloutError("; ".join(map(str, errors)))

    async def _call(self, server: _Server, method: str, path: str, **kw) -> httpx.Response:
        try:
            resp = await self._http.request(method, server.url + path, **kw)
        except httpx.HTTPError as e:
            raise RolloutError(f"{server.url}: {method} {path} failed: {_describe(e)}") from e
        await _raise_for_status(server.url, f"{method} {path}", resp)
        return resp

    # --- the rest ---------------------------------------------------------------------------------

    def metrics(self) -> dict[str, float]:
        out = asdict(self.stats)
        if self._busy_since is not None:
            out["busy_s"] += time.perf_counter() - self._busy_since
        return out

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "RolloutClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()


async def _events(resp: httpx.Response):
    """The JSON payloads of a server-sent-events stream, up to ``[DONE]``."""
    async for line in resp.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[len("data:"):].strip()
        if data == "[DONE]":
            return
        yield json.loads(data)


async def _raise_for_status(url: str, what: str, resp: httpx.Response) -> None:
    if resp.status_code != 200:
        text = (await resp.aread()).decode(errors="replace")[:500]
        hint = " (is the server in VLLM_SERVER_DEV_MODE=1?)" if resp.status_code == 404 else ""
        raise RolloutError(f"{url}: {what} returned HTTP {resp.status_code}{hint}: {text}")


def _describe(e: httpx.HTTPError) -> str:
    kind = "timed out" if isinstance(e, httpx.TimeoutException) else "error"
    return f"{kind} ({type(e).__name__}: {e or 'no detail'})"
