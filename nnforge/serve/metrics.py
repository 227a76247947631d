"""Prometheus metrics through prometheus_client, in its multiprocess mode when there are several workers.

Why the library (issue 22): the hand-written exposition and worker merge this replaces counted a
request in 0.9 us against 7.4-10 us with prometheus_client, and bench/serve_load.py could not tell
the two apart (2026-12-01: 4,957 / 2,592 req/s against 4,980 / 3,645). Measured again with the
multiprocess mode in place (2026-12-06, onnx, two workers, ``--duration 5``, before and after
alternated three times on a machine at load 15-20): before 1,143 / 1,387 / 1,435 req/s and 267 /
245 / 247 us of server CPU per request, after 1,199 / 2,732 / 3,907 req/s and 293 / 240 / 278 us;
no difference the noise lets through. Counting one request costs 11-16 us in multiprocess mode
(0.8-0.9 us by hand), at most ~5 % of the ~250 us a request costs the server.

Counted per worker process: requests by endpoint and status, request latency and batch sizes as
histograms, requests in flight and requests turned away.

- One worker: the metrics live in a registry of this object's own (not prometheus_client's global
  one, so several apps in one process, as in the tests, do not collide).
- Several workers: ``serve()`` gives each server a private temporary directory in
  ``PROMETHEUS_MULTIPROC_DIR`` before it starts the workers (prometheus_client chooses its storage
  when it is first imported, so the variable must be there before any worker starts), and removes
  it when the server stops. Each worker's values live in memory-mapped files there, and ``/metrics``
  in any worker adds up the files of every worker (``MultiProcessCollector``). When a worker exits
  the supervisor calls ``mark_process_dead``: its in-flight gauge (``livesum``) is dropped, its
  counters stay in the sums, as a counter must never go down (with uvicorn's own workers, where
  SO_REUSEPORT does not balance, a starting worker does it for those that are gone).
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # what generate_latest writes
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def multiprocess_active() -> bool:
    """Whether this process's prometheus_client stores its values in ``PROMETHEUS_MULTIPROC_DIR``."""
    return getattr(values.ValueClass, "_multiprocess", False)


def forget_worker(pid: int, share_dir: str | Path) -> None:
    """Bookkeeping for a worker that has exited: drop its live gauges, keep its counters."""
    mark_process_dead(pid, str(share_dir))


def forget_exited_workers(share_dir: str | Path) -> None:
    """:func:`forget_worker` for every worker with live gauges whose process is gone. A starting
    worker calls it: uvicorn's own workers (used where SO_REUSEPORT does not balance) are
    restarted by uvicorn, which tells nobody when one dies."""
    for path in Path(share_dir).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            forget_worker(pid, share_dir)
        except OSError:
            pass  # alive, owned by someone else


class Metrics:
    """One worker's metrics; ``share_dir`` is the server's ``PROMETHEUS_MULTIPROC_DIR`` with several workers."""

    def __init__(self, share_dir: str | Path | None = None):
        self.share_dir = Path(share_dir) if share_dir else None
        if self.share_dir is not None and not (multiprocess_active() and os.environ.get(MULTIPROC_ENV) == str(self.share_dir)):
            raise RuntimeError(f"{MULTIPROC_ENV} must be {self.share_dir} before prometheus_client is imported "
                               "(serve() sets it before it starts the workers)")
        if self.share_dir is not None:
            forget_exited_workers(self.share_dir)
        self.registry = CollectorRegistry()
        registry = self.registry if self.share_dir is None else None  # several workers: collected from the files
        self._requests = Counter("nnforge_requests", "Requests answered, by endpoint and HTTP status.",
                                 ["endpoint", "status"], registry=registry)
        self._latency = Histogram("nnforge_request_seconds", "Time from request to answer, by endpoint.",
                                  ["endpoint"], buckets=LATENCY_BUCKETS, registry=registry)
        self._batch_size = Histogram("nnforge_batch_size", "Examples per forward pass (micro-batching).",
                                     buckets=BATCH_BUCKETS, registry=registry)
        self._in_flight_gauge = Gauge("nnforge_requests_in_flight", "Requests being served now.",
                                      multiprocess_mode="livesum", registry=registry)
        self._rejected = Counter("nnforge_rejected",
                                 "Requests turned away because the concurrency cap was reached (503).", registry=registry)
        self._in_flight = 0  # the gate reads this plain int, not the gauge's storage
        # The labelled children, looked up once each: labels() costs a lock and a tuple per call.
        self._request_children: dict[tuple[str, int], Counter] = {}
        self._latency_children: dict[str, Histogram] = {}

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        counter = self._request_children.get((endpoint, status))
        if counter is None:
            counter = self._request_children[(endpoint, status)] = self._requests.labels(endpoint, str(status))
        counter.inc()
        hist = self._latency_children.get(endpoint)
        if hist is None:
            hist = self._latency_children[endpoint] = self._latency.labels(endpoint)
        hist.observe(seconds)

    def observe_batch(self, size: int) -> None:
        self._batch_size.observe(size)

    def reject(self) -> None:
        self._rejected.inc()

    @property
    def in_flight(self) -> int:
        """Requests this worker is answering now (what its concurrency cap is checked against)."""
        return self._in_flight

    @in_flight.setter
    def in_flight(self, value: int) -> None:
        self._in_flight = value
        self._in_flight_gauge.set(value)

    def render(self) -> str:
        """The text exposition: this worker's metrics, or with several workers the sums over all of them."""
        if self.share_dir is None:
            return generate_latest(self.registry).decode()
        registry = CollectorRegistry()
        MultiProcessCollector(registry, str(self.share_dir))
        return generate_latest(registry).decode()
