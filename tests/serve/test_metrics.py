"""Prometheus exposition through prometheus_client, and its multiprocess mode adding up worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from nnforge.serve.metrics import Metrics, forget_worker


def sample(text: str, name: str) -> float:
    return next(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " "))


def test_exposition_format():
    m = Metrics()
    m.observe_request("predict", 200, 0.003)
    m.observe_request("predict", 200, 0.02)
    m.observe_request("predict", 415, 0.0005)
    m.observe_batch(5)
    m.reject()
    m.in_flight += 2
    text = m.render()
    assert 'nnforge_requests_total{endpoint="predict",status="200"} 2.0' in text
    assert 'nnforge_requests_total{endpoint="predict",status="415"} 1.0' in text
    assert 'nnforge_request_seconds_bucket{endpoint="predict",le="0.005"} 2.0' in text  # cumulative
    assert 'nnforge_request_seconds_bucket{endpoint="predict",le="+Inf"} 3.0' in text
    assert 'nnforge_request_seconds_count{endpoint="predict"} 3.0' in text
    assert 'nnforge_batch_size_bucket{le="4.0"} 0.0' in text and 'nnforge_batch_size_bucket{le="8.0"} 1.0' in text
    assert "nnforge_requests_in_flight 2.0" in text and "nnforge_rejected_total 1.0" in text
    for line in text.splitlines():  # every sample line is "name{labels} value"
        if not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])
    assert Metrics().render().count("nnforge_requests_in_flight 0.0") == 1  # each app has a registry of its own


WORKER = textwrap.dedent("""
    import sys
    from nnforge.serve.metrics import Metrics
    m = Metrics(sys.argv[1])
    for _ in range(int(sys.argv[2])):
        m.observe_request("predict", 200, 0.002)
    m.in_flight = int(sys.argv[3])
    print("ready", flush=True)
    for line in sys.stdin:  # each line asks for one /metrics answer, ended by a line "."
        print(m.render() + "\\n.", flush=True)
""")


def test_workers_are_added_up_and_an_exited_workers_gauge_dropped(tmp_path):
    """Real worker processes in prometheus_client's multiprocess mode: one scrape sums them all; once
    a worker has exited and is marked dead its in-flight requests leave the gauge, its counts stay."""
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    alive = subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), "1", "2"], env=env, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert alive.stdout.readline().strip() == "ready"
        gone = subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), "4", "3"], env=env, text=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        assert gone.wait(60) == 0

        def scrape() -> str:
            alive.stdin.write("scrape\n")
            alive.stdin.flush()
            return "".join(iter(alive.stdout.readline, ".\n"))

        text = scrape()
        assert sample(text, 'nnforge_requests_total{endpoint="predict",status="200"}') == 5
        assert sample(text, 'nnforge_request_seconds_count{endpoint="predict"}') == 5
        assert sample(text, "nnforge_requests_in_flight") == 5  # not yet known to be gone
        forget_worker(gone.pid, tmp_path)  # what the supervisor does when a worker exits
        text = scrape()
        assert sample(text, 'nnforge_requests_total{endpoint="predict",status="200"}') == 5  # counters never go down
        assert sample(text, "nnforge_requests_in_flight") == 2

        # Without a supervisor (uvicorn's own workers), the next worker to start forgets the one that is gone.
        crashed = subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), "1", "4"], env=env, text=True,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        assert crashed.wait(60) == 0
        assert sample(scrape(), "nnforge_requests_in_flight") == 6
        replacement = subprocess.run([sys.executable, "-c", WORKER, str(tmp_path), "0", "0"], env=env, text=True,
                                     stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        assert replacement.returncode == 0, replacement.stderr
        text = scrape()
        assert sample(text, "nnforge_requests_in_flight") == 2
        assert sample(text, 'nnforge_requests_total{endpoint="predict",status="200"}') == 6
    finally:
        alive.stdin.close()
        alive.wait(30)


def test_several_workers_need_the_directory_before_prometheus_client_is_imported(tmp_path):
    with pytest.raises(RuntimeError, match="PROMETHEUS_MULTIPROC_DIR"):
        Metrics(tmp_path)  # this process imported prometheus_client without it
