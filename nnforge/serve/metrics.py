"""Prometheus metrics, written by hand in the text exposition format (no client library needed).

Still hand-written, but it has not earned its place (issue 22): counting one request costs 0.9 us
here against 7.4-10 us with prometheus_client's Counter and Histograms in one process, and in
bench/serve_load.py (2026-12-01, alternated runs) the two were indistinguishable in the noise
(ours 4,957 and 2,592 req/s, prometheus_client in one process 4,980 and 3,645). The next step is
prometheus_client's multiprocess mode in place of the snapshots and the merge below.

Counted per worker process: requests by endpoint and status, request latency and batch sizes as
histograms, requests in flight and requests turned away. With several workers each one saves a
snapshot to a shared folder about once a second (and whenever it serves ``/metrics``) and
``/metrics`` adds up the snapshots of the workers still alive, so a scrape sees the whole server.
"""

from __future__ import annotations

import json
import os
import time
from bisect import bisect_left
from pathlib import Path

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Histogram:
    def __init__(self, buckets):
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.sum += value

    def to_dict(self) -> dict:
        return {"counts": list(self.counts), "sum": self.sum}

    def merge(self, data: dict) -> None:
        for i, c in enumerate(data["counts"]):
            self.counts[i] += c
        self.sum += data["sum"]


class Metrics:
    def __init__(self, share_dir: str | Path | None = None):
        self.requests: dict[tuple[str, int], int] = {}
        self.latency: dict[str, Histogram] = {}
        self.batch_size = Histogram(BATCH_BUCKETS)
        self.in_flight = 0
        self.rejected = 0
        self.started = time.time()
        self.share_dir = Path(share_dir) if share_dir else None

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        key = (endpoint, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        hist = self.latency.get(endpoint)
        if hist is None:
            hist = self.latency[endpoint] = Histogram(LATENCY_BUCKETS)
        hist.observe(seconds)

    def observe_batch(self, size: int) -> None:
        self.batch_size.observe(size)

    # -- several workers ------------------------------------------------------------------
    def snapshot(self) -> dict:
        return {
            "pid": os.getpid(),
            "requests": [[e, s, n] for (e, s), n in self.requests.items()],
            "latency": {e: h.to_dict() for e, h in self.latency.items()},
            "batch_size": self.batch_size.to_dict(),
            "in_flight": self.in_flight,
            "rejected": self.rejected,
        }

    def save(self) -> None:
        from nnforge.io import write_json

        try:
            write_json(self.share_dir / f"worker-{os.getpid()}.json", self.snapshot())
        except OSError:
            pass  # metrics must never break serving

    def combined(self) -> "Metrics":
        if self.share_dir is None:
            return self
        self.save()
        total = Metrics()
        for path in self.share_dir.glob("worker-*.json"):
            try:
                data = json.loads(path.read_text())
                if data["pid"] != os.getpid():
                    os.kill(data["pid"], 0)  # skip snapshots of workers that have exited
            except (OSError, ValueError, KeyError):
                continue
            for e, s, n in data["requests"]:
                total.requests[(e, s)] = total.requests.get((e, s), 0) + n
            for e, h in data["latency"].items():
                total.latency.setdefault(e, Histogram(LATENCY_BUCKETS)).merge(h)
            total.batch_size.merge(data["batch_size"])
            total.in_flight += data["in_flight"]
            total.rejected += data["rejected"]
        return total

    # -- exposition -----------------------------------------------------------------------
    def render(self) -> str:
        m = self.combined()
        lines = [
            "# HELP nnforge_requests_total Requests answered, by endpoint and HTTP status.",
            "# TYPE nnforge_requests_total counter",
        ]
        for (endpoint, status), n in sorted(m.requests.items()):
            lines.append(f'nnforge_requests_total{{endpoint="{endpoint}",status="{status}"}} {n}')
        lines += [
            "# HELP nnforge_request_seconds Time from request to answer, by endpoint.",
            "# TYPE nnforge_request_seconds histogram",
        ]
        for endpoint, hist in sorted(m.latency.items()):
            lines += _histogram_lines("nnforge_request_seconds", hist, f'endpoint="{endpoint}",')
        lines += [
            "# HELP nnforge_batch_size Examples per forward pass (micro-batching).",
            "# TYPE nnforge_batch_size histogram",
        ]
        lines += _histogram_lines("nnforge_batch_size", m.batch_size, "")
        lines += [
            "# HELP nnforge_requests_in_flight Requests being served now.",
            "# TYPE nnforge_requests_in_flight gauge",
            f"nnforge_requests_in_flight {m.in_flight}",
            "# HELP nnforge_rejected_total Requests turned away because the concurrency cap was reached (503).",
            "# TYPE nnforge_rejected_total counter",
            f"nnforge_rejected_total {m.rejected}",
        ]
        return "\n".join(lines) + "\n"


def _histogram_lines(name: str, hist: Histogram, labels: str) -> list[str]:
    out, cumulative = [], 0
    for bound, count in zip(hist.buckets, hist.counts):
        cumulative += count
        out.append(f'{name}_bucket{{{labels}le="{bound:g}"}} {cumulative}')
    cumulative += hist.counts[-1]
    out.append(f'{name}_bucket{{{labels}le="+Inf"}} {cumulative}')
    selector = f"{{{labels.rstrip(',')}}}" if labels else ""
    out.append(f"{name}_sum{selector} {hist.sum:.6f}")
    out.append(f"{name}_count{selector} {cumulative}")
    return out
