"""Async chat-completions client: bounded concurrency, retries with backoff, answer/reasoning split."""
from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from evaluators.answer import split_reasoning

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
FATAL_STATUS = {401, 403, 404}  # wrong key, model or URL: every request would fail the same way


class RequestFailed(Exception):
    """A request that will not succeed by retrying (4xx) or ran out of retries."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable

    @property
    def fatal(self) -> bool:
        return self.status in FATAL_STATUS


@dataclass
class Completion:
    text: str | None  # the final answer (after reasoning); None when reasoning never closed
    reasoning: str | None
    raw: str  # content as sent by the server
    finish_reason: str | None
    tokens: int | None
    prompt_tokens: int | None
    latency_s: float
    attempts: int


def backoff_delay(attempt: int, base: float, cap: float, retry_after: str | None) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): Retry-After if given, else jittered 2^n."""
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), cap)
        except ValueError:
            pass
    return min(cap, base * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)


class ChatClient:
    """POSTs to ``{endpoint}/chat/completions`` with at most ``concurrency`` requests in flight."""

    def __init__(self, endpoint: str, model: str, *, api_key: str | None = None, concurrency: int = 32,
                 timeout_s: float = 3600.0, max_retries: int = 6, backoff_base_s: float = 1.0,
                 backoff_cap_s: float = 60.0):
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"endpoint must be an http(s) URL, got {endpoint!r}")
        self.url = endpoint.rstrip("/") + "/chat/completions"
        self.model = model
        self.max_retries = max_retries
        self.backoff = (backoff_base_s, backoff_cap_s)
        self._sem = asyncio.Semaphore(concurrency)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._http = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(timeout_s, connect=30.0),
                                       limits=limits)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def complete(self, prompt: str, **sampling: Any) -> Completion:
        body = {"model": self.model, "messages": [{"role": "user", "content": prompt}], **sampling}
        async with self._sem:
            attempt = 0
            while True:
                attempt += 1
                t0 = time.monotonic()
                try:
                    resp = await self._http.post(self.url, json=body)
                except (httpx.TimeoutException, httpx.TransportError) as exc:
                    err = RequestFailed(f"{type(exc).__name__}: {exc}", retryable=True)
                    retry_after = None
                else:
                    if resp.status_code == 200:
                        return self._parse(resp, time.monotonic() - t0, attempt)
                    err = RequestFailed(f"HTTP {resp.status_code}: {resp.text[:300]}",
                                        status=resp.status_code,
                                        retryable=resp.status_code in RETRY_STATUS)
                    retry_after = resp.headers.get("retry-after")
                if not err.retryable:
                    raise err
                if attempt > self.max_retries:
                    raise RequestFailed(f"gave up after {attempt} attempts: {err}", status=err.status,
                                        retryable=True)
                await asyncio.sleep(backoff_delay(attempt, *self.backoff, retry_after))

    @staticmethod
    def _parse(resp: httpx.Response, latency: float, attempts: int) -> Completion:
        try:
            data = resp.json()
            choice = data["choices"][0]
            msg = choice.get("message") or {}
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise RequestFailed(f"malformed completion response: {exc}: {resp.text[:200]}",
                                status=resp.status_code, retryable=True) from None
        content = msg.get("content")
        reasoning = msg.get("reasoning_content", msg.get("reasoning"))
        text, thought = split_reasoning(content, reasoning)
        usage = data.get("usage") or {}
        return Completion(text, thought, content or "", choice.get("finish_reason"),
                          usage.get("completion_tokens"), usage.get("prompt_tokens"), latency, attempts)
