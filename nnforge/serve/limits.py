"""The service's limits and its one error type.

Every limit is on by default, so a server started with no flags is already hard to break:
bodies are capped (413), only PNG and JPEG are decoded and only up to a pixel budget, a side
length and an aspect ratio, a request that takes too long is answered (504) instead of hanging,
and when too many requests are in flight a new one is turned away at once (503) rather than
queueing without end.

Slow clients are bounded at every stage, because each one holds a connection and memory while
costing its sender nothing: headers must arrive within ``header_timeout_s``; headers and body
together within ``read_timeout_s``; after ``body_grace_s`` the body must have averaged at least
``min_body_rate`` bytes/s; one client address may hold ``max_connections_per_client`` connections,
and past ``max_connections`` a new connection evicts the connection that has waited longest for
its headers. A client that does not read its answers (the socket's buffers full) may keep one
waiting ``write_timeout_s``; then the connection is closed, which frees the request's slot and
memory. Requests still sending their body do not hold a slot of ``max_concurrency`` (they
cost no CPU yet); what they hold is memory, and the bytes of all bodies being read or served
are capped by ``max_bytes_in_flight`` (503 past it). ``/health`` and ``/ready`` pass no cap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Limits:
    max_body_bytes: int = 8 * 1024 * 1024
    max_header_bytes: int = 16 * 1024
    max_pixels: int = 16_000_000  # width x height of an uploaded image
    max_side: int = 10_000  # longest side of an uploaded image
    max_aspect_ratio: float = 50.0  # longest side / shortest side
    max_inputs: int = 256  # examples in one request (JSON rows, batch files)
    image_formats: tuple[str, ...] = ("PNG", "JPEG")
    timeout_s: float = 10.0  # from the whole body received to the answer (504)
    body_timeout_s: float = 5.0  # longest pause between two body chunks (slow clients: 408)
    header_timeout_s: float = 10.0  # from connecting (or the previous answer) to the end of the headers
    read_timeout_s: float = 30.0  # from the request's first byte to the end of its body (408)
    write_timeout_s: float = 10.0  # longest an answer may wait for the client to read (its socket full); then closed
    min_body_rate: float = 1024.0  # bytes/s, averaged over the body so far, once body_grace_s have passed (408)
    body_grace_s: float = 2.0
    max_concurrency: int = 256  # requests being answered per worker (body received); beyond it: 503
    max_connections: int = 4096  # open connections per worker
    max_connections_per_client: int = 64  # open connections per client address, per worker
    max_bytes_in_flight: int = 256 * 1024 * 1024  # body bytes held by requests being read or answered; beyond: 503

    def to_dict(self) -> dict:
        out = asdict(self)
        out["image_formats"] = list(self.image_formats)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Limits":
        data = dict(data)
        if "image_formats" in data:
            data["image_formats"] = tuple(data["image_formats"])
        return cls(**data)


class ApiError(Exception):
    """A request the service refuses: answered as JSON ``{"error": ..., "detail": ...}`` with ``status``."""

    def __init__(self, status: int, error: str, detail=None, headers: dict | None = None):
        super().__init__(error)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": self.error, "detail": self.detail}

    def header_list(self) -> list[tuple[bytes, bytes]]:
        """The extra headers as ASGI wants them (bytes pairs)."""
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
