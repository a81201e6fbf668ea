"""Background tasks of a long-lived component (relay, consumer, broker connection)."""

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


async def next_batch(queue: asyncio.Queue[T], most: int) -> list[T]:
    """The next item (waiting for it), and every item already queued behind it, up to ``most``:
    a lone item goes at once, a backlog goes in batches."""
    batch = [await queue.get()]
    while len(batch) < most and not queue.empty():
        batch.append(queue.get_nowait())
    return batch


class BackgroundTasks:
    """Tasks started with a component and cancelled together when it stops."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._tasks: list[asyncio.Task[Any]] = []

    def start(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        self._tasks.append(asyncio.create_task(work, name=f"{self._owner}-{name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
