"""uvicorn's httptools protocol with a deadline on a request's headers: the part of the connection
defences that ``nnforge serve`` (:mod:`nnforge.serve.protocol`) and ``nnforge playground`` share.

uvicorn (0.54) waits for ever for a request's headers: a connection that sends half a header (a
slowloris), or nothing at all, held its socket, file descriptor and protocol object for as long as
the client liked, so enough of them exhaust the process's descriptors and lock everyone out. Here
the headers must arrive within ``header_timeout_s`` of connecting, or of the previous answer on a
kept-alive connection; past it the connection gets a JSON 408 and is closed. A WebSocket stops
being HTTP once its handshake's headers arrive: from then on its own timeouts bound it.

It relies on ``HttpToolsProtocol``'s callbacks and ``self.cycle``, so ``pyproject.toml`` pins
``uvicorn`` and ``httptools`` to the versions tested (``tests/serve/test_protocol_pins.py``).
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def refusal(status: int, reason: bytes, error: str, detail: str) -> bytes:
    """A whole HTTP answer with a JSON body that closes the connection (503s say when to retry)."""
    body = json.dumps({"error": error, "detail": detail}).encode()
    extra = b"retry-after: 1\r\n" if status == 503 else b""
    return (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%sconnection: close\r\n\r\n"
            % (status, reason, len(body), extra) + body)


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """Closes a connection whose request headers are later than :attr:`header_timeout_s`; a subclass
    may refuse a new connection in :meth:`admit`."""

    header_timeout_s = 10.0
    header_timer = None
    waiting_since = 0.0  # loop time since which the connection waits for a request's headers

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        if self.admit():
            self._wait_for_headers()

    def admit(self) -> bool:
        """Whether the new connection stays (one refused here is answered with :meth:`_refuse`)."""
        return True

    def connection_lost(self, exc) -> None:
        super().connection_lost(exc)
        self._cancel_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._wait_for_headers()

    def _refuse(self, status: int, reason: bytes, error: str, detail: str) -> None:
        self._cancel_header_timer()
        if not self.transport.is_closing():
            self.transport.write(refusal(status, reason, error, detail))
            self.transport.close()

    def _waiting_for_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _wait_for_headers(self) -> None:
        self._cancel_header_timer()
        self.waiting_since = self.loop.time()
        self.header_timer = self.loop.call_later(self.header_timeout_s, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _header_timeout(self) -> None:
        self.header_timer = None
        if self._waiting_for_headers():
            self._refuse(408, b"Request Timeout", "request headers too slow",
                         f"the headers must arrive within {self.header_timeout_s:g} s")


def header_deadline_protocol(timeout_s: float) -> type[HeaderDeadlineProtocol]:
    """A :class:`HeaderDeadlineProtocol` with ``timeout_s`` (uvicorn's ``http=`` takes a class)."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout_s": timeout_s})
