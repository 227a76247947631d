"""The HTTP layer: a raw ASGI fast path for the hot endpoints, FastAPI for everything else.

``POST /v1/predict``, ``/v1/predict/batch``, ``/v1/explain``, ``GET /health`` and ``GET /ready``
are answered by :class:`ServeApp` directly — a few dictionary look-ups per request instead of a
routing and validation stack — while FastAPI serves the page, ``/metadata``, ``/metrics`` and
``/docs``, and declares the fast endpoints too, so the OpenAPI schema documents every request and
answer.

``/health`` (liveness) and ``/ready`` (readiness) are answered before any limit: a probe must
tell the truth about a busy server, not add to its 503s. Every other request passes the same gate:
header size (431), body size (413, from Content-Length before reading, or while reading a chunked
body), the body's deadlines (408: the whole request within ``read_timeout_s`` of its first byte,
``min_body_rate`` after ``body_grace_s``, no pause over ``body_timeout_s``), the memory budget of
body bytes in flight (503), then — once the body is in — the per-worker concurrency cap (503 at
once, never an unbounded queue) and the answer's timeout (504). Errors are JSON
``{"error": ..., "detail": ...}``; a bug answers 500 without a traceback.
"""


import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path

from nnforge.serve.deadlines import Deadlines
from nnforge.serve.limits import ApiError
from nnforge.serve.protocol import STARTED
from nnforge.serve.service import SETTINGS_ENV, ServeSettings, Service

log = logging.getLogger("nnforge.serve")
STATIC = Path(__file__).parent / "static"
JSON_HEADERS = [(b"content-type", b"application/json")]
FAST_ROUTES = {
    ("POST", "/v1/predict"): "predict",
    ("POST", "/v1/predict/batch"): "predict_batch",
    ("POST", "/v1/explain"): "explain",
    ("GET", "/health"): "health",
    ("GET", "/ready"): "ready",
}
PROBES = ("health", "ready")
ENDPOINTS = {"/": "page", "/metadata": "metadata", "/metrics": "metrics", "/docs": "docs", "/openapi.json": "docs",
             "/favicon.ico": "static"}
CLOSE = (b"connection", b"close")


class ClientGone(Exception):
    pass


class BodyTooSlow(Exception):
    pass


def _error_body(status: int, error: str, detail=None) -> bytes:
    return json.dumps({"error": error, "detail": detail}).encode()


