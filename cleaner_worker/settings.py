from datetime import timedelta

from pydantic import Field

from common.settings import BrokerSettings, Seconds, ServiceSettings


class CleanerSettings(ServiceSettings, BrokerSettings):
    dev_only_defaults = ("rabbitmq_url",)

    # The notification service's database: the cleaner is part of that service's domain.
    mongo_db: str = "notifications"
    cleaner_interval: Seconds = timedelta(hours=1)
    notification_max_age: Seconds = timedelta(days=7)
    cleaner_batch_size: int = Field(default=500, ge=1, le=10_000)
    # The Celery queue on RabbitMQ that the worker takes tasks from.
    cleaner_queue: str = "cleaner"
