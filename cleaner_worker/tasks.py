import asyncio

import structlog

from cleaner_worker.app import app, settings
from common.clock import utc_now
from common.mongo import connect_mongo
from notification_service.store import NotificationStore

log = structlog.get_logger(__name__)


async def delete_old_notifications_now() -> dict[str, int]:
    """Delete notifications older than NOTIFICATION_MAX_AGE, and their read state."""
    cutoff = utc_now() - settings.notification_max_age
    mongo = connect_mongo(settings.mongo_url)  # one client per event loop: one per run
    try:
        store = NotificationStore(mongo[settings.mongo_db], settings.notification_max_age)
        notifications, reads = await store.delete_older_than(cutoff, settings.cleaner_batch_size)
    finally:
        await mongo.close()
    log.info(
        "old notifications deleted",
        notifications=notifications,
        reads=reads,
        cutoff=cutoff.isoformat(),
    )
    return {"notifications": notifications, "reads": reads}


@app.task(name="cleaner.delete_old_notifications")
def delete_old_notifications() -> dict[str, int]:
    return asyncio.run(delete_old_notifications_now())
