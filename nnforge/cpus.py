"""How many CPUs this process may use — not how many the machine has.

``os.cpu_count()`` counts the machine's CPUs even when ``taskset``, a container's cpuset or a
job scheduler allows fewer. Sizing thread pools by it oversubscribes those CPUs: a server started
with ``taskset -c 1`` ran two ONNX Runtime threads on one CPU and answered 2.5x fewer requests.
"""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
