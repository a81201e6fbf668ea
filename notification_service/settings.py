from pydantic import Field

from common.settings import BrokerSettings, RetentionSettings, ServiceSettings, TokenSettings


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
