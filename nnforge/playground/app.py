"""The playground's server: the static page, GET /api/options and /api/health, and one WebSocket per tab.

Each WebSocket is one :class:`TrainingSession`, so tabs never share a network; it ends when the
tab closes or after ``idle_timeout_s`` without a message. Training runs on the event loop in
short slices: while playing, each tick (1/fps s) trains at most one epoch and at most its share
of half the tick (half the tick divided by the sessions playing), then sends one frame. So with
many tabs each trains slower but all keep their frame rate; past ``max_sessions`` a new tab gets
an error message and close code 1013 (try again later). The network is tiny (a 2-8-...-2 MLP),
so the work is Python overhead that threads would not parallelise under the GIL.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from fastapi import FastAPI, WebSocket
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from nnforge.errors import UserError
from nnforge.playground import export, frames, protocol
from nnforge.playground.session import TrainingSession

STATIC = Path(__file__).parent / "static"
TRY_AGAIN_LATER = 1013
POLICY_VIOLATION = 1008
DIVERGED = "training diverged (the loss is not finite): lower the learning rate and press Reset"


@dataclass(frozen=True)
class PlaygroundSettings:
    max_sessions: int = 8
    idle_timeout_s: float = 900.0
    fps: float = 15.0
    max_message_bytes: int = 8192
    messages_per_s: float = 50.0  # sustained; bursts up to twice this are let through
    header_timeout_s: float = 10.0  # for a request's headers to arrive (nnforge.header_deadline)
    send_timeout_s: float = 30.0  # a tab whose socket takes no message for this long is not reading: its session ends


def quiet():
    """NumPy's overflow warnings while a network diverges: the page gets one message, the log nothing."""
    return np.errstate(all="ignore")


class Hub:
    """The sessions open now and how many of them are playing (their training shares the CPU)."""

    def __init__(self, settings: PlaygroundSettings):
        self.settings, self.open, self.playing = settings, 0, 0


def from_another_site(ws: WebSocket) -> bool:
    """True when the handshake comes from a page another site served.

    Browsers let any page open a WebSocket to any address, 127.0.0.1 included, and name the page's
    site in ``Origin``: without this check, every web page the user visits could open playground
    sessions (up to the cap, locking the user's own tabs out) and drive their training. A page the
    playground served has the origin of the address it was reached at, which is the ``Host`` the
    browser sends. Clients that are not browsers send no ``Origin`` and are let in.
    """
    origin = ws.headers.get("origin")
    return origin is not None and urlsplit(origin).netloc.lower() != ws.headers.get("host", "").lower()


class NotReading(Exception):
    """A message could not be handed to the tab's socket within ``send_timeout_s``: the tab takes none."""


def _gone(exc: BaseException) -> bool:
    """A send or receive on a tab that has just gone (closed, reloaded, dropped, not reading): the session ends."""
    return isinstance(exc, NotReading) or type(exc).__name__ in ("WebSocketDisconnect", "ClientDisconnected", "ConnectionClosed", "ConnectionClosedError") or (
        isinstance(exc, RuntimeError) and "close" in str(exc))