async def _send(send, status: int, body: bytes, headers=()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": JSON_HEADERS + [(b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


class ServeApp:
    """The ASGI application: the gate and fast path in front of a FastAPI app."""

    def __init__(self, service: Service):
        self.service = service
        self.limits = service.limits
        self.metrics = service.metrics
        self.deadlines = Deadlines()
        self.bytes_in_flight = 0  # body bytes held by requests being read or answered (Limits.max_bytes_in_flight)
        self.draining = False  # set at shutdown: /ready answers 503 so a balancer stops sending
        self.api = build_fastapi(self)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                return await self._lifespan(receive, send)
            return await self.api(scope, receive, send)
        started = time.perf_counter()
        if scope["method"] == "HEAD":
            # HEAD is GET without the body (RFC 9110; uptime monitors and `curl -I` use it): answered
            # as GET on a copy of the scope, and the server, which still sees HEAD, sends no body.
            scope = {**scope, "method": "GET"}
        route = FAST_ROUTES.get((scope["method"], scope["path"]))
        if route in PROBES:
            status = await self.probe(route, send)
            self.metrics.observe_request(route, status, time.perf_counter() - started)
            return
        endpoint = route or ENDPOINTS.get(scope["path"], "static" if scope["path"].startswith("/static/") else "other")
        status = 500
        try:
            if sum(len(k) + len(v) for k, v in scope["headers"]) > self.limits.max_header_bytes:
                status = 431
                await _send(send, 431, _error_body(431, "request headers too large", f"the limit is {self.limits.max_header_bytes} bytes"))
            elif route is None:
                status = await self._gated(self._delegate, scope, receive, send)
            else:
                status = await self.fast(route, scope, receive, send)
        finally:
            self.metrics.observe_request(endpoint, status, time.perf_counter() - started)

    async def probe(self, route: str, send) -> int:
        if route == "health":
            await _send(send, 200, self.service.health)
            return 200
        status = 503 if self.draining else 200
        body = {"status": "draining" if self.draining else "ready", "model_version": self.service.model_version,
                "in_flight": self.metrics.in_flight, "max_concurrency": self.limits.max_concurrency}
        await _send(send, status, json.dumps(body).encode())
        return status

    async def _gated(self, answer, scope, receive, send) -> int:
        """Run ``answer`` holding one of the worker's ``max_concurrency`` slots (503 when none is free)."""
        metrics = self.metrics
        if metrics.in_flight >= self.limits.max_concurrency:
            metrics.reject()
            await _send(send, 503, _error_body(503, "server busy", f"more than {self.limits.max_concurrency} requests in flight; retry shortly"),
                        [(b"retry-after", b"1")])
            return 503
        metrics.in_flight += 1
        try:
            return await answer(scope, receive, send)
        finally:
            metrics.in_flight -= 1

    async def _delegate(self, scope, receive, send) -> int:
        status = 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.api(scope, receive, send_status)
        return status

    async def fast(self, route: str, scope, receive, send) -> int:
        """Answer one fast-path request; returns the status sent."""
        if route in PROBES:
            return await self.probe(route, send)
        status, body, headers = 200, b"", []
        task = asyncio.current_task()
        deadlines = self.deadlines
        held = [0]  # body bytes this request holds against the memory budget
        try:
            try:
                content_type, data = await self._read_body(scope, receive, task, held)
            except BodyTooSlow as exc:
                status, body, headers = 408, _error_body(408, "request body too slow", str(exc)), [CLOSE]
            except ApiError as exc:  # refused while reading: uvicorn discards the rest of the body
                status, body, headers = exc.status, json.dumps(exc.body()).encode(), exc.header_list()
            else:
                async def answer(scope, receive, send):
                    return await self._answer(route, scope, data, content_type, task, send)
                return await self._gated(answer, scope, receive, send)
        except ClientGone:
            return 499
        finally:
            self.bytes_in_flight -= held[0]
            deadlines.clear(task)
        await _send(send, status, body, headers)
        return status

    async def _answer(self, route: str, scope, data: bytes, content_type: str, task, send) -> int:
        status, body, headers = 200, b"", []
        deadlines = self.deadlines
        deadlines.set(task, self.limits.timeout_s)
        try:
            if route == "explain":
                result = await self.service.explain(data, content_type, scope["query_string"])
            else:
                result = await self.service.predict(data, content_type, scope["query_string"], route == "predict_batch")
            body = json.dumps(result, separators=(",", ":")).encode()
        except asyncio.CancelledError:
            if not deadlines.clear(task):
                raise  # not ours: the server is shutting down
            status, body = 504, _error_body(504, "request timed out", f"no answer within {self.limits.timeout_s} s")
        except ApiError as exc:
            status, body, headers = exc.status, json.dumps(exc.body()).encode(), exc.header_list()
        except Exception:  # a bug: log it, answer without a traceback
            log.exception("error while serving %s", scope["path"])
            status, body = 500, _error_body(500, "internal error", "the server failed on this request; it has been logged")
        finally:
            deadlines.clear(task)
        await _send(send, status, body, headers)
        return status

    def _body_due(self, first_byte: float, now: float, received: int) -> tuple[float, str]:
        """The loop time by which more body must arrive, and what is broken if it does not."""
        limits = self.limits
        due = [(first_byte + limits.read_timeout_s, f"the request (headers and body) must arrive within {limits.read_timeout_s:g} s"),
               (now + limits.body_timeout_s, f"no body data for {limits.body_timeout_s:g} s"),
               (first_byte + max(limits.body_grace_s, received / limits.min_body_rate),
                f"the body must arrive at {limits.min_body_rate:g} bytes/s or faster")]
        return min(due)

    async def _read_body(self, scope, receive, task, held: list) -> tuple[str, bytes]:
        content_type, length = "", None
        for key, value in scope["headers"]:
            if key == b"content-type":
                content_type = value.decode("latin-1")
            elif key == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise ApiError(400, "invalid Content-Length header") from None
        limits = self.limits
        limit = limits.max_body_bytes
        if length is not None and length > limit:
            raise ApiError(413, "request body too large", f"{length} bytes; the limit is {limit}")
        deadlines = self.deadlines
        loop = task.get_loop()
        first_byte = scope.get(STARTED) or loop.time()
        chunks, size = [], 0
        try:
            while True:
                due, reason = self._body_due(first_byte, loop.time(), size)
                deadlines.set_at(task, due)
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, "request body too large", f"more than {limit} bytes")
                if chunk:
                    held[0] += len(chunk)
                    self.bytes_in_flight += len(chunk)
                    if self.bytes_in_flight > limits.max_bytes_in_flight:
                        raise ApiError(503, "server busy", "too many request bytes in flight; retry shortly", {"retry-after": "1"})
                    chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        except asyncio.CancelledError:
            if not deadlines.clear(task):
                raise  # not ours: the server is shutting down
            raise BodyTooSlow(reason) from None
        deadlines.clear(task)
        return content_type, chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.service.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def build_fastapi(app: ServeApp):
    """FastAPI for the page, metadata, metrics and docs; it also declares the fast endpoints for OpenAPI."""
    from fastapi import Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException

    from nnforge.serve import schemas

    from fastapi_offline import FastAPIOffline

    service = app.service
    # Swagger UI from the assets fastapi-offline ships (no CDN: /docs works offline); validatorUrl
    # None: Swagger UI would otherwise load a badge from validator.swagger.io. No ReDoc: even from
    # local assets it loads its logo from cdn.redoc.ly (the browser test caught it).
    api = FastAPIOffline(redoc_url=None, title="nnforge prediction service", version=service.model_version,
                         description=f"Serving run '{service.metadata['run']}' ({service.kind} model, {len(service.classes)} classes).",
                         static_url="/static-docs", favicon_url="/favicon.ico", swagger_ui_parameters={"validatorUrl": None})

    @api.exception_handler(HTTPException)
    async def http_error(request, exc):
        return JSONResponse({"error": str(exc.detail), "detail": None}, status_code=exc.status_code, headers=exc.headers)

    @api.exception_handler(RequestValidationError)
    async def validation_error(request, exc):
        return JSONResponse({"error": "invalid request", "detail": json.loads(json.dumps(exc.errors(), default=str))}, status_code=422)

    @api.exception_handler(Exception)
    async def internal_error(request, exc):
        log.exception("error while serving %s", request.url.path)
        return JSONResponse({"error": "internal error", "detail": None}, status_code=500)

    class Delegate(Response):
        """Hands the request to the fast path (used only if FastAPI routes one of its endpoints)."""

        def __init__(self, route: str):
            super().__init__()
            self.route = route

        async def __call__(self, scope, receive, send):
            await app.fast(self.route, scope, receive, send)

    errors = schemas.ERROR_RESPONSES
    k_query = Query(None, ge=1, le=len(service.classes), description="how many classes to return, most probable first")

    regress = service.regression  # a regression run answers values in the target's units, not classes
    answers = ((schemas.Estimate, schemas.BatchEstimate, schemas.EstimateExplanation) if regress
               else (schemas.Prediction, schemas.BatchPrediction, schemas.Explanation))

    @api.post("/v1/predict", response_model=answers[0], responses=errors, openapi_extra=schemas.request_body(False, service),
              summary="Top-k classes for one input (an uploaded PNG/JPEG image or JSON pixels / a tabular row)")
    async def predict(request: Request, k: int | None = k_query):
        return Delegate("predict")

    @api.post("/v1/predict/batch", response_model=answers[1], responses=errors,
              openapi_extra=schemas.request_body(True, service), summary="Top-k classes for many inputs in one request")
    async def predict_batch(request: Request, k: int | None = k_query):
        return Delegate("predict_batch")

    @api.post("/v1/explain", response_model=answers[2], responses=errors, openapi_extra=schemas.request_body(False, service),
              summary="Prediction plus where the network looked: a saliency heat map (images) or each feature's share (tabular rows)")
    async def explain(request: Request, k: int | None = k_query):
        return Delegate("explain")

    @api.get("/health", response_model=schemas.Health, summary="Liveness: the model is loaded and answering (passes every cap)")
    async def health():
        return Delegate("health")

    @api.get("/ready", response_model=schemas.Ready, responses={503: {"model": schemas.Ready, "description": "shutting down"}},
             summary="Readiness: 200 while the worker takes requests, 503 once it is shutting down (passes every cap)")
    async def ready():
        return Delegate("ready")

    @api.get("/metadata", response_model=schemas.Metadata, summary="Classes, input shape, preprocessing, model version, limits")
    async def metadata():
        return service.metadata

    @api.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics (text format)")
    async def metrics():
        from nnforge.serve.metrics import CONTENT_TYPE

        return Response(app.metrics.render(), media_type=CONTENT_TYPE)

    @api.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @api.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        return FileResponse(STATIC / "favicon.png", media_type="image/png")

    api.mount("/static", StaticFiles(directory=STATIC), name="static")
    return api


