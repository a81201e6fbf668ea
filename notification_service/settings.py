from datetime import timedelta

from pydantic import Field

from common.settings import (
    BrokerSettings,
    RetentionSettings,
    Seconds,
    ServiceSettings,
    TokenSettings,
)


class NotificationSettings(ServiceSettings, TokenSettings, BrokerSettings, RetentionSettings):
    dev_only_defaults = ("rabbitmq_url",)

    port: int = 8003
    mongo_db: str = "notifications"
    # Every replica consumes from this one queue: competing consumers share the work.
    notification_queue: str = "notification.post-created"
    # Redeliveries before RabbitMQ moves a message to the dead-letter queue.
    delivery_limit: int = Field(default=5, ge=1, le=100)
    # Also the largest batch the consumer stores at once: a backlog drains in few writes.
    consumer_prefetch: int = Field(default=250, ge=1, le=1000)
    # Run the PostCreated consumer in this process (off for an API-only replica).
    consume_events: bool = True
    # Push to browsers (GET /api/notification/stream): each replica binds a private queue named
    # <prefix>.<random> to NotificationsCreated.
    push_events: bool = True
    push_queue_prefix: str = "notification.push"
    # Notifications waiting to be sent to one stream: a client further behind is dropped (it
    # reconnects and catches up), so one slow reader never holds up the others. Two consumer
    # batches' worth: a backlog arrives in bursts that a reader keeping up must not overflow.
    # (The buffer holds references to notifications every stream shares.)
    push_buffer: int = Field(default=500, ge=1, le=10_000)
    # Streams one replica serves at once; past it a new one is refused with 503.
    max_streams: int = Field(default=1_000, ge=1, le=100_000)
    # Streams one user holds at once on all replicas together; past it a new one is a 429.
    streams_per_user: int = Field(default=5, ge=1, le=100_000)
    # Notification writes and read marks per user, shared by every replica: a burst, then one
    # more every interval.
    notification_write_limit_burst: int = Field(default=60, ge=1, le=1_000_000)
    notification_write_limit_interval: Seconds = Field(
        default=timedelta(seconds=1), ge=timedelta(milliseconds=1), le=timedelta(hours=1)
    )
    # A stream ends after this long and its client reconnects (to any replica, with a fresh
    # token check): streams spread over replicas added since.
    stream_max_age: Seconds = Field(
        default=timedelta(minutes=15), ge=timedelta(seconds=1), le=timedelta(days=1)
    )
    # A stream whose client has not taken a write for this long is closed.
    stream_send_timeout: Seconds = Field(
        default=timedelta(seconds=10), ge=timedelta(seconds=1), le=timedelta(minutes=5)
    )
