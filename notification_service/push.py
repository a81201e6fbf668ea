"""Pushing new notifications to the browsers connected to this replica.

The path of one notification, with N replicas of this service:

    PostCreated --(one replica's consumer, a batch at a time)--> notifications stored
        --> NotificationsCreated (one message a batch) --(events exchange)-->
        one private queue per replica --> PushHub --> its open streams

The replica that stores a notification cannot know which replicas hold the streams of the people
to tell, so it announces it on the broker and every replica pushes it to its own streams. Each
replica's queue is exclusive and auto-deleted (``EventConsumer(private=True)``, with the handler
in consumer.py): it lives and dies with the process, so a dead replica leaves nothing behind.

Push is a hint, the store is the truth. A notice lost on the way (this replica's broker link
drops; the announcement, sent without a confirm, is lost) costs that notification's moment, not
the notification: a stream's client resynchronises whenever it (re)connects, and a stream
resumed with ``Last-Event-ID`` is first sent what it missed from the store. So after a broker
reconnect every stream here is ended: its client comes back and catches up. A replica that dies
between storing and announcing loses nothing: it had not acknowledged the event, and the replica
it is redelivered to announces the stored notification again.

A notice may come twice (its event was redelivered after the replica that stored it died, and
may have announced it already): the hub remembers the ids it delivered lately and drops a repeat.

Each stream has a bounded buffer. Delivering never waits: a client whose buffer is full (it
stopped reading) is dropped, and reconnects when it reads again; the others never wait for it.
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import timedelta

import structlog
from prometheus_client import Counter, Gauge

from common.events import NotificationsCreated, NotificationSnapshot
from common.messaging import Broker, EventPublisher
from common.tracing import Carrier

log = structlog.get_logger(__name__)

# How many delivered ids the hub remembers to drop a repeated notice: minutes of traffic at
# 50 notifications/s, while a repeat follows its first within seconds (a redelivery).
RECENT = 10_000

STREAMS = Gauge("push_streams_open", "Notification streams open on this replica")
PUSHED = Counter("push_notifications", "Notifications put into a stream's buffer")
DROPPED = Counter("push_streams_dropped", "Streams ended because their client fell behind")


class TooManyStreams(Exception):
    pass


@dataclass(eq=False)
class Subscription:
    """One open stream: whose it is, and what is waiting to be sent to it."""

    user_id: str
    buffer: asyncio.Queue[NotificationSnapshot | None]
    ended: bool = False

    async def next(self, timeout: float) -> NotificationSnapshot | None:
        """The next notification; ``None`` once the stream is ended or ``timeout`` passed."""
        if self.ended:
            return None
        try:
            return await asyncio.wait_for(self.buffer.get(), timeout)
        except TimeoutError:
            return None


class PushHub:
    """The streams open on this replica, and delivery to them (never blocking)."""

    def __init__(
        self,
        buffer: int,
        max_streams: int,
        max_age: timedelta = timedelta(minutes=15),
        send_timeout: timedelta = timedelta(seconds=10),
    ) -> None:
        self._buffer = buffer
        self._max_streams = max_streams
        self.max_age = max_age
        self.send_timeout = send_timeout
        self._streams: set[Subscription] = set()
        self._recent: OrderedDict[str, None] = OrderedDict()  # ids delivered lately, oldest first

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    def subscribe(self, user_id: str) -> Subscription:
        if len(self._streams) >= self._max_streams:
            raise TooManyStreams(f"this replica serves at most {self._max_streams} streams")
        subscription = Subscription(user_id, asyncio.Queue(self._buffer))
        self._streams.add(subscription)
        STREAMS.set(len(self._streams))
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._streams.discard(subscription)
        STREAMS.set(len(self._streams))

    def deliver(self, notification: NotificationSnapshot) -> int:
        """Queue ``notification`` for every stream but its author's, unless it was delivered
        lately; returns to how many."""
        if notification.id in self._recent:
            return 0
        self._recent[notification.id] = None
        if len(self._recent) > RECENT:
            self._recent.popitem(last=False)
        delivered = 0
        for subscription in list(self._streams):
            if subscription.user_id == notification.author_id:
                continue
            try:
                subscription.buffer.put_nowait(notification)
                delivered += 1
            except asyncio.QueueFull:
                DROPPED.inc()
                log.warning("stream dropped: its client fell behind", user_id=subscription.user_id)
                self._end(subscription)
        PUSHED.inc(delivered)
        return delivered

    def end_all(self) -> None:
        """End every stream (their clients reconnect and catch up from the store)."""
        for subscription in list(self._streams):
            self._end(subscription)

    def _end(self, subscription: Subscription) -> None:
        subscription.ended = True
        self.unsubscribe(subscription)
        while not subscription.buffer.empty():  # wake a waiting stream: it sends nothing more
            subscription.buffer.get_nowait()
        subscription.buffer.put_nowait(None)


class NotificationAnnouncer:
    """Tells every replica (this one too) of newly stored notifications."""

    def __init__(self, broker: Broker, exchange: str) -> None:
        self._publisher = EventPublisher(broker, exchange, durable=False)

    async def announce(
        self, notifications: list[NotificationSnapshot], traces: Mapping[str, Carrier]
    ) -> None:
        """In one message, whatever the batch's size. Best effort: a failure is logged, never
        raised (the notifications are stored). ``traces`` (post id -> context) goes with it, by
        notification id, so each push joins its post's trace."""
        if not notifications:
            return
        event = NotificationsCreated(
            notifications=notifications,
            traces={n.id: dict(trace) for n in notifications if (trace := traces.get(n.post_id))},
        )
        try:
            await self._publisher.publish(event)
        except Exception as exc:  # push is a hint: see the module docstring
            log.warning("notifications not announced", count=len(notifications), error=repr(exc))


async def stream_of(
    subscription: Subscription, *, until: float
) -> AsyncIterator[NotificationSnapshot]:
    """The subscription's notifications as they come, until it ends or the monotonic time
    ``until`` (then the client reconnects: see ``stream_max_age``)."""
    while (left := until - time.monotonic()) > 0:
        notification = await subscription.next(left)
        if notification is None:
            if subscription.ended:
                return
            continue
        yield notification
