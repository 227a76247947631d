"""Load test: 8 playground sessions playing at once, each a 2-4-4-2 network on XOR; frames per second each.

Starts `nnforge playground` (default --max-sessions 8, --fps 15), opens 8 WebSocket sessions from
threads, presses Play in each, counts each session's frames over --duration seconds after a
1 s warm-up, then opens a 9th to check it is refused (error message, close code 1013). Prints
each session's frames per second and training steps per second; exits 1 if any session falls
below 10 frames per second or the 9th is not refused cleanly.

    .venv/bin/python bench/playground_load.py [--duration 10] [--sessions 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.playground.conftest import Playground  # noqa: E402

CONFIG = {"type": "configure", "data": {"kind": "xor", "samples": 500, "noise": 10},
          "network": {"hidden": [4, 4], "activation": "tanh", "optimizer": "adam", "lr": 0.03, "batch_size": 10}}


def play(srv, start: threading.Barrier, warmup: float, duration: float, out: list) -> None:
    client = srv.socket()
    client.next("hello")
    client.send(**CONFIG)
    client.next("points")
    client.next("frame")
    start.wait()
    client.send(type="play")
    t0 = time.time()
    while time.time() < t0 + warmup:
        client.next("frame")
    first = client.next("frame")
    began, frames, last = time.time(), 0, first
    while time.time() < began + duration:
        last = client.next("frame")
        frames += 1
    elapsed = time.time() - began
    out.append((frames / elapsed, (last["step"] - first["step"]) / elapsed, last["test_loss"]))
    client.send(type="pause")
    client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--sessions", type=int, default=8)
    args = parser.parse_args()
    srv = Playground("--max-sessions", str(args.sessions))
    try:
        results: list = []
        barrier = threading.Barrier(args.sessions)
        threads = [threading.Thread(target=play, args=(srv, barrier, 1.0, args.duration, results)) for _ in range(args.sessions)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        extra = srv.socket()
        refusal = json.loads(extra.ws.recv(timeout=10))
        try:
            extra.ws.recv(timeout=10)
            code = None
        except Exception as exc:  # ConnectionClosed carries the close code
            code = getattr(getattr(exc, "rcvd", None), "code", None)
        for t in threads:
            t.join()
        fps = [r[0] for r in results]
        for i, (f, steps, loss) in enumerate(results):
            print(f"session {i + 1}: {f:5.1f} frames/s  {steps:7.0f} steps/s  test loss {loss:.3f}")
        refused = refusal.get("type") == "error" and "full" in refusal.get("message", "") and code == 1013
        print(f"min {min(fps):.1f} frames/s over {len(fps)} sessions; session {args.sessions + 1}: "
              f"{'refused cleanly' if refused else 'NOT refused'} ({refusal.get('message')!r}, close code {code})")
        return 0 if min(fps) >= 10 and refused and len(fps) == args.sessions else 1
    finally:
        srv.close()


if __name__ == "__main__":
    sys.exit(main())
