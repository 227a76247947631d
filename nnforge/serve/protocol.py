"""uvicorn's httptools protocol with the connection-level defences uvicorn lacks.

uvicorn (0.54) has no deadline on request headers (a connection that sends half a header holds its
place for ever), no per-client cap, and one cap on connections *and* tasks whose answer is 503 for
everybody: 1,200 stalled half-headers made every ``/health`` and prediction 503. This subclass adds

* a header deadline (``Limits.header_timeout_s``; :mod:`nnforge.header_deadline`, which the
  playground shares): from connecting, or from the previous answer on a keep-alive connection, to
  the end of the headers; past it the connection gets a JSON 408 and is closed;
* a per-client cap (``Limits.max_connections_per_client``, by client address): the connection
  past it is answered 503 and closed at once, before it can hold anything;
* eviction instead of refusal at the total cap (``Limits.max_connections``): the new connection
  stays and the connection that has waited longest for its headers is closed, so a flood of
  stalled connections cannot lock out a client that sends its request promptly;
* a bound on pipelined requests (:data:`MAX_PIPELINED`): while that many wait, the connection is
  not read, where uvicorn read on after every answer and queued every request it parsed;
* a write deadline (``Limits.write_timeout_s``): an answer that cannot be written because the
  client reads nothing (the socket's buffers full) waits at most this long, then the connection is
  dropped; uvicorn waited for ever, and the request held its ``max_concurrency`` slot and its body's
  memory meanwhile, so a few clients pipelining requests they never read locked everyone out (503);
* the time the request's first byte arrived, in the ASGI scope (``nnforge.started``), so the app
  can enforce the whole-request (headers + body) deadline and the minimum body rate.

It relies on uvicorn's internals (``HttpToolsProtocol``'s callbacks, ``self.connections``,
``self.cycle``), so ``pyproject.toml`` pins ``uvicorn`` and ``httptools`` to the exact versions
tested (``tests/serve/test_protocol_pins.py`` fails on any other). uvicorn's own options
(``limit_concurrency``, ``timeout_keep_alive``) have neither; Hypercorn and Granian were not
adopted (docs/serve.md says why).

HTTP/1.0 keep-alive: uvicorn closes every HTTP/1.0 connection, even when the client asks
``Connection: keep-alive`` (load generators such as ab speak HTTP/1.0). A fresh TCP connection per
request costs the server an accept, a protocol object and a close — more than answering a small
prediction — so this protocol keeps such a connection open and says so in the answer
(``Connection: keep-alive``), as HTTP/1.0 requires. Every answer the service sends carries a
Content-Length, so the client knows where it ends; an answer without one still closes.
Measured (2026-12-01, two workers, ``ab -c 32`` posting the bench's digit, runs alternated):
7,023 and 7,400 req/s with the connection kept, 3,867 and 3,944 req/s when each request opens
one, as stock uvicorn makes an HTTP/1.0 client do.

Rebalancing: with several workers the kernel deals each new connection to a worker by a hash, and
keep-alive connections then stay where they landed, so one worker may hold 21 of 32 while another
holds 11 (its clients wait about twice as long). Each worker publishes how many connections it
holds in a small array shared by the workers (:data:`BALANCE`); a worker holding one or more
connections above the even share answers the current request with ``Connection: close`` (at most
one such answer every 0.1 s, so the counts settle instead of churning). The client reconnects and
the kernel deals that connection again, so the counts even out within a second or two.
"""

from __future__ import annotations

import time

from nnforge.header_deadline import HeaderDeadlineProtocol
from nnforge.serve.limits import Limits

KEEP_ALIVE = (b"connection", b"keep-alive")
# (shared per-worker connection counts, this worker's index); set in each worker process.
BALANCE: tuple | None = None
LIMITS = Limits()  # this worker's limits; set by nnforge.serve.app.prepare_serving_process
PEERS: dict[str, int] = {}  # open connections per client address in this worker
STARTED = "nnforge.started"  # scope key: loop time of the request's first byte


REBALANCE_INTERVAL_S = 0.1  # a worker closes at most one connection this often
#: requests a connection may have queued for reading to resume. uvicorn pauses reading while it
#: answers a request, but resumes after every answer, whatever is queued, and one chunk read then is
#: parsed whole (64 KiB: some 1,700 small GETs, one queued request object each): two clients
#: pipelining 180,000 GETs grew a worker to 630 MB. Reading now stays paused (TCP pushing back on
#: the client) until fewer than this many wait.
MAX_PIPELINED = 32


_last_close = 0.0


