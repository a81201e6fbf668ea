"""What notification_service does, apart from HTTP and the broker: the routes (api.py) and the
event handlers (handlers.py) call these; tests call them directly against the real store."""

from collections.abc import Mapping

from common.events import NotificationSnapshot, PostSnapshot
from common.tracing import Carrier
from notification_service.push import NotificationAnnouncer
from notification_service.store import NotificationStore


async def notify(
    posts: list[PostSnapshot],
    *,
    store: NotificationStore,
    announcer: NotificationAnnouncer | None,
    announce_existing: bool = False,
    traces: Mapping[str, Carrier] | None = None,
) -> list[NotificationSnapshot]:
    """Store one notification per post, unless it exists (so a repeat adds nothing), and
    announce each one stored now for every replica to push; returns those.

    ``announce_existing`` announces the already stored ones again too: for an event delivered
    again, whose first delivery's replica may have died between storing and announcing (every
    replica drops a notification it pushed lately, so no stream gets one twice).
    ``traces`` (post id -> trace context) puts each announcement in its post's trace.
    """
    added = await store.add(posts)
    if announcer is not None:
        new = {notification.post_id for notification in added}
        again = (
            await store.notifications_of([post.id for post in posts if post.id not in new])
            if announce_existing
            else []
        )
        await announcer.announce(added + again, traces or {})
    return added
