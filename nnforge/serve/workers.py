"""Several worker processes behind one port, each with its own listening socket (SO_REUSEPORT).

Why not uvicorn's own ``--workers``: there every worker accepts from one shared socket, and the
first one to wake takes every pending connection at once. Under a burst of keep-alive clients
(a proxy's connection pool, ``ab -c 32``) one worker was seen holding 30 of 32 connections while
the other idled, which doubled the tail latency. Here each worker listens on a socket of its own,
all bound to the same port with ``SO_REUSEPORT``, and the kernel spreads new connections over
them by a hash of the client's address and port: not evenly (20 of 32 is common), which the
workers then even out by closing a connection or two (see :mod:`nnforge.serve.protocol`). With
as many workers as CPUs, each worker is also pinned to a CPU of its own, so its event loop and
inference thread stay in one core's caches instead of migrating (in bench/serve_load.py: p99
about 10 % lower).

Measured in bench/serve_load.py (2026-12-01, onnx, two workers, runs alternated): 5,809 and 6,198
req/s at p99 25 and 21 ms with these workers, 3,795 and 3,009 req/s at p99 43 and 37 ms with
uvicorn's ``--workers`` on the same app.

The supervisor binds the sockets (so a port in use is one clear error before any worker starts),
starts the workers, starts again any worker that dies, and stops them all on Ctrl+C or SIGTERM.
Elsewhere than Linux (where ``SO_REUSEPORT`` does not balance) uvicorn's workers are used.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from multiprocessing.connection import wait

from nnforge.cpus import usable_cpus
from nnforge.errors import UserError

log = logging.getLogger("nnforge.serve")
CRASH_WINDOW_S = 10.0  # a worker that dies this soon after starting, twice running, stops the server


def balanced_sockets_supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def bind_sockets(host: str, port: int, count: int, backlog: int = 2048) -> list[socket.socket]:
    """``count`` listening sockets on one port (port 0: the port the first one was given).

    The port is first bound alone, without SO_REUSEPORT: the workers' sockets share it with each
    other, and SO_REUSEPORT would share it just as quietly with another ``nnforge serve`` already
    listening there (the kernel then splits the requests between two servers, maybe two models)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            port = probe.getsockname()[1]
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.listen(backlog)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                        "choose another --port or stop the program using it") from None
    return sockets


def pin_to_cpu(index: int) -> None:
    """Pin this process to the ``index``-th CPU it may use (only called with one worker per CPU)."""
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[index % len(cpus)]})


def _worker_main(index: int, sock: socket.socket, counts, settings_json: str, uvicorn_options: dict, pin: bool) -> None:
    """One worker process: load the model and serve the socket it was given."""
    import uvicorn

    from nnforge.serve import protocol
    from nnforge.serve.drain import DrainingServer, mark_draining
    from nnforge.serve.service import SETTINGS_ENV

    protocol.BALANCE = (counts, index)

    # Ctrl+C reaches the whole process group; the supervisor turns it into SIGTERM for each worker,
    # which uvicorn handles once it runs (and which ends a worker still loading without a traceback).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ[SETTINGS_ENV] = settings_json
    if pin:
        pin_to_cpu(index)
    config = uvicorn.Config("nnforge.serve.app:app_from_env", factory=True, **uvicorn_options)
    server = DrainingServer(config)
    server.on_drain = mark_draining
    server.run(sockets=[sock])


class Supervisor:
    """Starts one worker per socket, restarts those that die, stops all on SIGINT/SIGTERM.

    The first signal is passed on to every worker (each drains for ``grace_seconds``); a second
    one is passed on again, which makes each worker exit at once."""

    def __init__(self, sockets: list[socket.socket], settings_json: str, uvicorn_options: dict, grace_seconds: float = 10.0,
                 metrics_dir: str | None = None):
        self.sockets = sockets
        self.grace_seconds = grace_seconds
        self.metrics_dir = metrics_dir  # prometheus_client's multiprocess directory (nnforge.serve.metrics)
        self.args = (settings_json, uvicorn_options, len(sockets) == usable_cpus())
        self.context = multiprocessing.get_context("spawn")  # never fork a process that loaded torch
        self.connection_counts = self.context.RawArray("i", len(sockets))  # see nnforge.serve.protocol
        self.workers: list = [None] * len(sockets)
        self.started_at = [0.0] * len(sockets)
        self.quick_deaths = [0] * len(sockets)
        self.stopping = False

    def start(self, index: int) -> None:
        self.connection_counts[index] = 0
        process = self.context.Process(target=_worker_main, args=(index, self.sockets[index], self.connection_counts, *self.args),
                                       name=f"nnforge-worker-{index}")
        process.start()
        self.workers[index] = process
        self.started_at[index] = time.monotonic()

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for index in range(len(self.sockets)):
                self.start(index)
            while not self.stopping:
                wait([w.sentinel for w in self.workers], timeout=0.5)
                for index, worker in enumerate(self.workers):
                    if self.stopping or worker.is_alive():
                        continue
                    self._forget(worker)
                    if not self._restart(index, worker.exitcode):
                        return 1
            return 0
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for sock in self.sockets:
                sock.close()

    def _restart(self, index: int, exitcode: int | None) -> bool:
        quick = time.monotonic() - self.started_at[index] < CRASH_WINDOW_S
        self.quick_deaths[index] = self.quick_deaths[index] + 1 if quick else 0
        if self.quick_deaths[index] >= 2:
            print(f"nnforge serve: worker {index} keeps exiting (code {exitcode}) right after it starts; "
                  "stopping the server (its error is printed above)", file=sys.stderr, flush=True)
            return False
        log.warning("worker %d exited (code %s); starting a new one", index, exitcode)
        self.start(index)
        return True

    def _request_stop(self, signum, frame) -> None:
        if self.stopping:  # a second signal: the workers' second SIGTERM makes them exit now
            self._signal_workers()
        self.stopping = True

    def _signal_workers(self) -> None:
        for worker in self.workers:
            if worker is not None and worker.is_alive():
                os.kill(worker.pid, signal.SIGTERM)

    def _stop_all(self) -> None:
        self._signal_workers()  # each drains for grace_seconds, then closes what is left
        deadline = time.monotonic() + self.grace_seconds + 5
        for worker in self.workers:
            if worker is not None:
                worker.join(max(0.1, deadline - time.monotonic()))
                if worker.is_alive():
                    worker.kill()
                    worker.join()
                self._forget(worker)

    def _forget(self, worker) -> None:
        """A worker has exited: its in-flight gauge leaves /metrics, its counters stay in the sums."""
        if self.metrics_dir is not None:
            from nnforge.serve.metrics import forget_worker

            forget_worker(worker.pid, self.metrics_dir)


def run_workers(settings_json: str, sockets: list[socket.socket], uvicorn_options: dict, grace_seconds: float = 10.0,
                metrics_dir: str | None = None) -> int:
    """Serve with one balanced worker process per socket (from :func:`bind_sockets`) until stopped."""
    return Supervisor(sockets, settings_json, uvicorn_options, grace_seconds, metrics_dir).run()
