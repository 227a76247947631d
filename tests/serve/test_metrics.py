"""Prometheus exposition, and adding up the counters of several worker processes."""

from __future__ import annotations

import json
import os

from nnforge.serve.metrics import Metrics


def test_exposition_format():
    m = Metrics()
    m.observe_request("predict", 200, 0.003)
    m.observe_request("predict", 200, 0.02)
    m.observe_request("predict", 415, 0.0005)
    m.observe_batch(5)
    text = m.render()
    assert 'nnforge_requests_total{endpoint="predict",status="200"} 2' in text
    assert 'nnforge_requests_total{endpoint="predict",status="415"} 1' in text
    assert 'nnforge_request_seconds_bucket{endpoint="predict",le="0.005"} 2' in text  # cumulative
    assert 'nnforge_request_seconds_bucket{endpoint="predict",le="+Inf"} 3' in text
    assert 'nnforge_request_seconds_count{endpoint="predict"} 3' in text
    assert 'nnforge_batch_size_bucket{le="4"} 0' in text and 'nnforge_batch_size_bucket{le="8"} 1' in text
    for line in text.splitlines():  # every sample line is "name{labels} value"
        if not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


def test_workers_are_added_up_and_exited_workers_dropped(tmp_path):
    m = Metrics(tmp_path)
    m.observe_request("predict", 200, 0.001)
    other = Metrics()
    for _ in range(4):
        other.observe_request("predict", 200, 0.002)
    alive = other.snapshot() | {"pid": os.getppid()}  # another live process
    gone = other.snapshot() | {"pid": 2**22 + 12345}  # no such process
    (tmp_path / "worker-a.json").write_text(json.dumps(alive))
    (tmp_path / "worker-b.json").write_text(json.dumps(gone))
    (tmp_path / "worker-c.json").write_text("{not json")
    text = m.render()
    assert 'nnforge_requests_total{endpoint="predict",status="200"} 5' in text
