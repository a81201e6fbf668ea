from datetime import timedelta

from pydantic import Field

from common.settings import BrokerSettings, RetentionSettings, Seconds, ServiceSettings


class CleanerSettings(ServiceSettings, BrokerSettings, RetentionSettings):
    dev_only_defaults = ("rabbitmq_url",)

    # The notification service's database: the cleaner is part of that service's domain.
    mongo_db: str = "notifications"
    cleaner_interval: Seconds = Field(
        default=timedelta(hours=1), ge=timedelta(seconds=1), le=timedelta(hours=1)
    )
    cleaner_batch_size: int = Field(default=500, ge=1, le=10_000)
    # The Celery queue on RabbitMQ that the worker takes tasks from.
    cleaner_queue: str = "cleaner"
    # A file the worker touches while it consumes, for a cheap healthcheck (liveness.py); none
    # when empty.
    cleaner_liveness_file: str = ""
