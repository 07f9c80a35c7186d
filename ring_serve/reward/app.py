"""The reward service's FastAPI app factory and its ``serve`` entry point."""
from __future__ import annotations

import hmac
import json
import logging
import os
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from evaluators.grading import GradeResult
from ring_serve.reward.prometheus import RewardMetrics
from ring_serve.reward.queue import Admission, GradingRunner
from ring_serve.reward.routes import router
from ring_serve.reward.spn_routes import router as spn_router

log = logging.getLogger("ring.reward")
OPEN_PATHS = {"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}


@dataclass
class RewardSettings:
    """Service limits. ``workers``: items graded at once; ``queue_size``: items admitted (grading
    plus waiting) before 429; ``deadline_s``: default per-item deadline."""

    workers: int = field(default_factory=lambda: max(4, 2 * (os.cpu_count() or 2)))
    queue_size: int = 256
    deadline_s: float = 30.0
    max_deadline_s: float = 300.0
    max_batch: int = 1024
    max_body_bytes: int = 32 * 1024 * 1024
    api_key: str | None = None
    warm: bool = True


class JSON(JSONResponse):
    """JSON that always encodes: ASCII escapes (lone surrogates from clients survive), no NaN."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


class RewardState:
    def __init__(self, settings: RewardSettings):
        self.settings = settings
        self.admission = Admission(settings.queue_size)
        self.runner = GradingRunner(settings.workers)
        self.metrics = RewardMetrics()
        self._item_s = 0.05  # moving average of per-item latency, for Retry-After

    def observe(self, result: GradeResult) -> None:
        self._item_s = 0.9 * self._item_s + 0.1 * result.elapsed_s

    def retry_after(self) -> int:
        drain_s = self.admission.depth * self._item_s / self.settings.workers
        return int(min(30, max(1, round(drain_s))))


def _route_label(path: str) -> str:
    if path.startswith("/v1/reward/"):
        return "/v1/reward/{verifier}"
    if path in ("/v1/reward", "/get_reward", "/v1/verifiers", "/health", "/metrics", "/v1/spn/map"):
        return path
    return "other"


class Guard:
    """ASGI middleware: metrics for every request, API key, and the request body size limit.

    The body is read (up to the limit) before the app sees it, so an oversized upload is refused
    with 413 without being parsed, whether or not it declared a Content-Length.
    """

    def __init__(self, app, state: RewardState):
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.monotonic()
        status = {"code": 500}
        route = _route_label(scope["path"])

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self._guarded(scope, receive, send_wrapper)
        finally:
            m = self.state.metrics
            m.requests.labels(route, str(status["code"])).inc()
            m.latency.labels(route).observe(time.monotonic() - start)

    async def _guarded(self, scope, receive, send):
        settings = self.state.settings
        if settings.api_key and scope["path"] not in OPEN_PATHS:
            if not _key_ok(scope, settings.api_key):
                return await _plain(send, 401, "missing or wrong API key (Authorization: Bearer KEY)",
                                    {"www-authenticate": "Bearer"})
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        limit = settings.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and not declared.isdigit():
            return await _plain(send, 400, "invalid Content-Length header")
        if declared is not None and int(declared) > limit:
            return await _plain(send, 413, f"request body over the limit of {limit} bytes")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return await _plain(send, 413, f"request body over the limit of {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1").strip()
    return None


def _key_ok(scope, key: str) -> bool:
    auth = _header(scope, b"authorization") or ""
    given = auth[7:].strip() if auth[:7].lower() == "bearer " else (_header(scope, b"x-api-key") or "")
    return hmac.compare_digest(given.encode(), key.encode())


async def _plain(send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    hdrs += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


def _warm_pools() -> None:
    """Start the math and sandbox worker pools so the first requests do not pay for it."""
    from evaluators import available

    try:
        from evaluators.math.sympy_pool import warm

        warm()
    except Exception as exc:  # a cold pool still works; only slower at first
        log.warning("math pool warm-up failed: %s", exc)
    if "code" in available():
        try:
            from sandbox.pool import get_pool

            get_pool().warm()
        except Exception as exc:
            log.warning("sandbox pool warm-up failed (code grading will report errors): %s", exc)


def create_app(settings: RewardSettings | None = None) -> FastAPI:
    """The reward service as an ASGI app (settings default from the environment: RING_API_KEY)."""
    settings = settings or RewardSettings(api_key=os.environ.get("RING_API_KEY") or None)
    state = RewardState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.warm:
            await anyio.to_thread.run_sync(_warm_pools)
        yield
        state.runner.close()

    app = FastAPI(title="Ring Lab reward service", version="1.0", lifespan=lifespan,
                  default_response_class=JSON,
                  description="The evaluation verifiers (math, gpqa, code) as RL rewards. "
                              "Send `Authorization: Bearer KEY` when the server has an API key.")
    app.state.reward = state
    app.include_router(router)
    app.include_router(spn_router)  # MAP queries in SPNs, under the same limits

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        # field locations and messages only: echoing the input could be huge or unencodable
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in exc.errors()[:50]]
        return JSON({"detail": errors}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return JSON({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    app.add_middleware(Guard, state=state)
    return app


def serve(host: str = "127.0.0.1", port: int = 8100, settings: RewardSettings | None = None,
          log_level: str = "info") -> None:
    """Run the service with uvicorn until interrupted."""
    import uvicorn

    # RL clients pause between batches: keep their connections open longer than uvicorn's 5 s
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level,
                timeout_keep_alive=75, timeout_graceful_shutdown=10, backlog=4096)
