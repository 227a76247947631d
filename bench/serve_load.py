"""Load test: the seed's Flask server against `nnforge serve`, same CNN, same requests, one run.

Both servers get the same load from wrk (Debian package `wrk`): POST of real MNIST test digits as
PNG uploads (multipart field `file`, a few hundred different images cycled so that nothing can be
answered from a cache), 32 concurrent connections, after a warm-up. The nnforge server runs with
every limit on (body size, pixel budget, formats, timeouts, concurrency cap). The model is the
seed's SimpleCNN (32 and 64 channels, 128 hidden units) trained for one epoch on mnist-sample:
serving cost does not depend on the weights.

    .venv/bin/python bench/serve_load.py [--duration 10] [--connections 32] [--workers 2] [--backend torch]

Prints requests/s, p50, p99 and errors for both servers and the throughput ratio.
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
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server on port {port} exited early:\n{proc.stdout.read() if proc.stdout else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not start within {timeout} s")


def make_run(out: Path) -> Path:
    from nnforge.config import load_config
    from nnforge.train import fit

    config = load_config(None, ["data.name=mnist-sample", "model.name=cnn", "model.channels=[32,64]", "model.hidden=128",
                                "train.epochs=1", "train.optimizer.name=adam", "train.optimizer.lr=0.001",
                                "train.progress=none"])
    fit(config, out)
    return out


def digit_bodies(count: int) -> list[bytes]:
    """Multipart bodies, each one real MNIST test digit as a PNG file."""
    from PIL import Image

    from nnforge.data import load_dataset

    ds = load_dataset({"name": "mnist-sample"})
    bodies = []
    for i in range(count):
        buf = io.BytesIO()
        Image.fromarray(ds.x_test[i, 0].numpy()).save(buf, format="PNG")
        head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"digit{i}.png\"\r\n"
                f"Content-Type: image/png\r\n\r\n").encode()
        bodies.append(head + buf.getvalue() + f"\r\n--{BOUNDARY}--\r\n".encode())
    return bodies


def lua_script(bodies: list[bytes], path: Path) -> Path:
    def lua_string(b: bytes) -> str:
        return '"' + "".join(f"\\{c}" for c in b) + '"'

    lines = ["bodies = {"] + [f"  {lua_string(b)}," for b in bodies] + ["}"]
    lines += [
        "local i = 0",
        f'local headers = {{["Content-Type"] = "multipart/form-data; boundary={BOUNDARY}"}}',
        "request = function()",
        "  i = i % #bodies + 1",
        '  return wrk.format("POST", nil, headers, bodies[i])',
        "end",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def parse_wrk(text: str) -> dict:
    def ms(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
        return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50 = ms(re.search(r"50%\s+(\S+)", text).group(1))
    p99 = ms(re.search(r"99%\s+(\S+)", text).group(1))
    total = int(re.search(r"(\d+) requests in", text).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "requests": total, "errors": errors}


def load(url: str, script: Path, connections: int, duration: float, threads: int) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def start(cmd: list[str], port: int, env=None) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
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
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--backend", default="torch", choices=["torch", "onnx"])
    ap.add_argument("--images", type=int, default=200, help="distinct digits cycled through")
    ap.add_argument("--extra", default="", help="extra flags for nnforge serve, e.g. '--max-wait-ms 1'")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    if not SEED_SERVER.is_file():
        print(f"seed server not found at {SEED_SERVER} (set NNFORGE_ANCHORS)", file=sys.stderr)
        return 2
    python = sys.executable
    nnforge_cli = str(Path(python).with_name("nnforge"))
    with tempfile.TemporaryDirectory(prefix="nnforge-bench-") as tmp:
        tmp = Path(tmp)
        run = Path(args.run) if args.run else make_run(tmp / "run")
        script = lua_script(digit_bodies(args.images), tmp / "post.lua")
        results = {}
        servers = {
            "seed flask": lambda port: [python, str(SEED_SERVER), str(port)],
            f"nnforge ({args.backend}, {args.workers} workers)": lambda port: [
                nnforge_cli, "serve", str(run), "--port", str(port), "--workers", str(args.workers),
                "--backend", args.backend, *args.extra.split()],
        }
        for name, command in servers.items():
            port = free_port()
            path = "/predict" if name.startswith("seed") else "/v1/predict"
            proc = start(command(port), port)
            try:
                url = f"http://127.0.0.1:{port}{path}"
                load(url, script, args.connections, args.warmup, args.wrk_threads)
                results[name] = load(url, script, args.connections, args.duration, args.wrk_threads)
            finally:
                stop(proc)
            r = results[name]
            print(f"{name:<32} {r['rps']:>9.0f} req/s   p50 {r['p50_ms']:6.2f} ms   p99 {r['p99_ms']:6.2f} ms   "
                  f"errors {r['errors']} of {r['requests']}", flush=True)
    seed, ours = results["seed flask"], list(results.values())[1]
    print(f"throughput ratio nnforge/seed: {ours['rps'] / seed['rps']:.2f}x   "
          f"(p99 {ours['p99_ms']:.2f} ms vs {seed['p99_ms']:.2f} ms; concurrency {args.connections}, "
          f"{os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
