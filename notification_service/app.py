import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from common.components import running
from common.consumer import EventConsumer
from common.health import ReadinessCheck
from common.limits import Rate, limits_expiry, open_rate_limit
from common.messaging import Broker
from common.mongo import ping, service_database
from common.service import create_service_app
from common.tokens import TokenVerifier
from notification_service.api import router
from notification_service.handlers import event_handlers, push_handlers
from notification_service.push import NotificationAnnouncer, PushHub
from notification_service.settings import NotificationSettings
from notification_service.store import NotificationStore
from notification_service.streams import OpenStreams


def create_app(settings: NotificationSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.token_verifier = TokenVerifier.from_settings(settings)
        async with service_database(app, settings) as db, AsyncExitStack() as parts:
            await parts.enter_async_context(running(limits_expiry(db)))
            app.state.notifications = NotificationStore(db, settings.notification_max_age)
            await app.state.notifications.create_indexes()
            app.state.write_limit = await open_rate_limit(
                db,
                "writes",
                Rate(
                    settings.notification_write_limit_burst,
                    settings.notification_write_limit_interval,
                ),
                "you are changing notifications too fast",
            )
            app.state.streams = OpenStreams(db["streams"], settings.streams_per_user)
            await app.state.streams.create_indexes()
            await parts.enter_async_context(running(app.state.streams))
            app.state.push = PushHub(
                settings.push_buffer,
                settings.max_streams,
                max_age=settings.stream_max_age,
                send_timeout=settings.stream_send_timeout,
            )
            parts.callback(app.state.push.end_all)  # at shutdown: open streams end
            app.state.announcer = None
            if settings.consume_events or settings.push_events:
                broker = Broker(settings.rabbitmq_url, name="notification_service")
                app.state.broker = await parts.enter_async_context(running(broker))
                app.state.announcer = NotificationAnnouncer(broker, settings.events_exchange)
            if settings.push_events:
                # Notices sent while the link was down are lost: streams end, clients catch up.
                broker.on_connected(app.state.push.end_all)
                listener = EventConsumer(
                    broker,
                    push_handlers(app.state.push),
                    name="push",
                    exchange=settings.events_exchange,
                    queue=f"{settings.push_queue_prefix}.{uuid.uuid4().hex[:12]}",
                    prefetch=settings.consumer_prefetch,
                    private=True,
                )
                await parts.enter_async_context(running(listener))
            if settings.consume_events:
                consumer = EventConsumer(
                    broker,
                    event_handlers(app.state.notifications, app.state.announcer),
                    name="notifications",
                    exchange=settings.events_exchange,
                    queue=settings.notification_queue,
                    delivery_limit=settings.delivery_limit,
                    prefetch=settings.consumer_prefetch,
                )
                await parts.enter_async_context(running(consumer))
            yield

    def informational(app: FastAPI) -> dict[str, ReadinessCheck]:
        # Serving notifications needs only MongoDB; the broker link (events in, push) is reported.
        uses_broker = settings.consume_events or settings.push_events
        return {"broker": lambda: app.state.broker.ping()} if uses_broker else {}

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
