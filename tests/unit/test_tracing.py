"""common/tracing.py: when tracing is on, and how a batch's events each keep their own trace."""

import os

import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from common import tracing


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_tracing_is_off_unless_an_exporter_endpoint_is_set(monkeypatch, env, on):
    for name in ("ENDPOINT", "TRACES_ENDPOINT"):
        monkeypatch.delenv(f"OTEL_EXPORTER_OTLP_{name}", raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert tracing.enabled() is on


@pytest.fixture
def exported(monkeypatch):
    """Spans made by common.tracing, kept in memory (this test's own provider)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "tracer", provider.get_tracer("test"))
    return exporter


def carrier_of(span: trace.Span) -> tracing.Carrier:
    carrier: tracing.Carrier = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return carrier


def test_each_event_of_a_batch_is_handled_in_its_own_trace(exported):
    first, second = tracing.tracer.start_span("request 1"), tracing.tracer.start_span("request 2")
    carriers = {"event-1": carrier_of(first), "event-2": carrier_of(second)}

    with tracing.handling("process", carriers):
        current = trace.get_current_span().get_span_context()
        inner = {event: tracing.of_event(event) for event in carriers}
    assert tracing.of_event("event-1") == {}  # only inside the block

    handled = {s.parent.span_id: s for s in exported.get_finished_spans() if s.name == "process"}
    for made in (first, second):
        span = handled[made.get_span_context().span_id]
        assert span.context.trace_id == made.get_span_context().trace_id
    assert current.span_id == handled[first.get_span_context().span_id].context.span_id
    for event, made in (("event-1", first), ("event-2", second)):
        with tracing.span("push", parent=inner[event]):
            pass
        push = exported.get_finished_spans()[-1]
        assert push.context.trace_id == made.get_span_context().trace_id
        assert push.parent.span_id == handled[made.get_span_context().span_id].context.span_id


def test_a_batch_no_one_traced_makes_no_span(exported):
    with tracing.handling("process", {"event-1": {}, "event-2": {}}):
        assert tracing.of_event("event-1") == {}
    assert exported.get_finished_spans() == ()


def test_received_keeps_only_the_w3c_fields():
    headers = {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01", "x-event-type": "t"}
    assert tracing.received(headers) == {"traceparent": headers["traceparent"]}
    assert tracing.received(None) == {}


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({}, "post"),
        ({"OTEL_SERVICE_NAME": "posts-eu"}, "posts-eu"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=posts-us,region=us"}, "posts-us"),
    ],
)
def test_the_service_names_itself_unless_the_standard_variables_name_it(monkeypatch, env, name):
    for variable in ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    attributes = tracing.resource_of("post").attributes
    assert attributes["service.name"] == name
    assert str(attributes["service.instance.id"]).endswith(f":{os.getpid()}")  # which replica