def _finite(obj):
    """JSON has no NaN or Infinity: a diverged network's numbers travel as null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    return obj


class Connection:
    """One tab: its session, whether it plays, and the rate limit on what it sends."""

    def __init__(self, ws: WebSocket, hub: Hub):
        self.ws, self.hub, self.settings = ws, hub, hub.settings
        self.session = TrainingSession()
        self._playing = False
        self.tokens = 2 * self.settings.messages_per_s
        self.loop = asyncio.get_running_loop()
        self.last_refill = self.warned_at = self.loop.time() - 1.0

    @property
    def playing(self) -> bool:
        return self._playing

    @playing.setter
    def playing(self, value: bool) -> None:
        if value != self._playing:
            self.hub.playing += 1 if value else -1
            self._playing = value

    async def send(self, message: dict) -> None:
        """Send one message; :class:`NotReading` when the socket took none for ``send_timeout_s``.

        uvicorn waits, with no limit, for a socket whose buffers are full to drain, and a tab that
        never reads never drains it: its session (and place among ``max_sessions``) was held for
        ever, as neither the idle timeout nor uvicorn's ping timeout can end a session whose sends wait."""
        try:
            await asyncio.wait_for(self.ws.send_text(json.dumps(_finite(message))), self.settings.send_timeout_s)
        except asyncio.TimeoutError:
            raise NotReading(f"the tab took no message for {self.settings.send_timeout_s:g} s") from None

    async def send_frame(self) -> None:
        with quiet():
            message = frames.frame(self.session, self.playing)
        await self.send(message)

    async def error(self, message: str) -> None:
        await self.send({"type": "error", "message": message})

    async def run(self) -> None:
        await self.send({"type": "hello", "fps": self.settings.fps, "idle_timeout_s": self.settings.idle_timeout_s,
                         "options": protocol.options()})
        await self.send(frames.points(self.session))
        await self.send_frame()
        ticker = asyncio.create_task(self.tick())
        try:
            while True:
                message = await self.receive(ticker)
                if message is None:
                    await self.error(f"this session was idle for {self.settings.idle_timeout_s:g} s and has ended; reload the page")
                    await self.ws.close(1000)
                    return
                if message["type"] == "websocket.disconnect":
                    return
                await self.handle(message.get("text"))
        finally:
            ticker.cancel()
            self.playing = False
            for result in await asyncio.gather(ticker, return_exceptions=True):
                if isinstance(result, Exception) and not _gone(result):
                    raise result

    async def receive(self, ticker: asyncio.Task) -> dict | None:
        """The tab's next message, or None after ``idle_timeout_s`` without one; the ticker's error
        (the tab stopped reading its frames) ends the session as soon as it happens."""
        receiving = asyncio.ensure_future(self.ws.receive())
        try:
            done, _ = await asyncio.wait((receiving, ticker), timeout=self.settings.idle_timeout_s,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not receiving.done():
                receiving.cancel()
        if receiving in done:
            return receiving.result()
        if ticker in done:
            ticker.result()  # raises what stopped it
        return None

    def _allow(self) -> bool:
        now = self.loop.time()
        rate = self.settings.messages_per_s
        self.tokens = min(2 * rate, self.tokens + (now - self.last_refill) * rate)
        self.last_refill = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    async def handle(self, text: str | None) -> None:
        if text is None:
            return await self.error("send JSON text messages, not binary ones")
        if not self._allow():  # dropped; said once a second at most, so a flood is not echoed back
            if self.loop.time() - self.warned_at >= 1.0:
                self.warned_at = self.loop.time()
                await self.error(f"too many messages: at most {self.settings.messages_per_s:g} a second; the extra ones were dropped")
            return
        if len(text) > self.settings.max_message_bytes:
            return await self.error(f"message too large: at most {self.settings.max_message_bytes} bytes")
        try:
            command = protocol.parse(text)
            if isinstance(command, protocol.Configure):
                self.playing = False
                with quiet():
                    self.session.configure(*command.specs())
                await self.send(frames.points(self.session))
                await self.send_frame()
            elif command == "play":
                self.playing = True
            elif command == "pause":
                self.playing = False
                await self.send_frame()
            elif command == "step":
                self.playing = False
                with quiet():
                    loss = self.session.step()
                if not math.isfinite(loss):
                    await self.error(DIVERGED)
                await self.send_frame()
            elif command == "reset":
                self.playing = False
                self.session.reset()
                await self.send_frame()
            elif command == "code":
                s = self.session
                await self.send({"type": "code", "step": s.steps, "python": export.python_code(s.data, s.net, s.steps),
                                 "recipe": export.recipe(s.data, s.net, export.epochs_for(s.steps, s.batches_per_epoch))})
        except UserError as exc:
            await self.error(str(exc))

    async def tick(self) -> None:
        """While playing: train a slice, send a frame, wait for the next tick."""
        interval = 1.0 / self.settings.fps
        while True:
            started = self.loop.time()
            if self.playing:
                share = 0.5 * interval / max(1, self.hub.playing)
                for _ in range(self.session.batches_per_epoch):
                    with quiet():
                        loss = self.session.step()
                    if not math.isfinite(loss):
                        self.playing = False
                        await self.error(DIVERGED)
                        break
                    if self.loop.time() - started > share:
                        break
                await self.send_frame()
            await asyncio.sleep(max(0.0, interval - (self.loop.time() - started)))


def create_app(settings: PlaygroundSettings | None = None) -> FastAPI:
    settings = settings or PlaygroundSettings()
    hub = Hub(settings)
    app = FastAPI(title="nnforge playground", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.hub = hub

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html")

    @app.get("/api/options")
    def options():
        return protocol.options()

    @app.get("/api/health")
    def health():
        return {"sessions": hub.open, "playing": hub.playing, "max_sessions": settings.max_sessions}

    @app.websocket("/ws")
    async def session_socket(ws: WebSocket):
        if from_another_site(ws):
            await ws.close(POLICY_VIOLATION)  # before accepting: the handshake is answered 403
            return
        await ws.accept()
        if hub.open >= settings.max_sessions:
            await ws.send_text(json.dumps({"type": "error", "message": f"the playground is full ({settings.max_sessions} "
                                           f"session{'s' if settings.max_sessions > 1 else ''}); close a tab or try again later"}))
            await ws.close(TRY_AGAIN_LATER)
            return
        hub.open += 1
        try:
            await Connection(ws, hub).run()
        except Exception as exc:
            if not _gone(exc):
                raise
        finally:
            hub.open -= 1

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def serve(settings: PlaygroundSettings, host: str, port: int, log_level: str = "warning") -> int:
    import importlib.util

    import uvicorn

    from nnforge.header_deadline import header_deadline_protocol

    http = header_deadline_protocol(settings.header_timeout_s) if importlib.util.find_spec("httptools") else "auto"
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, ws="wsproto", http=http,
                ws_max_size=settings.max_message_bytes * 2, ws_ping_interval=20.0, ws_ping_timeout=20.0)
    return 0
