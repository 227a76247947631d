"""``nnforge serve RUN``: the REST service and its web page (no torch import at module level)."""

from __future__ import annotations

import math

from nnforge.errors import UserError


def register(sub, add, add_set) -> None:
    p = add(sub, "serve", "serve a run's model: REST API (/v1/predict, /docs, /metrics) and a web page at /",
            "nnforge serve runs/cnn --port 8000 --workers 2", cmd_serve)
    p.add_argument("run", help="run directory (written by `nnforge train`), or an .onnx file in one: "
                               "RUN/compress/model-int8.onnx serves the int8 model of `nnforge compress`")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto",
                   help="inference engine: ONNX Runtime on model.onnx (exported if missing) or the PyTorch model; "
                        "default auto: ONNX Runtime when installed and it matches the PyTorch model's answers")
    p.add_argument("--workers", type=int, default=1, help="worker processes, each with its own copy of the model (default 1)")
    p.add_argument("--threads", type=int, default=0, help="inference threads per worker (default: the CPUs this process may use / workers)")
    p.add_argument("--max-batch", type=int, default=32, help="most examples in one forward pass (default 32)")
    p.add_argument("--max-wait-ms", type=float, default=0.0,
                   help="hold a batch that is not full this long for more requests (default 0: batch whatever queued meanwhile)")
    p.add_argument("--top-k", type=int, default=3, help="classes returned when the request does not say (?k=N)")
    p.add_argument("--max-body-mb", type=float, default=8.0, help="largest request body, in MB (default 8): 413 beyond")
    p.add_argument("--max-pixels", type=int, default=16_000_000, help="largest uploaded image, width x height (default 16e6)")
    p.add_argument("--max-inputs", type=int, default=256, help="most examples in one request (default 256)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to answer a request before 504 (default 10)")
    p.add_argument("--body-timeout", type=float, default=5.0, help="longest pause in sending a body before 408 (default 5 s)")
    p.add_argument("--max-concurrency", type=int, default=256,
                   help="requests being answered (body received) per worker before 503 (default 256)")
    p.add_argument("--header-timeout", type=float, default=10.0,
                   help="seconds for a request's headers to arrive, from connecting or the previous answer (default 10): 408")
    p.add_argument("--read-timeout", type=float, default=30.0,
                   help="seconds for a whole request (headers and body) to arrive, from its first byte (default 30): 408")
    p.add_argument("--write-timeout", type=float, default=10.0,
                   help="seconds an answer may wait for a client that reads nothing before its connection is closed (default 10)")
    p.add_argument("--min-body-rate", type=float, default=1024.0,
                   help="slowest accepted body, bytes/s averaged, after the first 2 s (default 1024): 408")
    p.add_argument("--max-connections", type=int, default=4096,
                   help="open connections per worker; past it the one waiting longest for its headers is closed (default 4096)")
    p.add_argument("--max-connections-per-client", type=int, default=64,
                   help="open connections per client address, per worker (default 64): 503 beyond")
    p.add_argument("--max-inflight-mb", type=float, default=256.0,
                   help="request bodies held in memory at once per worker, in MB (default 256): 503 beyond")
    p.add_argument("--grace-seconds", type=float, default=10.0,
                   help="on SIGTERM/Ctrl+C: seconds requests in flight may take to finish before the rest are closed "
                        "(default 10; a second signal exits at once)")
    p.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])


def settings_from_args(args):
    from nnforge.serve.limits import Limits
    from nnforge.serve.service import ServeSettings

    checks = {"--port": (args.port, 0, 65535), "--workers": (args.workers, 1, 64), "--max-batch": (args.max_batch, 1, 4096),
              "--max-inputs": (args.max_inputs, 1, 100_000), "--max-concurrency": (args.max_concurrency, 1, 100_000),
              "--top-k": (args.top_k, 1, 100_000), "--threads": (args.threads, 0, 256),
              "--max-connections": (args.max_connections, 1, 1_000_000),
              "--max-connections-per-client": (args.max_connections_per_client, 1, 1_000_000)}
    for flag, (value, lo, hi) in checks.items():
        if not lo <= value <= hi:
            raise UserError(f"{flag} {value} is out of range; accepted: {lo} to {hi}")
    for flag, value in {"--max-body-mb": args.max_body_mb, "--timeout": args.timeout, "--max-pixels": args.max_pixels,
                        "--body-timeout": args.body_timeout, "--header-timeout": args.header_timeout,
                        "--read-timeout": args.read_timeout, "--write-timeout": args.write_timeout,
                        "--min-body-rate": args.min_body_rate,
                        "--max-inflight-mb": args.max_inflight_mb}.items():
        if not 0 < value < math.inf:  # inf: --max-body-mb failed with a traceback, a limit of inf is none
            raise UserError(f"{flag} must be a positive number, got {value}")
    for flag, value in {"--max-wait-ms": args.max_wait_ms, "--grace-seconds": args.grace_seconds}.items():
        if not 0 <= value < math.inf:  # --max-wait-ms inf held every request until its 504
            raise UserError(f"{flag} must be 0 or a positive number, got {value}")
    limits = Limits(max_body_bytes=int(args.max_body_mb * 1024 * 1024), max_pixels=args.max_pixels,
                    max_inputs=args.max_inputs, timeout_s=args.timeout,
                    body_timeout_s=args.body_timeout, max_concurrency=args.max_concurrency,
                    header_timeout_s=args.header_timeout, read_timeout_s=args.read_timeout,
                    write_timeout_s=args.write_timeout, min_body_rate=args.min_body_rate,
                    max_connections=args.max_connections, max_connections_per_client=args.max_connections_per_client,
                    max_bytes_in_flight=int(args.max_inflight_mb * 1024 * 1024))
    return ServeSettings(run_dir=args.run, backend=args.backend, max_batch=args.max_batch, max_wait_ms=args.max_wait_ms,
                         top_k=args.top_k, threads=args.threads, workers=args.workers, grace_seconds=args.grace_seconds,
                         limits=limits)


def cmd_serve(args) -> int:
    import importlib.util

    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
        raise UserError("serving needs FastAPI and uvicorn; install them with: pip install 'nnforge[serve]'")
    from nnforge.predictor import classifier_meta
    from nnforge.serve.app import serve

    settings = settings_from_args(args)
    classifier_meta(settings.run_dir)  # a missing, unfinished or forecast run is a one-line error before any banner
    scheme_host = f"[{args.host}]" if ":" in args.host else args.host
    banner = f"nnforge serve: {args.run} on http://{scheme_host}:{args.port}/  (API docs at /docs; Ctrl+C stops)"
    return serve(settings, host=args.host, port=args.port, log_level=args.log_level, banner=banner)
