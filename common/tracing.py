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
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import Span, SpanKind

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
    ``enabled()``; returns whether it did. ``service`` is the ``service.name`` unless
    ``OTEL_SERVICE_NAME`` sets another. Call once per process, before any client is made."""
    if not enabled() or isinstance(trace.get_tracer_provider(), _sdk_provider_class()):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES over this default.
    instance = {"service.instance.id": f"{socket.gethostname()}:{os.getpid()}"}
    resource = Resource.create({"service.name": service, **instance}).merge(
        Resource.create({"service.name": os.environ["OTEL_SERVICE_NAME"]})
        if os.environ.get("OTEL_SERVICE_NAME")
        else Resource.get_empty()
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    AioPikaInstrumentor().instrument()
    PymongoInstrumentor().instrument()
    return True


def _sdk_provider_class() -> type:
    from opentelemetry.sdk.trace import TracerProvider

    return TracerProvider


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
