"""Load test: the seed's Flask server against `nnforge serve`, same CNN, same requests, one run.

Three servers, one after another, get the same load from ab (Debian package `apache2-utils`):
POST of a real MNIST test digit as a PNG upload (multipart field `file`), 32 concurrent
connections, after a warm-up, with ab's keep-alive on (the seed's Werkzeug server closes each
connection anyway). Besides the seed's Flask server, the issue's middle baseline runs too: the
seed's endpoint ported plainly to FastAPI on two uvicorn workers (bench/_plain_fastapi_server.py).
The issue reports both baselines on its own machine, so the run prints how this machine compares
(a noisy or slower machine shows in the baselines first). nnforge has no answer cache: every
request is parsed, decoded, preprocessed and run. The nnforge server runs with
every limit on (body size, pixel budget, formats, timeouts, concurrency cap). The model is the
seed's SimpleCNN (32 and 64 channels, 128 hidden units) trained for one epoch on mnist-sample:
serving cost does not depend on the weights.

    .venv/bin/python bench/serve_load.py [--duration 10] [--connections 32] [--workers 2] [--backends torch,onnx]

Prints requests/s, p50, p99, errors and server CPU per request for each server, the ratios, and
a calibration line against the figures in the issue.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED_SERVER = Path(os.environ.get("NNFORGE_ANCHORS", ROOT.parent / "shared" / "anchors")) / "seed_flask_server.py"
BOUNDARY = "nnforgeBenchBoundary7MA4YWxk"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Wait until the server answers HTTP 8 times in a row.

    A connection alone is not enough: nnforge's supervisor listens before its workers have loaded
    the model, and each worker has its own socket, so several answers make it likely all are up.
    """
    deadline = time.time() + timeout
    answered = 0
    while time.time() < deadline and answered < 8:
        if proc.poll() is not None:
            raise SystemExit(f"server on port {port} exited early:\n{Path(proc.log).read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as conn:
                conn.sendall(b"GET /health HTTP/1.0\r\n\r\n")
                answered = answered + 1 if conn.recv(16).startswith(b"HTTP/") else 0
        except OSError:
            answered = 0
            time.sleep(0.2)
    if answered < 8:
        raise SystemExit(f"server on port {port} did not start within {timeout} s")


def make_run(out: Path) -> Path:
    from nnforge.config import load_config
    from nnforge.train import fit

    config = load_config(None, ["data.name=mnist-sample", "model.name=cnn", "model.channels=[32,64]", "model.hidden=128",
                                "train.epochs=1", "train.optimizer.name=adam", "train.optimizer.lr=0.001",
                                "train.progress=none"])
    fit(config, out)
    return out


def digit_body(index: int = 0) -> bytes:
    """A multipart body holding one real MNIST test digit as a PNG file (field `file`)."""
    from PIL import Image

    from nnforge.data import load_dataset

    ds = load_dataset({"name": "mnist-sample"})
    buf = io.BytesIO()
    Image.fromarray(ds.x_test[index, 0].numpy()).save(buf, format="PNG")
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"digit.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode()
    return head + buf.getvalue() + f"\r\n--{BOUNDARY}--\r\n".encode()


def cpu_seconds(pgid: int) -> float:
    """User + system CPU time of every process in a process group (the server and its workers)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: process group
            total += int(fields[11]) + int(fields[12])  # fields 14, 15: utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def load(url: str, body: Path, connections: int, duration: float, csv: Path, keep_alive: bool = True) -> dict:
    """ab (apache2-utils): throughput, latency percentiles (from its CSV), errors."""
    cmd = ["ab", *(["-k"] if keep_alive else []), "-q", "-r", "-s", "10", "-c", str(connections), "-t", str(max(1, round(duration))), "-n", "10000000",
           "-e", str(csv), "-p", str(body), "-T", f"multipart/form-data; boundary={BOUNDARY}", url]
    result = subprocess.run(cmd, capture_output=True, text=True)
    out = result.stdout + result.stderr
    try:
        rps = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))
        total = int(re.search(r"Complete requests:\s+(\d+)", out).group(1))
    except AttributeError:
        raise SystemExit(f"ab failed:\n{out}") from None
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    percentiles = dict(line.split(",") for line in csv.read_text().splitlines()[1:])
    return {"rps": rps, "p50_ms": float(percentiles["50"]), "p99_ms": float(percentiles["99"]), "requests": total,
            "errors": failed + (int(non2xx.group(1)) if non2xx else 0)}


def start(cmd: list[str], port: int, log: Path) -> subprocess.Popen:
    # Output goes to a file: a pipe nobody reads fills up with Werkzeug's per-request log and stalls it.
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    proc.log = log
    wait_for(port, proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="run directory to serve (default: train the seed's CNN for one epoch)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of measured load per server")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--backends", default="torch,onnx",
                    help="nnforge backends to load, comma-separated (onnx exports the CNN to model.onnx first)")
    ap.add_argument("--extra", default="", help="extra flags for nnforge serve, e.g. '--max-wait-ms 1'")
    ap.add_argument("--no-plain", action="store_true", help="leave out the plain FastAPI baseline")
    args = ap.parse_args()
    if shutil.which("ab") is None:
        print("ab is not installed (apt-get install -y apache2-utils)", file=sys.stderr)
        return 2
    if not SEED_SERVER.is_file():
        print(f"seed server not found at {SEED_SERVER} (set NNFORGE_ANCHORS)", file=sys.stderr)
        return 2
    python = sys.executable
    nnforge_cli = str(Path(python).with_name("nnforge"))
    with tempfile.TemporaryDirectory(prefix="nnforge-bench-") as tmp:
        tmp = Path(tmp)
        run = Path(args.run) if args.run else make_run(tmp / "run")
        body = tmp / "body.bin"
        body.write_bytes(digit_body())
        results = {}
        servers = {"seed flask": lambda port: [python, str(SEED_SERVER), str(port)]}
        if not args.no_plain:
            servers["plain fastapi (2 workers)"] = lambda port: [
                python, "-m", "uvicorn", "_plain_fastapi_server:app", "--app-dir", str(ROOT / "bench"), "--workers", "2",
                "--port", str(port), "--log-level", "warning", "--no-access-log"]
        for backend in args.backends.split(","):
            servers[f"nnforge ({backend}, {args.workers} workers)"] = lambda port, backend=backend: [
                nnforge_cli, "serve", str(run), "--port", str(port), "--workers", str(args.workers),
                "--backend", backend, *args.extra.split()]
        for name, command in servers.items():
            port = free_port()
            path = "/v1/predict" if name.startswith("nnforge") else "/predict"
            proc = start(command(port), port, tmp / f"server-{port}.log")
            try:
                url = f"http://127.0.0.1:{port}{path}"
                keep_alive = True  # ab -k for both; the seed's Werkzeug server closes each connection anyway
                load(url, body, args.connections, args.warmup, tmp / "lat.csv", keep_alive)
                cpu = cpu_seconds(proc.pid)
                results[name] = load(url, body, args.connections, args.duration, tmp / "lat.csv", keep_alive)
                results[name]["cpu_us"] = (cpu_seconds(proc.pid) - cpu) / max(1, results[name]["requests"]) * 1e6
            finally:
                stop(proc)
            r = results[name]
            print(f"{name:<32} {r['rps']:>9.0f} req/s   p50 {r['p50_ms']:6.2f} ms   p99 {r['p99_ms']:6.2f} ms   "
                  f"errors {r['errors']} of {r['requests']}   server CPU {r['cpu_us']:.0f} us/request", flush=True)
    seed = results.pop("seed flask")
    plain = results.pop("plain fastapi (2 workers)", None)
    if plain is not None:
        # The issue measured both baselines on its machine: seed 870 req/s, plain FastAPI ~5x that with p99 16 ms.
        print(f"calibration: here the seed serves {seed['rps']:.0f} req/s (issue: ~870) and plain FastAPI "
              f"{plain['rps'] / seed['rps']:.1f}x that with p99 {plain['p99_ms']:.1f} ms (issue: ~5x, p99 16 ms)")
    for name, ours in results.items():
        print(f"{name}: throughput {ours['rps'] / seed['rps']:.2f}x the seed's, p99 {ours['p99_ms']:.2f} ms vs "
              f"{seed['p99_ms']:.2f} ms, server CPU per request {seed['cpu_us'] / ours['cpu_us']:.2f}x less "
              f"(concurrency {args.connections}, {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
