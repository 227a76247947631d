"""A command's start-up without Python's cyclic garbage collector.

Importing torch creates about half a million objects that live as long as the process, and the
collector walks all of them each time it runs a full collection, which it does again and again
while they are being created. Measured here (2 cores, median of 8 fresh processes, alternated):
importing torch and nnforge and taking one AdamW step took 3.58 s with the collector on, 2.91 s
with it paused throughout, and 3.23 s with it paused only for the imports (the first step imports
``torch._dynamo``, through torch.optim, which pays the same cost).

So ``nnforge train`` and ``nnforge quickstart`` pause it as they start (:func:`gc_paused`), and the
end of the first training step resumes it (:class:`nnforge.train.callbacks.ResumeGC`); ``nnforge
predict`` pauses it while it imports torch and loads the model (1.4-1.7 s instead of about 2.0 s
for one digit), not while it reads the files, however many. Resuming
freezes what start-up created (``gc.freeze``: later collections skip those objects instead of
walking them again) rather than collecting it: a full collection there costs 0.2 s and finds a few
thousand objects. A command that ends or fails before its first step resumes it too.

It also tells when a process started (:func:`process_start`): the quickstart's wall time, and the
run lock's way to tell its holder from a later process given the same PID.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time

_paused = False
_IMPORTED = time.monotonic()  # the fallback start, where /proc is not there to say when the process began


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot: field 22 of ``/proc/PID/stat``), or None
    where there is no such file (not Linux, no such process)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
        return int(stat[stat.rindex(")") + 2:].split()[19])  # after "PID (name) ", whose name may hold spaces
    except (OSError, ValueError, IndexError):
        return None


def seconds_since_start() -> float:
    """Wall-clock seconds since this process started (the interpreter's own start-up included), as
    ``/usr/bin/time`` would count them, so the quickstart can print its wall time itself. Linux
    tells from ``/proc`` (to 0.01 s); elsewhere it counts from the first import of this module."""
    started = process_start(os.getpid())
    try:
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        started = None
    if started is None:
        return time.monotonic() - _IMPORTED
    return max(0.0, uptime - started / os.sysconf("SC_CLK_TCK"))


def pause_gc() -> None:
    """Stop automatic cyclic collections until :func:`resume_gc` (no-op if the collector is off)."""
    global _paused
    if not _paused and gc.isenabled():
        gc.disable()
        _paused = True


def resume_gc() -> None:
    """Undo :func:`pause_gc`, freezing what was created meanwhile; no-op when nothing paused it."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


@contextlib.contextmanager
def gc_paused():
    """The collector paused for this block, or until the first training step resumes it earlier."""
    pause_gc()
    try:
        yield
    finally:
        resume_gc()
