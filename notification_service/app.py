from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from common.consumer import EventConsumer
from common.health import ReadinessCheck
from common.messaging import Broker
from common.mongo import open_database, ping
from common.service import create_service_app
from common.tokens import TokenVerifier
from notification_service.api import router
from notification_service.consumer import event_handlers
from notification_service.settings import NotificationSettings
from notification_service.store import NotificationStore


def create_app(settings: NotificationSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.token_verifier = TokenVerifier.from_settings(settings)
        app.state.mongo, db = await open_database(settings.mongo_url, settings.mongo_db)
        app.state.notifications = NotificationStore(db)
        await app.state.notifications.create_indexes()
        app.state.broker = broker = Broker(settings.rabbitmq_url, name="notification_service")
        consumer = None
        if settings.consume_events:
            broker.start()
            consumer = EventConsumer(
                broker,
                event_handlers(app.state.notifications),
                exchange=settings.events_exchange,
                queue=settings.notification_queue,
                delivery_limit=settings.delivery_limit,
                prefetch=settings.consumer_prefetch,
            )
            consumer.start()
        yield
        if consumer is not None:
            await consumer.stop()
        await broker.close()
        await app.state.mongo.close()

    def informational(app: FastAPI) -> dict[str, ReadinessCheck]:
        # Serving notifications needs only MongoDB; the consumer's broker link is reported.
        return {"broker": lambda: app.state.broker.ping()} if settings.consume_events else {}

    app = create_service_app(
        name="notification",
        title="Stack Overflow Lite: notifications",
        log_level=settings.log_level,
        lifespan=lifespan,
        readiness=lambda app: {"mongo": lambda: ping(app.state.mongo)},
        informational=informational,
    )
    app.include_router(router)
    return app
