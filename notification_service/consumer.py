"""What notification_service does with the events it consumes: one handler per contract.

The consuming itself (batches, acknowledgements, dead-lettering, retries while MongoDB is away)
is common/consumer.py's.
"""

from common.consumer import Handler
from common.events import Event, PostCreated
from notification_service.store import NotificationStore


def event_handlers(store: NotificationStore) -> dict[type[Event], Handler]:
    async def posts_created(events: list[PostCreated]) -> set[str]:
        """One notification per post, the batch in one bulk insert; redeliveries add nothing."""
        added = await store.add([event.post for event in events])
        return {event.event_id for event in events if event.post.id in added}

    return {
        PostCreated: Handler(
            posts_created, applied="notification stored", duplicate="notification already stored"
        )
    }