# The inference thread needs the GIL back once per batch; by default CPython makes a waiting thread
# wait 5 ms for a busy thread to let go, which a 2 ms batch cannot afford. Serving processes use
# 0.2 ms (measured: a batch of 16 took ~14 ms of wall time beside a busy event loop, 2.5 ms now).
GIL_SWITCH_INTERVAL_S = 0.0002


def prepare_serving_process(limits=None) -> None:
    """Interpreter settings for a process that only serves (once the model and the app are loaded)."""
    import gc

    from nnforge.serve import memory, protocol

    if limits is not None:
        protocol.LIMITS = limits
    memory.return_freed_memory()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    # Everything loaded at startup (torch, the model, FastAPI) lives as long as the process:
    # keep the garbage collector's full passes from walking it again and again under load.
    gc.collect()
    gc.freeze()


def create_app(settings: ServeSettings | str | Path, **overrides) -> ServeApp:
    """The ASGI app serving a run directory (``settings`` may be just the run directory)."""
    if not isinstance(settings, ServeSettings):
        settings = ServeSettings(run_dir=str(settings), **overrides)
    return ServeApp(Service(settings))


def app_from_env() -> ServeApp:
    """Factory for uvicorn's worker processes: the settings come in an environment variable."""
    from nnforge.serve.drain import SERVED

    app = create_app(ServeSettings.from_json(os.environ[SETTINGS_ENV]))
    prepare_serving_process(app.limits)
    SERVED.append(app)
    return app


