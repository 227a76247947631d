"""Several worker processes: connections spread over them, a dead worker is replaced, stop is clean."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.serve.conftest import Server, free_port, read_response

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="balanced workers use Linux SO_REUSEPORT")

HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


def worker_of_each(port: int, connections: int) -> list[int]:
    """Open ``connections`` keep-alive connections at once, then ask each which worker holds it."""
    socks = []
    for _ in range(connections):  # all handshakes at once, as from a load generator or a proxy's pool
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        socks.append(sock)
    try:
        for sock in socks:
            select.select([], [sock], [], 30)
            sock.settimeout(30)
            sock.sendall(HEALTH)  # at once: a connection left silent past the header deadline gets a 408
        return [answer(sock)[0] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def ask(sock: socket.socket) -> tuple[int, bool]:
    """(worker pid, whether the server closes this connection after answering) for one /health."""
    sock.sendall(HEALTH)
    return answer(sock)


def answer(sock: socket.socket) -> tuple[int, bool]:
    """(worker pid, whether the server closes this connection) from the answer to a /health sent on ``sock``."""
    head, body, _ = read_response(sock)
    head = head.lower()
    assert head.startswith(b"http/1.1 200"), head
    return json.loads(body)["worker"], b"connection: close" in head


def wait_until(condition, timeout: float = 180.0):
    """``condition()``'s first truthy value, polled; the default allows for a worker process starting
    (importing torch, loading the model) on a loaded 2-core machine, which took 20 s at load 5."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def metric(text: str, sample: str) -> float:
    """The value of one sample line (``name{labels}``) in a Prometheus text exposition."""
    return next(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(sample + " "))


def test_connections_spread_over_workers_and_a_dead_worker_is_replaced(run_dir, digit_png):
    server = Server(run_dir, "--workers", "2")
    asked = [0]  # /health requests sent, all answered 200 (ask() checks)

    def spread(connections: int) -> list[int]:
        asked[0] += connections
        return worker_of_each(server.port, connections)

    try:
        # A burst of 32 keep-alive connections (what ab -c 32 or a proxy's pool opens): every worker
        # gets a share (the kernel hashes each connection to one of the workers' sockets).
        pids = Counter(wait_until(lambda: (p := spread(32)) and len(set(p)) == 2 and p))
        assert len(pids) == 2 and min(pids.values()) >= 4, pids
        status, before = server.upload("/v1/predict", digit_png)
        assert status == 200 and before["class"] in [str(i) for i in range(10)]
        share = Path(dict(v.split("=", 1) for v in Path(f"/proc/{next(iter(pids))}/environ").read_text().split("\0") if "=" in v)
                     ["PROMETHEUS_MULTIPROC_DIR"])
        assert share.name.startswith("nnforge-metrics-") and share.is_dir()

        def counted() -> str:
            status, text = server.request("GET", "/metrics")
            assert status == 200
            return text

        def settled(predicts: int):
            # A worker counts a request just after its answer leaves, so a reader can be a moment ahead.
            return lambda: ((text := counted())
                            and metric(text, 'nnforge_requests_total{endpoint="health",status="200"}') == asked[0]
                            and metric(text, 'nnforge_requests_total{endpoint="predict",status="200"}') == predicts
                            and text)

        wait_until(settled(1), 30)  # every answer so far counted before the kill, whichever worker gave it
        victim = next(iter(pids))
        os.kill(victim, signal.SIGKILL)
        fresh = wait_until(lambda: (p := set(spread(16))) and victim not in p and len(p) == 2 and p)
        assert victim not in fresh
        for _ in range(4):  # fresh connections: the new worker answers too, with the same model
            server.conn.close()
            status, answer = server.upload("/v1/predict", digit_png)
            assert status == 200 and answer == before

        # One /metrics answer adds up every worker, the killed one's counts included (prometheus_client's
        # multiprocess mode); the supervisor marked the killed one dead, so its in-flight gauge is gone.
        text = wait_until(settled(5), 30)
        assert metric(text, "nnforge_requests_in_flight") == 1  # the /metrics request itself
        assert not list(share.glob(f"gauge_livesum_{victim}.db"))
        assert list(share.glob(f"counter_{victim}.db"))

        # SIGTERM to the supervisor alone (a service manager's stop) stops every worker and frees the port.
        workers = set(fresh)
        os.kill(server.proc.pid, signal.SIGTERM)
        assert server.proc.wait(30) == 0
        for pid in workers:
            wait_until(lambda: not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2], 30)
        assert not share.exists()  # the server's metrics directory goes with it
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", server.port))
    finally:
        server.close()


def test_a_port_in_use_is_one_line(run_dir):
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        nnforge = str(Path(sys.executable).with_name("nnforge"))
        result = subprocess.run([nnforge, "serve", str(run_dir), "--port", str(port), "--workers", "2"],
                                capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "--port" in lines[0], result.stderr


@pytest.mark.parametrize("count", [1, 2])
def test_a_port_another_nnforge_serve_listens_on_is_refused(count):
    """Every socket set SO_REUSEPORT, so a second `nnforge serve` on a port the first one held
    started without a word and the kernel split the requests between the two servers."""
    from nnforge.errors import UserError
    from nnforge.serve.workers import bind_sockets

    first = bind_sockets("127.0.0.1", 0, 2)  # what a running server with two workers holds
    try:
        port = first[0].getsockname()[1]
        with pytest.raises(UserError, match=f"cannot listen on 127.0.0.1:{port}: .*in use"):
            bind_sockets("127.0.0.1", port, count)
    finally:
        for sock in first:
            sock.close()
    again = bind_sockets("127.0.0.1", port, count)  # free again once the first server is gone
    assert {sock.getsockname()[1] for sock in again} == {port}
    for sock in again:
        sock.close()


def holder_of_each(server_port: int, client_ports: list[int], pids: set[int]) -> dict[int, int]:
    """Which worker process holds the server side of each client port (from /proc, no request sent)."""
    inode_pid = {}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inode_pid[target[8:-1]] = pid
    holders = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) in client_ports:
            holders[int(remote.split(":")[1], 16)] = inode_pid.get(inode)
    return holders


def test_a_lopsided_set_of_keep_alive_connections_is_evened_out(run_dir):
    """24 idle keep-alive connections all held by one worker: once their clients send requests,
    the loaded worker closes a few and the reconnections even out the load."""
    server = Server(run_dir, "--workers", "2")
    held: list[socket.socket] = []
    try:
        pids = wait_until(lambda: (p := set(worker_of_each(server.port, 8))) and len(p) == 2 and p)
        opened = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(96)]
        ports = [s.getsockname()[1] for s in opened]
        holders = wait_until(lambda: (h := holder_of_each(server.port, ports, pids)) and len(h) == len(ports) and h)
        target = Counter(holders.values()).most_common(1)[0][0]
        held = [s for s, port in zip(opened, ports) if holders[port] == target][:24]
        for sock in opened:
            if sock not in held:
                sock.close()
        assert len(held) == 24

        workers = [target] * len(held)
        deadline = time.time() + 30
        while time.time() < deadline:
            for i, sock in enumerate(held):
                workers[i], closing = ask(sock)
                if closing:  # the loaded worker asked this client to reconnect
                    sock.close()
                    held[i] = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            if len(set(workers)) == 2 and max(Counter(workers).values()) == 12:
                break
            time.sleep(0.05)
        counts = Counter(workers)
        assert len(counts) == 2 and max(counts.values()) == 12, counts  # exactly even
    finally:
        for sock in held:
            sock.close()
        server.close()
