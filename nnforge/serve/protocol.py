"""uvicorn's httptools protocol, honouring HTTP/1.0 keep-alive and keeping workers evenly loaded.

HTTP/1.0 keep-alive: uvicorn closes every HTTP/1.0 connection, even when the client asks
``Connection: keep-alive`` (load generators such as ab speak HTTP/1.0). A fresh TCP connection per
request costs the server an accept, a protocol object and a close — more than answering a small
prediction — so this protocol keeps such a connection open and says so in the answer
(``Connection: keep-alive``), as HTTP/1.0 requires. Every answer the service sends carries a
Content-Length, so the client knows where it ends; an answer without one still closes.

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

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

KEEP_ALIVE = (b"connection", b"keep-alive")
# (shared per-worker connection counts, this worker's index); set in each worker process.
BALANCE: tuple | None = None


REBALANCE_INTERVAL_S = 0.1  # a worker closes at most one connection this often


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


class KeepAliveHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._publish_count()

    def connection_lost(self, exc) -> None:
        super().connection_lost(exc)
        self._publish_count()

    def _publish_count(self) -> None:
        if BALANCE is not None:
            counts, index = BALANCE
            counts[index] = len(self.connections)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is None or cycle.scope is not self.scope:
            return
        if not cycle.keep_alive and self.scope.get("http_version") == "1.0" and self.parser.should_keep_alive():
            self._keep_http10_alive(cycle)
        if cycle.keep_alive and BALANCE is not None and over_share(*BALANCE, len(self.connections)):
            _close_after_answer(cycle)

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
