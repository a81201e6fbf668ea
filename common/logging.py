"""JSON logs for every process, with the request id on every line.

The request id comes from asgi-correlation-id's context variable: the HTTP middleware sets it
from ``X-Request-ID`` (nginx generates one per request), the event publisher copies it into the
message headers and the consumer sets it again, so one grep follows a post from the HTTP request
to the stored notification. While tracing is on (common/tracing.py), each line also carries
its ``trace_id`` and ``span_id``.
"""

import logging
import sys

import structlog
from asgi_correlation_id import correlation_id
from opentelemetry import trace
from structlog.typing import EventDict, Processor


def _add_request_id(_logger: object, _name: str, event_dict: EventDict) -> EventDict:
    request_id = correlation_id.get()
    if request_id and "request_id" not in event_dict:
        event_dict["request_id"] = request_id
    return event_dict


def _add_trace_id(_logger: object, _name: str, event_dict: EventDict) -> EventDict:
    """The trace and span of the line (while tracing is on, common/tracing.py)."""
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event_dict["trace_id"] = format(span.trace_id, "032x")
        event_dict["span_id"] = format(span.span_id, "016x")
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route structlog and the standard library (uvicorn, celery, pymongo) into JSON on stdout."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_request_id,
        _add_trace_id,
        lambda _l, _n, event_dict: {"service": service, **event_dict},
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Connection chatter of the drivers is noise at INFO.
    for name in ("aiormq", "aio_pika", "pymongo"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
