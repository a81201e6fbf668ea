"""A client of GET /api/notification/stream that behaves as the web client does: it reconnects
with ``Last-Event-ID`` after the stream ends, and can resynchronise from the list on every connect.
It records everything it is sent, so tests can count deliveries per notification."""

import asyncio
import contextlib
import time
from collections import Counter
from typing import Any

import httpx
from httpx_sse import aconnect_sse

STREAM = "/api/notification/stream"


class StreamClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        resync: bool = False,
        reconnect: bool = True,
        last_event_id: str | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(10, read=60),
        )
        self._resync = resync
        self._reconnect = reconnect
        self.pushed: list[dict[str, Any]] = []  # every notification event, in arrival order
        self.first_at: dict[str, float] = {}  # post id -> time.time() it was first pushed
        self.seq_of: dict[str, str] = {}  # post id -> the id of the event that pushed it
        self.resynced: set[str] = set()  # post ids read from the list on a (re)connect
        self.connects = 0
        self.resumed_after: list[str | None] = []  # the Last-Event-ID of each connect
        self.ends = 0  # streams that ended (the server closed, or the connection broke)
        self.last_event_id = last_event_id
        self.open = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "StreamClient":
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.open.wait(), 30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._http.aclose()

    def state(self) -> str:
        """Whether the client still runs, or how its loop ended (for a failing test's message)."""
        if self._task is None or not self._task.done():
            return "running"
        return "cancelled" if self._task.cancelled() else f"ended: {self._task.exception()!r}"

    def times_pushed(self) -> Counter[str]:
        """How often each post's notification was pushed."""
        return Counter(n["post_id"] for n in self.pushed)

    def seen(self) -> set[str]:
        """Post ids this client knows of: pushed, or read from the list when resynchronising."""
        return {n["post_id"] for n in self.pushed} | self.resynced

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(httpx.HTTPError, OSError):
                await self._stream()
            self.ends += 1
            self.open.clear()
            if not self._reconnect:
                return
            await asyncio.sleep(0.2)

    async def _stream(self) -> None:
        headers = {} if self.last_event_id is None else {"Last-Event-ID": self.last_event_id}
        async with aconnect_sse(self._http, "GET", STREAM, headers=headers) as source:
            source.response.raise_for_status()
            self.connects += 1
            self.resumed_after.append(self.last_event_id)
            if self._resync:
                page = await self._http.get("/api/notification", params={"limit": 100})
                page.raise_for_status()
                self.resynced |= {n["post_id"] for n in page.json()["items"]}
            self.open.set()
            async for event in source.aiter_sse():
                if event.event == "notification":
                    notification = event.json()
                    self.first_at.setdefault(notification["post_id"], time.time())
                    self.pushed.append(notification)
                    self.seq_of[notification["post_id"]] = event.id
                    self.last_event_id = event.id