def over_share(counts, index: int, mine: int) -> bool:
    """Publish ``mine``; True (at most every REBALANCE_INTERVAL_S) if it is 1+ above the even share.

    One above, not half: 32 connections split 17/15 are evened out (that worker's clients would
    wait an eighth longer), while 33 split 17/16 are left alone instead of trading one forever."""
    global _last_close
    counts[index] = mine
    if mine * len(counts) < sum(counts) + len(counts):
        return False
    now = time.monotonic()
    if now - _last_close < REBALANCE_INTERVAL_S:
        return False
    _last_close = now
    return True


class KeepAliveHttpToolsProtocol(HeaderDeadlineProtocol):
    peer: str | None = None

    @property
    def header_timeout_s(self) -> float:  # this worker's limits, set after the class is defined
        return LIMITS.header_timeout_s

    def admit(self) -> bool:
        self._publish_count()
        limits = LIMITS
        self.peer = self.client[0] if self.client else None
        count = PEERS.get(self.peer, 0) + 1
        PEERS[self.peer] = count
        if count > limits.max_connections_per_client:
            self._refuse(503, b"Service Unavailable", "too many connections from this client",
                         f"at most {limits.max_connections_per_client} open connections per client address")
            return False
        if len(self.connections) > limits.max_connections and not self._evict_one():
            self._refuse(503, b"Service Unavailable", "server busy", "too many open connections; retry shortly")
            return False
        return True

    def connection_lost(self, exc) -> None:
        super().connection_lost(exc)
        self._cancel_write_timer()
        if self.peer in PEERS:
            left = PEERS[self.peer] - 1
            if left > 0:
                PEERS[self.peer] = left
            else:
                del PEERS[self.peer]
            self.peer = None
        self._publish_count()

    def _evict_one(self) -> bool:
        """Close the connection that has waited longest for its headers; False if none is waiting."""
        waiting = [c for c in self.connections if c is not self and getattr(c, "header_timer", None) is not None
                   and c._waiting_for_headers() and not c.transport.is_closing()]
        if not waiting:
            return False
        oldest = min(waiting, key=lambda c: c.waiting_since)
        oldest._refuse(503, b"Service Unavailable", "server busy", "too many open connections; this one waited longest")
        return True

    write_timer = None

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.write_timer is None:
            self.write_timer = self.loop.call_later(LIMITS.write_timeout_s, self._write_timeout)

    def resume_writing(self) -> None:
        self._cancel_write_timer()
        super().resume_writing()

    def _cancel_write_timer(self) -> None:
        if self.write_timer is not None:
            self.write_timer.cancel()
            self.write_timer = None

    def _write_timeout(self) -> None:
        """The client has read nothing for ``write_timeout_s``: drop the connection and what it has not read."""
        self.write_timer = None
        self.transport.abort()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[STARTED] = self.loop.time()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # uvicorn resumes reading after every answer
        if len(self.pipeline) >= MAX_PIPELINED:  # read on, and one chunk would queue hundreds more
            self.flow.pause_reading()

    def _publish_count(self) -> None:
        if BALANCE is not None:
            counts, index = BALANCE
            counts[index] = len(self.connections)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is None or cycle.scope is not self.scope:
            return
        self._drop_sends_once_closed(cycle)
        if not cycle.keep_alive and self.scope.get("http_version") == "1.0" and self.parser.should_keep_alive():
            self._keep_http10_alive(cycle)
        if cycle.keep_alive and BALANCE is not None and over_share(*BALANCE, len(self.connections)):
            _close_after_answer(cycle)

    def _drop_sends_once_closed(self, cycle) -> None:
        """An answer waiting for the client to read, when the connection is closed meanwhile (the write
        deadline, shutdown), ends quietly. uvicorn wakes it when the connection is lost but marks only
        the newest request's cycle disconnected; with pipelined requests the one waiting is an older
        one, which then wrote into the closed socket: a RuntimeError and two tracebacks in the log."""
        send, flow, transport = cycle.send, self.flow, self.transport

        async def send_unless_closed(message):
            if flow.write_paused:
                await flow.drain()
                if transport.is_closing():
                    cycle.disconnected = True  # uvicorn's send then returns without writing
            await send(message)

        cycle.send = send_unless_closed

    @staticmethod
    def _keep_http10_alive(cycle) -> None:
        cycle.keep_alive = True
        cycle.default_headers = [*cycle.default_headers, KEEP_ALIVE]
        send = cycle.send

        async def send_framed(message):
            # HTTP/1.0 has no chunked framing: an answer without Content-Length must end the connection.
            if message["type"] == "http.response.start" and not any(
                    name.lower() == b"content-length" for name, _ in message.get("headers", ())):
                _close_after_answer(cycle)
            await send(message)

        cycle.send = send_framed


def _close_after_answer(cycle) -> None:
    """uvicorn then answers with ``Connection: close`` (not our keep-alive header) and closes."""
    cycle.keep_alive = False
    cycle.default_headers = [h for h in cycle.default_headers if h is not KEEP_ALIVE]
