"""The Celery app: ``celery -A cleaner_worker.app worker`` and ``... beat``.

Beat only schedules; it must run as exactly ONE process (several would each send the task). The
task itself is safe to run twice at once, so a worker pool of any size is fine.
"""

from pathlib import Path
from typing import Any, ClassVar

from celery import Celery, bootsteps
from celery.signals import beat_init, setup_logging, worker_process_init

from cleaner_worker.liveness import INTERVAL
from cleaner_worker.settings import CleanerSettings
from common.logging import configure_logging
from common.tracing import configure_tracing

settings = CleanerSettings()

app = Celery("cleaner_worker", broker=settings.rabbitmq_url, include=["cleaner_worker.tasks"])
app.conf.update(
    task_default_queue=settings.cleaner_queue,
    task_ignore_result=True,
    # Ack after the task ran: a worker that dies mid-run leaves the task for another worker.
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    beat_schedule={
        "delete-old-notifications": {
            "task": "cleaner.delete_old_notifications",
            "schedule": settings.cleaner_interval.total_seconds(),
            # A run that waited longer than one interval is superseded by the next.
            "options": {"expires": settings.cleaner_interval.total_seconds()},
        }
    },
)


class Liveness(bootsteps.StartStopStep):  # type: ignore[misc]
    """A step of the worker's consumer, so it runs exactly while the worker consumes: touches
    the liveness file every INTERVAL seconds, removes it when the consumer stops
    (cleaner_worker/liveness.py reads it)."""

    requires: ClassVar[set[str]] = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, consumer: Any, **kwargs: Any) -> None:
        super().__init__(consumer, **kwargs)
        self.file = Path(settings.cleaner_liveness_file)
        self.timer: Any = None

    def start(self, consumer: Any) -> None:
        self.file.touch()
        self.timer = consumer.timer.call_repeatedly(INTERVAL, self.file.touch)

    def stop(self, consumer: Any) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.file.unlink(missing_ok=True)

    shutdown = stop


if settings.cleaner_liveness_file:
    app.steps["consumer"].add(Liveness)


@setup_logging.connect
def _json_logs(**_kwargs: object) -> None:
    configure_logging("cleaner_worker", settings.log_level)


@worker_process_init.connect
@beat_init.connect
def _traces(**_kwargs: object) -> None:
    """Traces, when an exporter is set (common/tracing.py): in each pool process after the
    fork (an exporter's thread does not survive one), and in beat, whose sends start them."""
    if configure_tracing("cleaner_worker"):
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument()  # type: ignore[no-untyped-call]
