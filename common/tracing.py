"""OpenTelemetry traces: one trace from the HTTP request that makes a post to the push of its
notification, across every process it passes.

Off unless an OTLP exporter endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``); then every other standard ``OTEL_*`` variable applies
as the SDK reads it (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``,
``OTEL_BSP_*``, ``OTEL_EXPORTER_OTLP_HEADERS``, ...; ``OTEL_SDK_DISABLED=true`` turns it off).
When off, nothing is instrumented and the helpers below cost a function call.

The maintained instrumentations make the spans of FastAPI, aio-pika, PyMongo and Celery. Where
none reaches, an event carries its W3C trace context itself (``traceparent``, ``tracestate``):

- the outbox stores it beside the event (common/outbox.py), so the relay's publish, which runs
  later and perhaps on another replica, belongs to the request that made the event;
- the message headers carry it over the broker (aio-pika's instrumentation injects it);
- the consumer takes each message's context back (``received``) and handles each event in a span
  of its own trace (``handling``), even when one batch holds events of many traces.
"""

import contextlib
import os
import socket
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import Span, SpanKind

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

Carrier = dict[str, str]
"""A trace context as W3C headers (``traceparent`` and ``tracestate``), the form it is stored in."""

_FIELDS = ("traceparent", "tracestate")
tracer = trace.get_tracer("soflite")


def enabled() -> bool:
    """Whether this process exports traces: an OTLP endpoint is set and the SDK is not disabled."""
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    return bool(endpoint) and not disabled


def configure_tracing(service: str) -> bool:
    """Export this process's spans over OTLP/HTTP and instrument aio-pika and PyMongo, if
    ``enabled()``; returns whether tracing is on. A second call in the process changes nothing.
    ``service`` is the ``service.name`` unless the environment (``OTEL_SERVICE_NAME``,
    ``OTEL_RESOURCE_ATTRIBUTES``) names another. Call before any client is made."""
    if not enabled():
        return False
    from opentelemetry.sdk.trace import TracerProvider

    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return True
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=resource_of(service))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    AioPikaInstrumentor().instrument()
    PymongoInstrumentor().instrument()
    return True


def resource_of(service: str) -> "Resource":
    """The process's resource: ``service`` as its name and host:pid as its instance (which
    replica it is), under whatever the standard variables set."""
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource

    instance = f"{socket.gethostname()}:{os.getpid()}"
    ours = Resource.create({"service.name": service, "service.instance.id": instance})
    return ours.merge(OTELResourceDetector().detect())


def current() -> Carrier:
    """The current trace context as W3C headers, empty outside any trace (tracing off)."""
    carrier: Carrier = {}
    propagate.inject(carrier)
    return carrier


def received(headers: Mapping[str, Any] | None) -> Carrier:
    """The trace context of a message's headers (only the W3C fields, as text)."""
    return {k: str(v) for k in _FIELDS if (v := (headers or {}).get(k)) is not None}


@contextlib.contextmanager
def continued(carrier: Mapping[str, str] | None) -> Iterator[None]:
    """Run the block in the trace of ``carrier`` (as if inside the span that made it)."""
    if not carrier:
        yield
        return
    token = context.attach(propagate.extract(carrier))
    try:
        yield
    finally:
        context.detach(token)


@contextlib.contextmanager
def span(
    name: str,
    parent: Mapping[str, str] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    **attributes: str | int,
) -> Iterator[Span]:
    """A span named ``name`` in the trace of ``parent`` (else the current one), current in the
    block. Outside any trace with tracing off it is the SDK's no-op span."""
    parent_context = propagate.extract(parent) if parent else None
    with tracer.start_as_current_span(
        name, context=parent_context, kind=kind, attributes=attributes
    ) as made:
        yield made


_handled: ContextVar[Mapping[str, Carrier] | None] = ContextVar("traced_events", default=None)


@contextlib.contextmanager
def handling(name: str, carriers: Mapping[str, Carrier]) -> Iterator[None]:
    """One consumer span per event of a batch (``carriers``: each event id's context from its
    message), each in its own event's trace, all open while the block runs. The first is
    current, so the batch's database spans fall under it; ``of_event`` gives each event's span
    to what the handler sends on per event."""
    if not any(carriers.values()):  # nothing upstream traced: no span to continue
        yield
        return
    with contextlib.ExitStack() as stack:
        made: dict[str, Carrier] = {}
        for event_id, carrier in carriers.items():
            opened = tracer.start_span(
                name,
                context=propagate.extract(carrier),
                kind=SpanKind.CONSUMER,
                attributes={"messaging.batch.message_count": len(carriers)},
            )
            if made:
                stack.callback(opened.end)
            else:
                stack.enter_context(trace.use_span(opened, end_on_exit=True))
            made[event_id] = {}
            propagate.inject(made[event_id], context=trace.set_span_in_context(opened))
        token = _handled.set(made)
        stack.callback(_handled.reset, token)
        yield


def of_event(event_id: str) -> Carrier:
    """The context of the span handling the event ``event_id`` (inside ``handling``)."""
    return (_handled.get() or {}).get(event_id, {})
