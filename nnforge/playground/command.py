"""``nnforge playground``: watch a network learn a 2-D dataset in the browser, trained by nnforge.scratch."""

from __future__ import annotations

import math

from nnforge.errors import UserError


def register(sub, add, add_set) -> None:
    p = add(sub, "playground", "a TensorFlow-Playground-like page: build a small network, press Play, watch it learn (on nnforge.scratch)",
            "nnforge playground --port 8000", cmd_playground)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--max-sessions", type=int, default=8, help="browser tabs training at once; more are refused (default 8)")
    p.add_argument("--idle-timeout", type=float, default=900.0, help="end a session after this many seconds without a message (default 900)")
    p.add_argument("--header-timeout", type=float, default=10.0,
                   help="seconds for a request's headers to arrive, from connecting or the previous answer (default 10): 408")
    p.add_argument("--fps", type=float, default=15.0, help="frames per second sent to a playing tab (default 15; 1-30)")
    p.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])


def settings_from_args(args):
    from nnforge.playground.app import PlaygroundSettings

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is out of range; accepted: 0 to 65535")
    if not 1 <= args.max_sessions <= 64:
        raise UserError(f"--max-sessions {args.max_sessions} is out of range; accepted: 1 to 64")
    if not args.idle_timeout > 0:
        raise UserError(f"--idle-timeout must be positive, got {args.idle_timeout}")
    if not 0 < args.header_timeout < math.inf:
        raise UserError(f"--header-timeout must be a positive number, got {args.header_timeout}")
    if not 1 <= args.fps <= 30:
        raise UserError(f"--fps {args.fps} is out of range; accepted: 1 to 30")
    return PlaygroundSettings(max_sessions=args.max_sessions, idle_timeout_s=args.idle_timeout, fps=args.fps,
                              header_timeout_s=args.header_timeout)


def cmd_playground(args) -> int:
    import importlib.util

    if any(importlib.util.find_spec(m) is None for m in ("fastapi", "uvicorn", "wsproto")):
        raise UserError("the playground needs FastAPI, uvicorn and wsproto; install them with: pip install 'nnforge[playground]'")
    from nnforge.playground.app import serve

    settings = settings_from_args(args)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"nnforge playground on http://{host}:{args.port}/  (Ctrl+C stops)", flush=True)
    return serve(settings, host=args.host, port=args.port, log_level=args.log_level)
