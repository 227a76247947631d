"""uvicorn's httptools protocol with a deadline on a request's headers, for the playground.

uvicorn (0.54) waits for ever for a request's headers: a connection that sends half a header (a
slowloris), or nothing at all, held its socket, file descriptor and protocol object for as long as
the client liked, so enough of them exhaust the process's descriptors and lock every tab out. Here
the headers must arrive within ``timeout_s`` of connecting, or of the previous answer on a kept-alive
connection; past it the connection gets a JSON 408 and is closed. A WebSocket stops being HTTP once
its handshake's headers arrive: from then on the session's own idle timeout and uvicorn's pings
bound it.

``nnforge serve`` has the fuller protocol this is a part of (:mod:`nnforge.serve.protocol`: per-client
caps, eviction, rebalancing); the layers keep the playground from importing it and it needs no more
than the deadline. Like that one, it relies on ``HttpToolsProtocol``'s callbacks, which
``pyproject.toml`` pins uvicorn and httptools for.
"""

from __future__ import annotations

import json


def header_deadline_protocol(timeout_s: float):
    """An ``HttpToolsProtocol`` subclass (uvicorn's ``http=``) closing connections whose headers are late."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    body = json.dumps({"error": "request headers too slow", "detail": f"the headers must arrive within {timeout_s:g} s"}).encode()
    refusal = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
               b"connection: close\r\n\r\n%s" % (len(body), body))

    class HeaderDeadlineProtocol(HttpToolsProtocol):
        header_timer = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._wait_for_headers()

        def connection_lost(self, exc) -> None:
            self._cancel_header_timer()
            super().connection_lost(exc)

        def on_headers_complete(self) -> None:
            self._cancel_header_timer()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._wait_for_headers()

        def _wait_for_headers(self) -> None:
            self._cancel_header_timer()
            self.header_timer = self.loop.call_later(timeout_s, self._headers_too_slow)

        def _cancel_header_timer(self) -> None:
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None

        def _headers_too_slow(self) -> None:
            self.header_timer = None
            if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
                self.transport.write(refusal)
                self.transport.close()

    return HeaderDeadlineProtocol
