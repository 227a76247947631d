"""uvicorn's httptools protocol, honouring HTTP/1.0 keep-alive.

uvicorn closes every HTTP/1.0 connection, even when the client asks ``Connection: keep-alive``
(load generators such as ab speak HTTP/1.0). A fresh TCP connection per request costs the server
an accept, a protocol object and a close — more than answering a small prediction — so this
protocol keeps such a connection open and says so in the answer (``Connection: keep-alive``), as
HTTP/1.0 requires. Every answer the service sends carries a Content-Length, so the client knows
where it ends; an answer without one (a chunked body an HTTP/1.0 client cannot read) still closes.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

KEEP_ALIVE = (b"connection", b"keep-alive")


class KeepAliveHttpToolsProtocol(HttpToolsProtocol):
    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if (cycle is None or cycle.scope is not self.scope or cycle.keep_alive
                or self.scope.get("http_version") != "1.0" or not self.parser.should_keep_alive()):
            return
        cycle.keep_alive = True
        cycle.default_headers = [*cycle.default_headers, KEEP_ALIVE]
        send = cycle.send

        async def send_framed(message):
            # HTTP/1.0 has no chunked framing: an answer without Content-Length must end the connection.
            if message["type"] == "http.response.start" and not any(
                    name.lower() == b"content-length" for name, _ in message.get("headers", ())):
                cycle.keep_alive = False
                cycle.default_headers = [h for h in cycle.default_headers if h is not KEEP_ALIVE]
            await send(message)

        cycle.send = send_framed
