"""What notification_service does with the events it consumes: one handler per contract.

The consuming itself (batches, acknowledgements, dead-lettering, retries while MongoDB is away)
is common/consumer.py's.
"""

from common import tracing
from common.consumer import Handler
from common.events import Event, NotificationsCreated, PostCreated
from notification_service.push import NotificationAnnouncer, PushHub
from notification_service.store import NotificationStore
from notification_service.use_cases import notify


def event_handlers(
    store: NotificationStore, announcer: NotificationAnnouncer
) -> dict[type[Event], Handler]:
    async def posts_created(events: list[PostCreated]) -> set[str]:
        """One notification per post, the batch in one bulk insert; redeliveries add nothing.
        Each is announced for the replicas to push, a redelivered one's again (use_cases.py)."""
        added = await notify(
            [event.post for event in events],
            store=store,
            announcer=announcer,
            announce_existing=True,
            traces={event.post.id: tracing.of_event(event.event_id) for event in events},
        )
        posts = {notification.post_id for notification in added}
        return {event.event_id for event in events if event.post.id in posts}

    return {
        PostCreated: Handler(
            posts_created, applied="notification stored", duplicate="notification already stored"
        )
    }


def push_handlers(hub: PushHub) -> dict[type[Event], Handler]:
    """What this replica's private queue takes: every notification stored by any replica."""

    async def notifications_created(events: list[NotificationsCreated]) -> set[str]:
        """To the streams open here (each buffer takes it at once, or its stream is dropped),
        each push in the trace of its notification's post."""
        for event in events:
            for notification in event.notifications:
                parent = event.traces.get(notification.id) or tracing.of_event(event.event_id)
                with tracing.span("push", parent=parent) as span:
                    span.set_attribute("push.streams", hub.deliver(notification))
        return {event.event_id for event in events}

    return {NotificationsCreated: Handler(notifications_created, applied="notifications pushed")}
