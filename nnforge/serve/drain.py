"""Graceful shutdown: drain for a bounded grace period, and a second signal exits at once.

uvicorn already stops accepting, closes idle connections and, with ``timeout_graceful_shutdown``,
cancels what is still running after the grace period; but it treats only a second SIGINT as
"force", so a service manager's second SIGTERM waited as long as the first. Here any second
SIGINT or SIGTERM forces the exit, and the first one tells the app it is draining (``/ready``
answers 503 from then on, so a load balancer stops sending it requests).
"""

from __future__ import annotations

from typing import Callable

import uvicorn


SERVED: list = []  # the apps this process serves (nnforge.serve.app registers them)


def mark_draining() -> None:
    """The process is shutting down: its apps' ``/ready`` answers 503 from now on."""
    for app in SERVED:
        app.draining = True


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_drain: Callable[[], None] | None = None):
        super().__init__(config)
        self.on_drain = on_drain

    def handle_exit(self, sig, frame) -> None:
        if self.should_exit:
            self.force_exit = True
        elif self.on_drain is not None:
            self.on_drain()
        super().handle_exit(sig, frame)
