import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]], timeout: float = 10.0, every: float = 0.05
) -> T:
    """Poll an outside system (broker, database, service) until ``check`` returns something
    truthy, and return it; ``TimeoutError`` at the deadline. Never a fixed sleep."""
    async with asyncio.timeout(timeout):
        while True:
            if result := await check():
                return result
            await asyncio.sleep(every)