def uvicorn_options(settings: ServeSettings, log_level: str) -> dict:
    """What every worker's uvicorn runs with: uvloop and our httptools protocol where installed."""
    import importlib.util

    fast = {"loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
            # httptools with the connection-level defences and HTTP/1.0 keep-alive (nnforge.serve.protocol).
            "http": "nnforge.serve.protocol:KeepAliveHttpToolsProtocol" if importlib.util.find_spec("httptools") else "h11"}
    # No proxy-header rewriting: the client address must be the peer's for the per-client cap.
    # No uvicorn limit_concurrency: its one cap on connections and tasks answers 503 to everybody
    # once slow clients fill it; the protocol's caps and the app's gate replace it.
    return dict(log_level=log_level, access_log=False, timeout_keep_alive=5, proxy_headers=False,
                timeout_graceful_shutdown=settings.grace_seconds,
                h11_max_incomplete_event_size=settings.limits.max_header_bytes, **fast)


def serve(settings: ServeSettings, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning",
          banner: str | None = None) -> int:
    """Run the server until SIGINT/SIGTERM (uvloop and httptools when installed); returns the exit status.

    The port is bound first, so a port in use is a one-line error before anything else. A signal
    drains: no new connections, requests in flight get ``settings.grace_seconds`` to finish, then
    the rest are closed; a second signal exits at once."""
    import tempfile

    import uvicorn

    from nnforge.serve.drain import SERVED, DrainingServer, mark_draining
    from nnforge.serve.metrics import MULTIPROC_ENV
    from nnforge.serve.workers import balanced_sockets_supported, bind_sockets, run_workers

    balanced = settings.workers > 1 and balanced_sockets_supported()
    sockets = bind_sockets(host, port, settings.workers if balanced else 1)
    common = uvicorn_options(settings, log_level)
    if settings.workers <= 1:
        try:
            app = create_app(settings)  # a bad run directory fails before the banner
            prepare_serving_process(app.limits)
            if banner:
                print(banner, flush=True)
            SERVED.append(app)
            server = DrainingServer(uvicorn.Config(app, **common), on_drain=mark_draining)
            server.run(sockets=sockets)
        finally:
            for sock in sockets:
                sock.close()
        return 0
    # Check the run once here (and export ONNX once, choosing the backend once if it is auto),
    # then let every worker load its own copy.
    check = Service(settings)
    check.close()
    settings.backend = check.backend.name
    if banner:
        print(banner, flush=True)
    # prometheus_client's multiprocess mode, in a directory of this server's own that goes when it
    # stops; the workers (new processes) read the variable when they first import prometheus_client.
    with tempfile.TemporaryDirectory(prefix="nnforge-metrics-") as share, _environ(MULTIPROC_ENV, share):
        settings.metrics_dir = share
        if balanced:
            return run_workers(settings.to_json(), sockets, common, settings.grace_seconds, metrics_dir=share)
        for sock in sockets:
            sock.close()
        os.environ[SETTINGS_ENV] = settings.to_json()
        uvicorn.run("nnforge.serve.app:app_from_env", factory=True, workers=settings.workers, host=host, port=port, **common)
    return 0


@contextlib.contextmanager
def _environ(name: str, value: str):
    """Set an environment variable for the ``with`` block (inherited by processes started in it)."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous
