"""Deadlines: a request past its deadline is cancelled (and told so); other cancellations pass through."""

import asyncio

import pytest

from nnforge.serve.deadlines import Deadlines


def test_late_requests_are_cancelled_and_others_are_not():
    async def request(deadlines, seconds, work):
        task = asyncio.current_task()
        deadlines.set(task, seconds)
        try:
            await asyncio.sleep(work)
            return "answered"
        except asyncio.CancelledError:
            if not deadlines.clear(task):
                raise
            return "timed out"
        finally:
            deadlines.clear(task)

    async def main():
        deadlines = Deadlines(tick=0.01)
        results = await asyncio.gather(request(deadlines, 0.05, 0.3), request(deadlines, 1.0, 0.02))
        assert results == ["timed out", "answered"]
        assert not deadlines.due and not deadlines.expired
        outside = asyncio.create_task(request(deadlines, 5.0, 5.0))  # e.g. server shutdown cancels it
        await asyncio.sleep(0.02)
        outside.cancel()
        with pytest.raises(asyncio.CancelledError):
            await outside
        assert not deadlines.due

    asyncio.run(main())
