"""The service's limits and its one error type.

Every limit is on by default, so a server started with no flags is already hard to break:
bodies are capped (413), only PNG and JPEG are decoded and only up to a pixel budget, a request
that takes too long is answered (504) instead of hanging, and when too many requests are in
flight a new one is turned away at once (503) rather than queueing without end.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Limits:
    max_body_bytes: int = 8 * 1024 * 1024
    max_header_bytes: int = 16 * 1024
    max_pixels: int = 16_000_000  # width x height of an uploaded image
    max_inputs: int = 256  # examples in one request (JSON rows, batch files)
    image_formats: tuple[str, ...] = ("PNG", "JPEG")
    timeout_s: float = 10.0  # whole request, from the first body byte to the answer
    body_timeout_s: float = 5.0  # longest pause between two body chunks (slow clients: 408)
    max_concurrency: int = 256  # requests in flight per worker; beyond it: 503

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
